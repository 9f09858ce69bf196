"""The ERP connector against the real demo ERP on loopback: real SOAP envelopes, no mocks.

The server is the session-wide `erp` fixture (`conftest.py`), reset around every test; faults are
injected through its `/_admin/faults` control plane.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.erp.connector import ErpConnector, ErpSettings
from connectors.erp.models import (
    ErpCustomer,
    GetCustomer,
    GetInvoice,
    Invoice,
    InvoicePage,
    InvoiceStatus,
    ListInvoices,
    Payment,
    PaymentStatus,
    RecordPayment,
    ReversePayment,
    Voided,
    VoidInvoice,
)
from connectors.soap import clear_wsdl_memo, find_operation, model_mismatches, wsdl_cache_stats
from legacy.erp.server import ErpServer
from retrofit.sdk import (
    ActionInputError,
    AuthError,
    Effect,
    NonRetryableError,
    RetryableError,
    describe_connector,
)
from tests.integration.soap.erp_support import admin, connector_for, running_call

pytestmark = pytest.mark.timeout(30)


# -- reads -----------------------------------------------------------------------------------------


async def test_get_customer(erp_connector: ErpConnector) -> None:
    customer = await erp_connector.get_customer(GetCustomer(customer_id="C-1006"))
    assert customer == ErpCustomer(
        id="C-1006",
        name="Van Dijk Bouwmaterialen B.V.",
        email="crediteuren@vandijk.example",
        currency="EUR",
        credit_limit=Decimal("75000.00"),
        balance=Decimal("74980.50"),
        overdue_balance=Decimal("54980.50"),
        payment_terms_days=30,
        lang="nl",
    )


async def test_list_overdue_invoices_page_by_page(erp_connector: ErpConnector) -> None:
    first = await erp_connector.list_invoices(ListInvoices(overdue_only=True, page_size=5))
    assert (first.page, first.page_size, first.next_page) == (1, 5, 2)
    assert len(first.invoices) == 5 and first.total > 5
    assert all(i.overdue and i.days_overdue > 0 and i.amount_due > 0 for i in first.invoices)
    seen = [i.id for i in first.invoices]
    page = first
    while page.next_page is not None:
        page = await erp_connector.list_invoices(
            ListInvoices(overdue_only=True, page_size=5, page=page.next_page)
        )
        seen += [i.id for i in page.invoices]
    assert len(seen) == len(set(seen)) == first.total


async def test_list_one_customers_invoices_by_status(erp_connector: ErpConnector) -> None:
    page = await erp_connector.list_invoices(ListInvoices(customer_id="C-1003", status=InvoiceStatus.OPEN))
    assert [i.customer_id for i in page.invoices] == ["C-1003", "C-1003"]
    assert all(i.status is InvoiceStatus.OPEN and i.currency == "USD" for i in page.invoices)
    assert page.next_page is None


async def test_get_invoice(erp_connector: ErpConnector) -> None:
    invoice = await erp_connector.get_invoice(GetInvoice(invoice_id="INV-10004"))
    assert (invoice.customer_id, invoice.status, invoice.amount_due) == (
        "C-1002",
        InvoiceStatus.PARTIALLY_PAID,
        Decimal("2200.00"),
    )
    assert invoice.due_date - invoice.issue_date == timedelta(days=30)


# -- writes and idempotency ---------------------------------------------------------------------------


async def test_record_payment_applies_once_per_idempotency_key(
    erp: ErpServer, erp_connector: ErpConnector
) -> None:
    request = RecordPayment(invoice_id="INV-10002", amount=Decimal("1000.00"), reference="SEPA-2291")
    with running_call("wf-erp-test#1"):
        first = await erp_connector.record_payment(request)
        repeated = await erp_connector.record_payment(request)  # what a Temporal retry does

    assert first == repeated
    assert (first.amount, first.status, first.reference) == (
        Decimal("1000.00"),
        PaymentStatus.APPLIED,
        "SEPA-2291",
    )
    assert (first.invoice_status, first.invoice_amount_due) == (
        InvoiceStatus.PARTIALLY_PAID,
        Decimal("2120.75"),
    )
    effects = admin(erp, "GET", "effects")
    assert (effects["payments"], effects["total"], effects["replays"]) == ({"INV-10002": 1}, 1, 1)

    with running_call("wf-erp-test#2"):  # a new step is a new payment
        second = await erp_connector.record_payment(request)
    assert second.id != first.id and second.invoice_amount_due == Decimal("1120.75")


async def test_lost_answer_then_retry_pays_once(erp: ErpServer, erp_connector: ErpConnector) -> None:
    """The payment lands, its answer is lost; the retry with the same key gets the original answer."""
    admin(erp, "POST", "faults", {"drop_next": 1, "drop_after_apply": True})
    request = RecordPayment(invoice_id="INV-10016", amount=Decimal("24980.50"))
    with running_call("wf-erp-test#lost"):
        with pytest.raises(RetryableError, match="failed in transit"):
            await erp_connector.record_payment(request)
        assert admin(erp, "GET", "effects")["payments"] == {"INV-10016": 1}  # it did land
        retried = await erp_connector.record_payment(request)
    assert (retried.invoice_status, retried.invoice_amount_due) == (InvoiceStatus.PAID, Decimal("0.00"))
    assert admin(erp, "GET", "effects")["payments"] == {"INV-10016": 1}


async def test_reverse_a_payment(erp: ErpServer, erp_connector: ErpConnector) -> None:
    with running_call("wf-erp-test#pay"):
        payment = await erp_connector.record_payment(
            RecordPayment(invoice_id="INV-10005", amount=Decimal("30.10"))
        )
    with running_call("wf-erp-test#reverse", action="erp.reverse_payment"):
        reversed_ = await erp_connector.reverse_payment(
            ReversePayment(payment_id=payment.id, reason="bounced")
        )
    assert reversed_.status is PaymentStatus.REVERSED
    assert reversed_.invoice_amount_due == Decimal("4530.10")
    assert admin(erp, "GET", "effects")["reversals"] == {"INV-10005": 1}


async def test_void_invoice(erp: ErpServer, erp_connector: ErpConnector) -> None:
    with running_call("wf-erp-test#void", action="erp.void_invoice"):
        voided = await erp_connector.void_invoice(VoidInvoice(invoice_id="INV-10003", reason="issued twice"))
        # A retry after a lost answer gets the first answer, not an "already void" fault.
        assert (
            await erp_connector.void_invoice(VoidInvoice(invoice_id="INV-10003", reason="issued twice"))
            == voided
        )
    assert voided.invoice.status is InvoiceStatus.VOID and voided.invoice.void_reason == "issued twice"
    assert voided.invoice.amount_due == Decimal("0.00")
    assert admin(erp, "GET", "effects")["voids"] == {"INV-10003": 1}


async def test_writes_need_a_running_call(erp_connector: ErpConnector) -> None:
    with pytest.raises(RuntimeError, match="current_call"):
        await erp_connector.record_payment(RecordPayment(invoice_id="INV-10002", amount=Decimal("1.00")))


# -- error mapping ------------------------------------------------------------------------------------


async def test_wrong_password_is_an_auth_error_that_names_no_secret(erp: ErpServer) -> None:
    wrong = "wrong-password-7f3a"
    connector = connector_for(erp, password=wrong)
    await connector.open()
    try:
        with (
            running_call("wf-erp-test#auth", action="erp.get_customer") as call,
            pytest.raises(AuthError) as caught,
        ):
            await connector.get_customer(GetCustomer(customer_id="C-1001"))
    finally:
        await connector.close()
    assert "FailedAuthentication" in caught.value.message and not caught.value.retryable
    recorded = json.dumps(call.exchanges)
    for text in (str(caught.value), caught.value.details or "", recorded):
        assert wrong not in text and erp.password is not None and erp.password not in text
    assert call.exchanges[0]["fault"] == "wsse:FailedAuthentication"


async def test_unknown_customer_is_an_input_error(erp_connector: ErpConnector) -> None:
    with pytest.raises(ActionInputError) as caught:
        await erp_connector.get_customer(GetCustomer(customer_id="C-9999"))
    assert caught.value.message == "erp GetCustomer: SOAP fault soap:Client: customer 'C-9999' not found"
    assert not caught.value.retryable


async def test_refused_payment_is_an_input_error(erp_connector: ErpConnector) -> None:
    with running_call("wf-erp-test#over"), pytest.raises(ActionInputError, match="exceeds"):
        await erp_connector.record_payment(RecordPayment(invoice_id="INV-10002", amount=Decimal("50000.00")))


async def test_server_fault_is_retryable_and_the_retry_succeeds(
    erp: ErpServer, erp_connector: ErpConnector
) -> None:
    admin(erp, "POST", "faults", {"fail_next": 1})
    with pytest.raises(RetryableError) as caught:
        await erp_connector.get_customer(GetCustomer(customer_id="C-1001"))
    assert "soap:Server" in caught.value.message
    # The fault was for one request only: the retry Temporal would make succeeds.
    assert (await erp_connector.get_customer(GetCustomer(customer_id="C-1001"))).id == "C-1001"


@pytest.mark.parametrize(("status", "retry_after"), [(503, 2), (429, 7), (502, None)])
async def test_http_errors_are_retryable_with_retry_after(
    erp: ErpServer, erp_connector: ErpConnector, status: int, retry_after: int | None
) -> None:
    admin(
        erp,
        "POST",
        "faults",
        {"fail_next": 1, "failure": "http", "status": status, "retry_after": retry_after},
    )
    with pytest.raises(RetryableError) as caught:
        await erp_connector.get_customer(GetCustomer(customer_id="C-1001"))
    assert str(status) in caught.value.message
    assert caught.value.retry_after == (None if retry_after is None else timedelta(seconds=retry_after))
    assert (await erp_connector.get_customer(GetCustomer(customer_id="C-1001"))).id == "C-1001"


async def test_timeout_is_retryable_and_captured(erp: ErpServer) -> None:
    admin(erp, "POST", "faults", {"latency_ms": 800})
    connector = connector_for(erp, timeout_seconds=0.2)
    await connector.open()  # the WSDL download is spared by the fault plan
    try:
        with running_call("wf-erp-test#slow", action="erp.get_customer") as call:
            started = time.perf_counter()
            with pytest.raises(RetryableError, match="timed out"):
                await connector.get_customer(GetCustomer(customer_id="C-1001"))
            assert time.perf_counter() - started < 0.7
    finally:
        await connector.close()
    (record,) = call.exchanges
    assert record["http_status"] is None and record["response"] is None
    assert "ReadTimeout" in record["error"] and "GetCustomer" in record["request"]


async def test_dropped_connection_is_retryable(erp: ErpServer, erp_connector: ErpConnector) -> None:
    admin(erp, "POST", "faults", {"drop_next": 1})
    with pytest.raises(RetryableError, match="failed in transit"):
        await erp_connector.get_customer(GetCustomer(customer_id="C-1001"))


async def test_unreachable_erp_at_start_defers_to_the_first_call(erp: ErpServer) -> None:
    """A worker starts even when the ERP is down; calls fail retryably until it is back."""
    connector = connector_for(erp, wsdl="http://127.0.0.1:9/erp?wsdl", wsdl_timeout_seconds=1)
    await connector.open()
    try:
        with pytest.raises(RetryableError, match="WSDL is unavailable"):
            await connector.get_customer(GetCustomer(customer_id="C-1001"))
    finally:
        await connector.close()


async def test_connector_bugs_are_not_retried(erp_connector: ErpConnector) -> None:
    with pytest.raises(NonRetryableError, match="no SOAP operation 'Explode'"):
        await erp_connector.call_raw("Explode")
    with pytest.raises(NonRetryableError, match=r"model does not fit the WSDL.*'customer' is not part"):
        await erp_connector.call_raw("GetCustomer", {"customer": "C-1001"})


# -- capture ---------------------------------------------------------------------------------------


async def test_exchanges_are_captured_without_credentials(
    erp: ErpServer, erp_connector: ErpConnector
) -> None:
    with running_call("wf-erp-test#capture") as call:
        await erp_connector.record_payment(RecordPayment(invoice_id="INV-10002", amount=Decimal("5.00")))
    (record,) = call.exchanges
    assert record["protocol"] == "soap" and record["operation"] == "RecordPayment"
    assert record["endpoint"] == f"{erp.url}/erp" and record["http_status"] == 200
    assert "wf-erp-test#capture" in record["request"]  # the idempotency key travels, visibly
    assert "UsernameToken>[REDACTED]<" in record["request"]
    assert "PAY-000001" in record["response"]
    assert erp.password is not None and erp.password not in json.dumps(call.exchanges)


# -- the WSDL, parsed once --------------------------------------------------------------------------------


async def test_wsdl_is_parsed_once_per_process(erp: ErpServer) -> None:
    clear_wsdl_memo()
    before = wsdl_cache_stats()
    first, second = connector_for(erp), connector_for(erp)
    await first.open()
    started = time.perf_counter()
    await second.open()
    second_open = time.perf_counter() - started
    try:
        after = wsdl_cache_stats()
        assert (after.parsed - before.parsed, after.memo_hits - before.memo_hits) == (1, 1)
        assert first.document is second.document
        assert second_open < 0.5
        assert (await second.get_customer(GetCustomer(customer_id="C-1004"))).currency == "EUR"
    finally:
        await first.close()
        await second.close()


async def test_persistent_wsdl_cache_serves_a_cold_worker(erp: ErpServer, tmp_path: Path) -> None:
    clear_wsdl_memo()
    before = wsdl_cache_stats()
    warm_up = connector_for(erp, wsdl_cache_dir=tmp_path)
    await warm_up.open()
    await warm_up.close()
    clear_wsdl_memo()  # a new worker process
    cold = connector_for(erp, wsdl_cache_dir=tmp_path)
    await cold.open()
    try:
        after = wsdl_cache_stats()
        assert (after.parsed - before.parsed, after.disk_hits - before.disk_hits) == (1, 1)
        assert (await cold.get_customer(GetCustomer(customer_id="C-1001"))).lang == "de"
    finally:
        await cold.close()


async def test_models_match_the_live_wsdl(erp_connector: ErpConnector) -> None:
    pairs: list[tuple[str, Any, Any]] = [
        ("GetCustomer", GetCustomer, ErpCustomer),
        ("ListInvoices", ListInvoices, InvoicePage),
        ("GetInvoice", GetInvoice, Invoice),
        ("RecordPayment", RecordPayment, Payment),
        ("ReversePayment", ReversePayment, Payment),
        ("VoidInvoice", VoidInvoice, Voided),
    ]
    for operation, input_model, output_model in pairs:
        assert (
            model_mismatches(find_operation(erp_connector.document, operation), input_model, output_model)
            == []
        )


# -- description and settings ---------------------------------------------------------------------


def test_describe_connector() -> None:
    spec = describe_connector(ErpConnector, plugin="test")
    assert spec.name == "erp" and spec.description.startswith("Demo ERP (SOAP)")
    assert {a.method: a.effect for a in spec.actions} == {
        "get_customer": Effect.READ,
        "list_invoices": Effect.READ,
        "get_invoice": Effect.READ,
        "record_payment": Effect.WRITE,
        "reverse_payment": Effect.WRITE,
        "void_invoice": Effect.DESTRUCTIVE,
    }
    assert {a.method: a.compensate for a in spec.actions}["record_payment"] == "erp.reverse_payment"
    for spec_action in spec.actions:
        assert spec_action.description and "\n" not in spec_action.description


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETROFIT_ERP_WSDL", "https://erp.internal/soap?wsdl")
    monkeypatch.setenv("RETROFIT_ERP_USERNAME", "svc-retrofit")
    monkeypatch.setenv("RETROFIT_ERP_PASSWORD", "from-env-91b2")
    monkeypatch.setenv("RETROFIT_ERP_TIMEOUT_SECONDS", "2.5")
    monkeypatch.setenv("RETROFIT_ERP_WSDL_CACHE_DIR", "/var/cache/retrofit/wsdl")
    settings = ErpConnector.load_settings()
    assert isinstance(settings, ErpSettings)
    assert settings.wsdl == "https://erp.internal/soap?wsdl"
    assert settings.password is not None and settings.password.get_secret_value() == "from-env-91b2"
    assert (settings.username, settings.timeout_seconds) == ("svc-retrofit", 2.5)
    assert settings.wsdl_cache_dir == Path("/var/cache/retrofit/wsdl")
    assert "from-env-91b2" not in repr(settings)


def test_defaults_fit_the_demo_erp() -> None:
    settings = ErpSettings()
    assert settings.wsdl == "http://127.0.0.1:8702/erp?wsdl"
    assert settings.username == "retrofit"


def test_connector_refuses_foreign_settings() -> None:
    with pytest.raises(TypeError, match="SoapSettings"):
        ErpConnector(NonRetryableError("not settings"))  # type: ignore[arg-type]
