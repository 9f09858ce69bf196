"""The ERP connector runs the standard conformance suite, as any third-party plugin would.

It loads the connector through its `retrofit.connectors` entry point, so it runs once
`erp = "connectors.erp.connector:ErpConnector"` is registered (and the project reinstalled).
"""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from connectors.erp.connector import ErpConnector
from legacy.erp.server import ErpServer
from retrofit.sdk import ActionInputError, ConnectorSettings, RetryableError
from retrofit.testing import CallCase, Cases, ConnectorConformance, ErrorCase, WriteCase
from tests.integration.soap.erp_support import admin

_REGISTERED = bool(entry_points(group="retrofit.connectors", name="erp"))

pytestmark = pytest.mark.skipif(not _REGISTERED, reason="entry point `erp` not registered yet")


class TestErpConformance(ConnectorConformance):
    entry_point = "erp"

    @pytest.fixture
    def settings(self, erp: ErpServer) -> ConnectorSettings:
        return ErpConnector.load_settings(wsdl=erp.wsdl_url, username=erp.username, password=erp.password)

    @pytest.fixture
    def cases(self, erp: ErpServer) -> Cases:
        assert erp.password is not None
        return Cases(
            reads=[
                CallCase("erp.get_customer", {"customer_id": "C-1006"}),
                CallCase("erp.list_invoices", {"overdue_only": True, "page_size": 5}),
                CallCase("erp.get_invoice", {"invoice_id": "INV-10004"}),
            ],
            write=WriteCase(
                "erp.record_payment",
                {"invoice_id": "INV-10002", "amount": "250.00", "reference": "conformance"},
                effects=lambda: admin(erp, "GET", "effects")["payments"],
            ),
            errors=[
                ErrorCase("erp.get_customer", {"customer_id": "C-0000"}, ActionInputError),
                ErrorCase(
                    "erp.get_customer",
                    {"customer_id": "C-1001"},
                    RetryableError,
                    arrange=lambda: admin(erp, "POST", "faults", {"fail_next": 1}),
                ),
                ErrorCase(
                    "erp.get_customer",
                    {"customer_id": "C-1001"},
                    RetryableError,
                    arrange=lambda: admin(erp, "POST", "faults", {"fail_next": 1, "failure": "http"}),
                ),
            ],
            secrets=[erp.password],
        )
