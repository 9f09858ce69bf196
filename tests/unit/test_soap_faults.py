"""`soap_error`: every SOAP failure becomes the right Retrofit error, once, in one function."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from lxml import etree  # type: ignore[import-untyped]
from zeep import exceptions as zeep_errors

from connectors.soap import WsdlFetchError, soap_error
from connectors.soap.faults import parse_retry_after
from connectors.soap.signatures import ArgumentMismatch
from retrofit.sdk import (
    ActionInputError,
    AuthError,
    Delivery,
    NonRetryableError,
    NotSentError,
    OutcomeUnknownError,
    RetrofitError,
    RetryableError,
)


def fault(code: str | None, message: str = "refused", detail: str | None = None) -> zeep_errors.Fault:
    detail_element = None if detail is None else etree.fromstring(detail)
    return zeep_errors.Fault(message, code=code, detail=detail_element)


SALESFORCE_DETAIL = (
    '<detail><sf:UnexpectedErrorFault xmlns:sf="urn:fault.partner.soap.sforce.com">'
    "<sf:exceptionCode>INVALID_SESSION_ID</sf:exceptionCode>"
    "<sf:exceptionMessage>Invalid Session ID found in SessionHeader</sf:exceptionMessage>"
    "</sf:UnexpectedErrorFault></detail>"
)
NETSUITE_LOGIN_DETAIL = (
    '<detail><platformFaults:invalidCredentialsFault xmlns:platformFaults="urn:faults_2023_2">'
    "<platformFaults:code>INVALID_LOGIN_CREDENTIALS</platformFaults:code>"
    "</platformFaults:invalidCredentialsFault></detail>"
)
ERP_OUTAGE_DETAIL = (
    '<detail><erp:ErpFault xmlns:erp="urn:retrofit:demo:erp:v1"><erp:code>SERVICE_UNAVAILABLE</erp:code>'
    "</erp:ErpFault></detail>"
)


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (fault("soap:Client"), ActionInputError),
        (fault("soapenv:Client.InvalidArgument"), ActionInputError),
        (fault("{http://www.w3.org/2003/05/soap-envelope}Sender"), ActionInputError),
        (fault("soap:Server"), RetryableError),
        (fault("env:Receiver"), RetryableError),
        (fault("soap:VersionMismatch"), NonRetryableError),
        (fault("soap:MustUnderstand"), NonRetryableError),
        (fault("sf:INVALID_SESSION_ID"), AuthError),
        (fault("sf:INVALID_LOGIN"), AuthError),
        (fault("wsse:FailedAuthentication", "authentication failed"), AuthError),
        (fault("soap:Client.Authentication"), AuthError),
        (fault("soapenv:Server", detail=SALESFORCE_DETAIL), AuthError),
        (fault("soapenv:Server.userException", detail=NETSUITE_LOGIN_DETAIL), AuthError),
        (fault("soapenv:Server.userException"), ActionInputError),  # Axis' application errors
        (fault("sf:REQUEST_LIMIT_EXCEEDED"), RetryableError),
        (fault("sf:UNABLE_TO_LOCK_ROW"), RetryableError),
        (fault("soap:Server", detail=ERP_OUTAGE_DETAIL), RetryableError),
        (fault("sf:MALFORMED_QUERY"), ActionInputError),  # unknown vendor code: a refusal
        (httpx.ReadTimeout("slow"), OutcomeUnknownError),  # sent: the call may have landed
        (httpx.ConnectTimeout("slow to connect"), NotSentError),
        (httpx.ConnectError("refused"), NotSentError),
        (httpx.RemoteProtocolError("peer closed connection"), OutcomeUnknownError),
        (zeep_errors.TransportError("bad gateway", status_code=502), RetryableError),
        (zeep_errors.TransportError("no", status_code=401), AuthError),
        (zeep_errors.TransportError("not found", status_code=404), NonRetryableError),
        (zeep_errors.ValidationError("Missing element customerId"), ActionInputError),
        (zeep_errors.XMLSyntaxError("Invalid XML content received"), NonRetryableError),
        (ArgumentMismatch("'nope' is not part of the message"), NonRetryableError),
        (WsdlFetchError("http://erp/?wsdl", "HTTP 503", transient=True), RetryableError),
        (WsdlFetchError("http://erp/?wsdl", "HTTP 404", transient=False), NonRetryableError),
    ],
)
def test_classification(failure: BaseException, expected: type[RetrofitError]) -> None:
    error = soap_error("GetCustomer", failure, service="erp")
    assert type(error) is expected
    assert error.message.startswith("erp GetCustomer")


@pytest.mark.parametrize(
    ("failure", "delivery"),
    [
        (fault("soap:Server", detail=ERP_OUTAGE_DETAIL), Delivery.ANSWERED),  # the service's own answer
        (fault("sf:REQUEST_LIMIT_EXCEEDED"), Delivery.ANSWERED),
        (zeep_errors.TransportError("unavailable", status_code=503), Delivery.ANSWERED),
        (zeep_errors.TransportError("bad gateway", status_code=502), Delivery.UNKNOWN),  # a gateway's
        (httpx.ReadTimeout("slow"), Delivery.UNKNOWN),
        (httpx.ConnectError("refused"), Delivery.NOT_SENT),
        (WsdlFetchError("http://erp/?wsdl", "HTTP 503", transient=True), Delivery.NOT_SENT),
    ],
)
def test_each_failure_says_whether_the_call_may_have_landed(
    failure: BaseException, delivery: Delivery
) -> None:
    assert soap_error("SetCreditLimit", failure, service="erp").delivery is delivery


def test_fault_messages_name_the_code_and_quote_a_short_excerpt() -> None:
    error = soap_error("query", fault("sf:MALFORMED_QUERY", "unexpected token: " + "x" * 500), service="sf")
    assert "sf:MALFORMED_QUERY" in error.message
    assert error.details is not None and len(error.details) <= 200 and error.details.endswith("…")


@pytest.mark.parametrize("status", [429, 408])
def test_throttling_is_retryable_even_with_a_client_fault(status: int) -> None:
    error = soap_error("GetCustomer", fault("soap:Client"), http_status=status, retry_after="7")
    assert isinstance(error, RetryableError)
    assert error.retry_after == timedelta(seconds=7)


def test_server_faults_and_5xx_honour_retry_after() -> None:
    server_fault = soap_error("GetCustomer", fault("soap:Server"), http_status=500, retry_after="3")
    assert isinstance(server_fault, RetryableError) and server_fault.retry_after == timedelta(seconds=3)
    unavailable = soap_error(
        "GetCustomer", zeep_errors.TransportError("x", status_code=503), http_status=503, retry_after="2"
    )
    assert isinstance(unavailable, RetryableError) and unavailable.retry_after == timedelta(seconds=2)
    assert "503" in unavailable.message


def test_retry_after_as_seconds_or_http_date() -> None:
    assert parse_retry_after("120") == timedelta(seconds=120)
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == timedelta(0)  # in the past
