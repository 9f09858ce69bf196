"""Response SOAP headers reach the action: Bing's `TrackingId`, declared in the WSDL or not.

Bing support asks for the `TrackingId` of a call; it travels as a SOAP header of every answer,
which zeep drops when the WSDL does not declare it. Real XML over real HTTP on loopback.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from lxml import etree  # type: ignore[import-untyped]

from connectors.soap.capture import soap_headers
from tests.integration.soap import vendor_systems as vendor
from tests.integration.soap.erp_support import running_call
from tests.integration.soap.vendor_systems import AccountRequest, Bing, Campaigns, Labels, VendorSoap

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(scope="module")
def vendor_server() -> Iterator[VendorSoap]:
    with VendorSoap() as server:
        yield server


@pytest.fixture
async def bing(vendor_server: VendorSoap) -> AsyncIterator[Bing]:
    vendor_server.reset()
    connector = Bing(Bing.load_settings(wsdl=vendor_server.bing_wsdl_url))
    await connector.open()
    yield connector
    await connector.close()


async def test_a_header_the_wsdl_declares(bing: Bing, vendor_server: VendorSoap) -> None:
    answer = await bing.call_with_headers(
        "GetCampaignsByAccountId", AccountRequest(account_id=151), returns=Campaigns
    )
    assert [c.name for c in answer.result.campaigns.campaign] == ["Brand", "Generic"]
    assert answer.headers == {"tracking_id": vendor_server.tracking_ids[-1]}


async def test_a_header_the_wsdl_does_not_declare(bing: Bing, vendor_server: VendorSoap) -> None:
    answer = await bing.call_with_headers("GetLabelsByIds", {"account_id": 151}, returns=Labels)
    assert [label.name for label in answer.result.labels.label] == ["Winter sale"]
    assert answer.headers == {"tracking_id": vendor_server.tracking_ids[-1]}


async def test_concurrent_calls_each_get_their_own_headers(bing: Bing, vendor_server: VendorSoap) -> None:
    async def one(account: int) -> str:
        answer = await bing.call_with_headers(
            "GetCampaignsByAccountId", AccountRequest(account_id=account), returns=Campaigns
        )
        return str(answer.headers["tracking_id"])

    seen = await asyncio.gather(*(one(151 + i) for i in range(12)))
    assert len(set(seen)) == 12 and set(seen) == set(vendor_server.tracking_ids)


async def test_the_tracking_id_is_in_the_audit_record_and_the_tokens_are_not(bing: Bing) -> None:
    with running_call("wf-bing#headers", action="bing_vendor_test.get_campaigns") as context:
        answer = await bing.call_with_headers(
            "GetCampaignsByAccountId", AccountRequest(account_id=151), returns=Campaigns
        )
    (exchange,) = context.exchanges
    assert f">{answer.headers['tracking_id']}</" in exchange["response"]
    assert vendor.AUTHENTICATION_TOKEN not in exchange["request"]
    assert vendor.DEVELOPER_TOKEN not in exchange["request"]


def test_soap_headers_reads_nested_repeated_and_nil_values() -> None:
    envelope = etree.fromstring(
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><s:Header>'
        '<h:TrackingId xmlns:h="urn:a">t-1</h:TrackingId><!-- a comment -->'
        "<Quota><Used>12</Used><Limit>1000</Limit><Window>day</Window><Window>hour</Window></Quota>"
        '<Renewed i:nil="true"/></s:Header><s:Body/></s:Envelope>'
    )
    assert soap_headers(envelope) == {
        "tracking_id": "t-1",
        "quota": {"used": "12", "limit": "1000", "window": ["day", "hour"]},
        "renewed": None,
    }
    no_header = etree.fromstring(
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>'
    )
    assert soap_headers(no_header) == {}
