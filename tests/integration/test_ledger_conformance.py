"""The ledger connector runs the standard conformance suite, as any third-party plugin would."""

from __future__ import annotations

import pytest

from connectors.ledger.connector import LedgerConnector
from legacy.ledger.server import LedgerServer
from retrofit.sdk import ActionInputError, AuthError, ConnectorSettings, RetryableError
from retrofit.testing import CallCase, Cases, ConnectorConformance, ErrorCase, WriteCase
from tests.support import inject_fault, ledger_effects


class TestLedgerConformance(ConnectorConformance):
    entry_point = "ledger"

    @pytest.fixture
    def settings(self, ledger: LedgerServer) -> ConnectorSettings:
        return LedgerConnector.load_settings(base_url=ledger.url, api_key=ledger.api_key)

    @pytest.fixture
    def cases(self, ledger: LedgerServer) -> Cases:
        return Cases(
            reads=[CallCase("ledger.get_customer", {"customer_id": "C-1001"})],
            write=WriteCase(
                "ledger.set_credit_limit",
                {"customer_id": "C-1002", "credit_limit": "30000.00"},
                effects=lambda: ledger_effects(ledger)["credit_limit"],
            ),
            errors=[
                ErrorCase("ledger.get_customer", {"customer_id": "C-0000"}, ActionInputError),
                ErrorCase(
                    "ledger.get_customer",
                    {"customer_id": "C-1001"},
                    RetryableError,
                    arrange=lambda: inject_fault(ledger, fail_next=1, status=503),
                ),
                ErrorCase(
                    "ledger.get_customer",
                    {"customer_id": "C-1001"},
                    AuthError,
                    arrange=lambda: inject_fault(ledger, fail_next=1, status=401),
                ),
            ],
            secrets=[ledger.api_key],
            lose_next_answer=lambda: inject_fault(ledger, drop_next=1, drop_after_apply=True),
        )
