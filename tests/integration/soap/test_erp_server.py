"""The demo ERP's own contract, checked on the wire with hand-written SOAP (no zeep in between)."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest
from lxml import etree  # type: ignore[import-untyped]

from legacy.erp.envelopes import SOAP_ENV
from legacy.erp.server import ErpServer
from legacy.erp.store import ErpState, InvoiceStatus
from legacy.erp.wsdl import NAMESPACE
from tests.integration.soap.erp_support import admin, http, soap_post

pytestmark = pytest.mark.timeout(30)

ERP = f"{{{NAMESPACE}}}"


def fault_of(response: httpx.Response) -> tuple[str, str, str | None]:
    """(faultcode, faultstring, detail code) of a SOAP 1.1 fault answer."""
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/xml")
    fault = etree.fromstring(response.content).find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
    assert fault is not None
    return (
        fault.findtext("faultcode"),
        fault.findtext("faultstring"),
        fault.findtext(f"detail/{ERP}ErpFault/{ERP}code"),
    )


def body_of(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return etree.fromstring(response.content).find(f"{{{SOAP_ENV}}}Body")[0]


def test_server_starts_quickly(record_property: Any) -> None:
    with ErpServer() as server:
        assert server.wsdl_url.startswith("http://127.0.0.1:")
        assert http.get(f"{server.url}/_admin/health").json() == {"status": "ok"}
        startup = server.startup_seconds
    assert startup is not None
    record_property("erp_startup_seconds", round(startup, 4))
    assert startup < 2.0


def test_seed_data_is_realistic() -> None:
    state = ErpState(clock=lambda: date(2025, 3, 31))
    invoices, total = state.list_invoices(
        customer_id=None, status=None, overdue_only=False, offset=0, limit=100
    )
    assert total == 30 and len({i.customer_id for i in invoices}) == 10
    overdue, overdue_total = state.list_invoices(
        customer_id=None, status=None, overdue_only=True, offset=0, limit=100
    )
    assert 8 <= overdue_total < total
    assert all(i.due_date < date(2025, 3, 31) and i.amount_due > 0 for i in overdue)
    assert {i.status for i in invoices} == {
        InvoiceStatus.OPEN,
        InvoiceStatus.PARTIALLY_PAID,
        InvoiceStatus.PAID,
    }


def test_wsdl_points_back_at_the_server(erp: ErpServer) -> None:
    response = http.get(erp.wsdl_url)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/xml")
    wsdl = etree.fromstring(response.content)
    address = wsdl.find(".//{http://schemas.xmlsoap.org/wsdl/soap/}address")
    assert address.get("location") == f"{erp.url}/erp"
    operations = {op.get("name") for op in wsdl.findall("{http://schemas.xmlsoap.org/wsdl/}portType/*")}
    assert operations == {
        "GetCustomer",
        "ListInvoices",
        "GetInvoice",
        "RecordPayment",
        "ReversePayment",
        "VoidInvoice",
    }
    assert http.get(f"{erp.url}/erp").status_code == 405


def test_get_customer_answers_a_soap_envelope(erp: ErpServer) -> None:
    customer = body_of(soap_post(erp, "GetCustomer", "<erp:customerId>C-1006</erp:customerId>"))[0]
    assert customer.tag == f"{ERP}customer"
    assert customer.get("{http://www.w3.org/XML/1998/namespace}lang") == "nl"
    assert customer.findtext(f"{ERP}name") == "Van Dijk Bouwmaterialen B.V."
    assert customer.findtext(f"{ERP}creditLimit") == "75000.00"


@pytest.mark.parametrize(
    ("username", "password"), [("", ""), ("retrofit", "wrong-password"), ("mallory", "demo-erp-password")]
)
def test_missing_or_wrong_credentials_are_a_security_fault(
    erp: ErpServer, username: str, password: str
) -> None:
    response = soap_post(
        erp, "GetCustomer", "<erp:customerId>C-1001</erp:customerId>", username=username, password=password
    )
    assert fault_of(response)[:2] == ("wsse:FailedAuthentication", "authentication failed")


def test_bad_input_and_unknown_ids_are_client_faults(erp: ErpServer) -> None:
    assert fault_of(soap_post(erp, "GetCustomer", "<erp:customerId>C-9999</erp:customerId>")) == (
        "soap:Client",
        "customer 'C-9999' not found",
        "UNKNOWN_CUSTOMER",
    )
    assert fault_of(soap_post(erp, "GetCustomer", ""))[2] == "INVALID_ARGUMENT"
    assert fault_of(soap_post(erp, "ListInvoices", "<erp:status>LATE</erp:status>"))[2] == "INVALID_ARGUMENT"
    assert fault_of(soap_post(erp, "Explode", ""))[2] == "UNKNOWN_OPERATION"
    amount_with_cents = "<erp:invoiceId>INV-10002</erp:invoiceId><erp:amount>1.005</erp:amount>"
    assert fault_of(soap_post(erp, "RecordPayment", amount_with_cents))[2] == "INVALID_ARGUMENT"


def test_hostile_xml_is_refused(erp: ErpServer) -> None:
    xxe = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>&e;</soap:Body></soap:Envelope>'
    )
    response = http.post(f"{erp.url}/erp", content=xxe, headers={"Content-Type": "text/xml"})
    code, _, detail = fault_of(response)
    assert (code, detail) == ("soap:Client", "MALFORMED_REQUEST")
    assert "root:" not in response.text


def test_paging_and_overdue_filter(erp: ErpServer) -> None:
    page = body_of(
        soap_post(
            erp, "ListInvoices", "<erp:overdueOnly>true</erp:overdueOnly><erp:pageSize>5</erp:pageSize>"
        )
    )
    invoices = page.findall(f"{ERP}invoices")
    assert len(invoices) == 5 and page.findtext(f"{ERP}nextPage") == "2"
    assert all(i.findtext(f"{ERP}overdue") == "true" for i in invoices)
    days = [int(i.findtext(f"{ERP}daysOverdue")) for i in invoices]
    assert days == sorted(days, reverse=True)  # oldest due date first


def test_writes_are_idempotent_per_key(erp: ErpServer) -> None:
    payment = "<erp:invoiceId>INV-10002</erp:invoiceId><erp:amount>120.75</erp:amount>"
    first = soap_post(erp, "RecordPayment", payment + "<erp:idempotencyKey>k-1</erp:idempotencyKey>")
    again = soap_post(erp, "RecordPayment", payment + "<erp:idempotencyKey>k-1</erp:idempotencyKey>")
    assert body_of(first).findtext(f"{ERP}payment/{ERP}id") == "PAY-000001"
    assert again.content == first.content
    other = "<erp:invoiceId>INV-10002</erp:invoiceId><erp:amount>1.00</erp:amount><erp:idempotencyKey>k-1</erp:idempotencyKey>"
    assert fault_of(soap_post(erp, "RecordPayment", other))[2] == "IDEMPOTENCY_KEY_REUSED"
    # Without a key every request is a new payment, as in many real ERPs.
    soap_post(erp, "RecordPayment", payment)
    assert admin(erp, "GET", "effects") == {
        "payments": {"INV-10002": 2},
        "reversals": {},
        "voids": {},
        "total": 2,
        "replays": 1,
    }


def test_business_rules(erp: ErpServer) -> None:
    overpay = "<erp:invoiceId>INV-10002</erp:invoiceId><erp:amount>99999.00</erp:amount>"
    assert fault_of(soap_post(erp, "RecordPayment", overpay))[2] == "OVERPAYMENT"
    # INV-10004 is partly paid: voiding it would lose the payment.
    void = "<erp:invoiceId>INV-10004</erp:invoiceId><erp:reason>duplicate</erp:reason>"
    assert fault_of(soap_post(erp, "VoidInvoice", void))[2] == "INVOICE_HAS_PAYMENTS"


def test_faults_spare_the_wsdl_and_the_control_plane(erp: ErpServer) -> None:
    admin(erp, "POST", "faults", {"fail_next": 5, "drop_next": 5})
    assert http.get(erp.wsdl_url).status_code == 200
    assert admin(erp, "GET", "health") == {"status": "ok"}
    assert admin(erp, "GET", "faults")["drop_next"] == 5
    assert http.post(f"{erp.url}/_admin/faults", json={"fail_nxt": 1}).status_code == 400


def test_injected_failures(erp: ErpServer) -> None:
    admin(erp, "POST", "faults", {"fail_next": 1, "retry_after": 3})
    answer = soap_post(erp, "GetCustomer", "<erp:customerId>C-1001</erp:customerId>")
    assert fault_of(answer) == ("soap:Server", "the ERP database is not answering", "SERVICE_UNAVAILABLE")
    assert answer.headers["retry-after"] == "3"

    admin(erp, "POST", "faults", {"fail_next": 1, "failure": "http", "status": 503, "retry_after": 2})
    unavailable = soap_post(erp, "GetCustomer", "<erp:customerId>C-1001</erp:customerId>")
    assert (unavailable.status_code, unavailable.headers["retry-after"]) == (503, "2")

    admin(erp, "POST", "faults", {"drop_next": 1})
    # A drop is a close with no answer; the kernel reports it as a reset (ReadError) instead when
    # the close races the rest of the request still arriving — both are "no answer came".
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        soap_post(erp, "GetCustomer", "<erp:customerId>C-1001</erp:customerId>")
    assert body_of(soap_post(erp, "GetCustomer", "<erp:customerId>C-1001</erp:customerId>")) is not None
