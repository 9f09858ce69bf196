"""Audit capture of SOAP exchanges: what a connector sends and receives, with every secret removed.

Runs a SOAP connector over the real Salesforce Partner WSDL against an in-process fake of the
service (`httpx.MockTransport`), so the envelopes are exactly what zeep sends on the wire.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from xml.sax.saxutils import escape

import httpx
import pytest
from lxml import etree  # type: ignore[import-untyped]
from pydantic import SecretStr

from connectors.soap import SoapConnector, SoapSettings, redact_envelope
from retrofit.redaction import REDACTED
from retrofit.sdk.context import ActionContext, bind_call, unbind_call
from tests.shared_data import needs_shared_data, shared_data

SALESFORCE = shared_data("wsdl", "salesforce-partner-v58.wsdl")
pytestmark = needs_shared_data("wsdl", "salesforce-partner-v58.wsdl")

PASSWORD = "Tr0ub4dor&3-not-for-logs"
SESSION_ID = "00Dxx0000001gPL!AQ4AQJ0dMHZfz972Szmpkb58urFRkgeBGsxL_secret"
ENDPOINT = "https://login.salesforce.test/services/Soap/u/58.0"

_ENVELOPE = (
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns="urn:partner.soap.sforce.com" xmlns:sf="urn:sobject.partner.soap.sforce.com" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">{header}<soapenv:Body>{body}</soapenv:Body>'
    "</soapenv:Envelope>"
)
LOGIN_RESPONSE = _ENVELOPE.format(
    header="",
    body=(
        "<loginResponse><result><metadataServerUrl>https://acme.my.salesforce.test/services/Soap/m/58.0"
        "</metadataServerUrl><passwordExpired>false</passwordExpired><sandbox>false</sandbox>"
        f"<serverUrl>https://acme.my.salesforce.test/services/Soap/u/58.0</serverUrl><sessionId>{SESSION_ID}"
        "</sessionId><userId>005xx000001Sv6eAAC</userId></result></loginResponse>"
    ),
)
QUERY_RESPONSE = _ENVELOPE.format(
    header=(
        "<soapenv:Header><LimitInfoHeader><limitInfo><current>12</current><limit>15000</limit>"
        "<type>API REQUESTS</type></limitInfo></LimitInfoHeader></soapenv:Header>"
    ),
    body=(
        '<queryResponse><result xsi:type="QueryResult"><done>true</done><queryLocator xsi:nil="true"/>'
        '<records xsi:type="sf:sObject"><sf:type>Account</sf:type><sf:Id>001xx000003DGb2AAG</sf:Id>'
        "<sf:Name>Acme Corp</sf:Name></records><size>1</size></result></queryResponse>"
    ),
)


class FakeSalesforce:
    """Answers login and query like Salesforce does, and keeps what it received."""

    def __init__(self) -> None:
        self.received: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = request.content.decode()
        self.received.append(body)
        answer = LOGIN_RESPONSE if "<ns0:login>" in body or ":login>" in body else QUERY_RESPONSE
        return httpx.Response(200, text=answer, headers={"Content-Type": "text/xml; charset=utf-8"})


class Salesforce(SoapConnector):
    """Salesforce Partner API (test double of a real integrator's connector)."""

    name = "salesforce"


@contextmanager
def running_call() -> Iterator[ActionContext]:
    context = ActionContext("salesforce.query", "wf#1", "wf", "run", 1, 1)
    token = bind_call(context)
    try:
        yield context
    finally:
        unbind_call(token)


@pytest.fixture
async def salesforce() -> Any:
    fake = FakeSalesforce()
    settings = SoapSettings(
        wsdl=str(SALESFORCE),
        endpoint=ENDPOINT,
        username="integration@acme.test",
        password=SecretStr(PASSWORD),
    )
    connector = Salesforce(settings, http_transport=httpx.MockTransport(fake))
    await connector.open()
    try:
        yield connector, fake
    finally:
        await connector.close()


async def test_password_and_session_id_never_reach_the_audit_trail(salesforce: Any) -> None:
    connector, fake = salesforce
    with running_call() as call:
        login = await connector.call_raw("login", {"username": "integration@acme.test", "password": PASSWORD})
        connector.set_soap_headers({"SessionHeader": {"sessionId": login["result"]["session_id"]}})
        page = await connector.call_raw("query", {"query_string": "SELECT Id, Name FROM Account"})

    # The service did get the secrets: WS-Security token and login body, then the session header.
    assert escape(PASSWORD) in fake.received[0] and "UsernameToken" in fake.received[0]
    assert SESSION_ID in fake.received[1] and "SessionHeader" in fake.received[1]
    assert page["result"]["size"] == 1 and page["result"]["done"] is True

    captured = json.dumps(call.exchanges)
    assert len(call.exchanges) == 2
    assert PASSWORD not in captured and escape(PASSWORD) not in captured
    assert SESSION_ID not in captured
    assert SESSION_ID.split("!")[1] not in captured
    login_record, query_record = call.exchanges
    assert (login_record["operation"], query_record["operation"]) == ("login", "query")
    assert login_record["endpoint"] == ENDPOINT
    assert login_record["http_status"] == 200 and login_record["duration_ms"] >= 0
    assert "UsernameToken" in login_record["request"] and REDACTED in login_record["request"]
    assert "sessionId>[REDACTED]<" in login_record["response"]
    assert (
        "SessionHeader" in query_record["request"]
        and "SELECT Id, Name FROM Account" in query_record["request"]
    )
    assert "Acme Corp" in query_record["response"]
    assert query_record["fault"] is None and query_record["error"] is None


async def test_per_call_headers_join_the_client_headers(salesforce: Any) -> None:
    connector, fake = salesforce
    connector.set_soap_headers({"SessionHeader": {"sessionId": SESSION_ID}})
    await connector.call_raw(
        "query", {"query_string": "SELECT Id FROM Contact"}, headers={"QueryOptions": {"batchSize": 200}}
    )
    header = etree.fromstring(fake.received[-1].encode()).find(
        "{http://schemas.xmlsoap.org/soap/envelope/}Header"
    )
    sent = {etree.QName(element).localname: element for element in header}
    assert sent["SessionHeader"].findtext("{*}sessionId") == SESSION_ID
    assert sent["QueryOptions"].findtext("{*}batchSize") == "200"


async def test_capture_is_bounded(salesforce: Any) -> None:
    connector, _ = salesforce
    long_query = "SELECT Id FROM Account WHERE Name IN (" + ",".join(f"'n{i}'" for i in range(2000)) + ")"
    with running_call() as call:
        await connector.call_raw("query", {"query_string": long_query})
    request = call.exchanges[0]["request"]
    assert len(request) == 2000 and request.endswith("…")


async def test_outside_an_action_nothing_is_captured_and_nothing_fails(salesforce: Any) -> None:
    connector, _ = salesforce
    page = await connector.call_raw("query", {"query_string": "SELECT Id FROM Account"})
    assert page["result"]["records"][0]["type"] == "Account"


def test_redact_envelope_clears_secret_named_elements_and_attributes() -> None:
    envelope = etree.fromstring(
        '<e:Envelope xmlns:e="urn:e" xmlns:w="urn:w"><e:Header><w:Security><w:UsernameToken>'
        "<w:Username>ops</w:Username><w:Password>hunter2</w:Password></w:UsernameToken></w:Security>"
        '<e:Auth token="abc">bearer</e:Auth></e:Header><e:Body><e:Note apiKey="k-1">fine</e:Note>'
        "<e:Text>mentions s3cr3t-value inline and a&amp;b too</e:Text></e:Body></e:Envelope>"
    )
    text = redact_envelope(envelope, secrets=["s3cr3t-value", "a&b"])
    for secret in ("hunter2", "bearer", "abc", "k-1", "s3cr3t-value", "a&amp;b"):
        assert secret not in text
    assert "fine" in text and "ops" not in text  # the whole UsernameToken goes
    assert "hunter2" in etree.tostring(envelope).decode()  # the envelope being sent is untouched
