"""The CRM (REST) connector runs the standard conformance suite through its entry point."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectors.crm.connector import CrmConnector
from legacy.crm.server import CrmServer
from retrofit.sdk import ActionInputError, AuthError, ConnectorSettings, RetryableError
from retrofit.testing import CallCase, Cases, ConnectorConformance, ErrorCase, WriteCase


def _admin(crm: CrmServer, path: str, body: Any = None) -> Any:
    response = httpx.post(f"{crm.url}/_admin/{path}", json=body, timeout=5)
    response.raise_for_status()
    return response.json()


class TestCrmConformance(ConnectorConformance):
    entry_point = "crm"

    @pytest.fixture
    def settings(self, crm: CrmServer) -> ConnectorSettings:
        return CrmConnector.load_settings(base_url=crm.url, client_secret=crm.client_secret)

    @pytest.fixture
    def cases(self, crm: CrmServer) -> Cases:
        return Cases(
            reads=[
                CallCase("crm.get_account", {"account_id": "A-2003"}),
                CallCase("crm.list_contacts", {"account_id": "A-2003"}),
            ],
            write=WriteCase(
                "crm.add_note",
                {"account_id": "A-2003", "body": "Called about the overdue invoice."},
                effects=lambda: httpx.get(f"{crm.url}/_admin/effects", timeout=5).json()["notes"],
            ),
            errors=[
                ErrorCase("crm.get_account", {"account_id": "A-9999"}, ActionInputError),
                ErrorCase(
                    "crm.get_account",
                    {"account_id": "A-2003"},
                    RetryableError,
                    arrange=lambda: _admin(crm, "faults", {"fail_next": 1, "status": 503}),
                ),
                ErrorCase(
                    "crm.get_account",
                    {"account_id": "A-2003"},
                    AuthError,
                    arrange=lambda: _admin(crm, "faults", {"fail_next": 2, "status": 401}),
                ),
            ],
            secrets=[crm.client_secret],
            # Business requests only: the token request must not be the one that loses its answer.
            lose_next_answer=lambda: _admin(
                crm, "faults", {"drop_next": 1, "drop_after_apply": True, "path_prefix": "/accounts"}
            ),
        )
