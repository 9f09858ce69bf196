"""SoapConnector against in-process fakes (`httpx.MockTransport`): WSDL over HTTP, hostile answers."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx
import pytest

from connectors.soap import SoapConnector, SoapSettings
from legacy.erp.wsdl import render_wsdl
from retrofit.sdk import NonRetryableError, RetryableError

WSDL_URL = "http://erp.test/erp?wsdl"
ENDPOINT = "http://erp.test/erp"


class Erp(SoapConnector):
    """The demo ERP's WSDL, served by a fake."""

    name = "fake_erp"


class FlakyWsdlServer:
    """Serves the WSDL, after answering 503 `failures` times."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.requests = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.requests <= self.failures:
            return httpx.Response(503, text="restarting")
        return httpx.Response(200, content=render_wsdl(ENDPOINT), headers={"Content-Type": "text/xml"})


def connector(answer: httpx.Response, *, wsdl_failures: int = 0) -> tuple[Erp, FlakyWsdlServer]:
    wsdl_server = FlakyWsdlServer(wsdl_failures)
    settings = SoapSettings(wsdl=WSDL_URL)
    erp = Erp(
        settings,
        http_transport=httpx.MockTransport(lambda request: answer),
        wsdl_http_transport=httpx.MockTransport(wsdl_server),
    )
    return erp, wsdl_server


async def test_wsdl_unavailable_at_open_is_fetched_on_first_call() -> None:
    customer = (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:erp="urn:retrofit:demo:erp:v1">'
        "<soap:Body><erp:GetCustomerResponse><erp:customer><erp:id>C-1</erp:id><erp:name>N</erp:name>"
        "<erp:currency>EUR</erp:currency><erp:creditLimit>1.00</erp:creditLimit><erp:balance>0.00</erp:balance>"
        "<erp:overdueBalance>0.00</erp:overdueBalance><erp:paymentTermsDays>30</erp:paymentTermsDays>"
        "</erp:customer></erp:GetCustomerResponse></soap:Body></soap:Envelope>"
    )
    erp, wsdl_server = connector(httpx.Response(200, text=customer), wsdl_failures=2)
    await erp.open()  # 503: logged, deferred
    try:
        with pytest.raises(RetryableError, match="WSDL is unavailable"):
            await erp.call_raw("GetCustomer", {"customer_id": "C-1"})
        answer = await erp.call_raw("GetCustomer", {"customer_id": "C-1"})
    finally:
        await erp.close()
    assert answer == {
        "customer": {
            "id": "C-1",
            "name": "N",
            "email": None,
            "currency": "EUR",
            "credit_limit": Decimal("1.00"),
            "balance": Decimal("0.00"),
            "overdue_balance": Decimal("0.00"),
            "payment_terms_days": 30,
            "lang": None,
        }
    }
    assert wsdl_server.requests == 3


async def test_a_proxy_error_page_is_retryable_with_retry_after() -> None:
    page = httpx.Response(503, text="<html><body>upstream down</body></html>", headers={"Retry-After": "4"})
    erp, _ = connector(page)
    await erp.open()
    try:
        with pytest.raises(RetryableError) as caught:
            await erp.call_raw("GetCustomer", {"customer_id": "C-1"})
    finally:
        await erp.close()
    assert "HTTP 503" in caught.value.message and caught.value.retry_after == timedelta(seconds=4)


async def test_answers_with_a_doctype_are_refused() -> None:
    xxe = (
        '<?xml version="1.0"?><!DOCTYPE e [<!ELEMENT e ANY>]>'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/></soap:Envelope>'
    )
    erp, _ = connector(httpx.Response(200, text=xxe, headers={"Content-Type": "text/xml"}))
    await erp.open()
    try:
        with pytest.raises(NonRetryableError, match="DTDForbidden"):
            await erp.call_raw("GetCustomer", {"customer_id": "C-1"})
    finally:
        await erp.close()
