"""From the real Bing Ads v13 CampaignManagement WSDL to a READ action through the gate, timed.

`read_wsdl` generates the whole service (195 operations), the package is written and installed
into a private --target dir (never the shared venv), its connector is loaded from there and
`bingads.get_campaigns_by_account_id` runs as the `SingleAction` workflow on a real Temporal test
server against a SOAP server on loopback. The answer's `BiddingScheme` comes with `xsi:type` and
must arrive as the typed subtype; the credentials go as SOAP headers from settings and never
reach the audit trail.
"""

from __future__ import annotations

import importlib
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree  # type: ignore[import-untyped]  # lxml ships no stubs
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from connectors.scaffold.selection import Selection
from connectors.scaffold.writer import write_package
from connectors.scaffold.wsdl import read_wsdl
from connectors.soap import clear_wsdl_memo
from retrofit.plugin import RetrofitPlugin
from retrofit.registry import connectors_from_classes
from tests.identity_support import PIN
from tests.integration.soap.codegen_support import XSI, SoapServer, vendored
from tests.scaffold.support import installed
from tests.support import SHIPPED_WORKFLOWS, audit_of
from workflows.single_action.workflow import SingleActionInput

pytestmark = pytest.mark.timeout(240)
BING = "https://bingads.microsoft.com/CampaignManagement/v13"
SECRETS = {"header_developer_token": "dev-tok-7f3a9", "header_authentication_token": "oauth-tok-c41d2"}


def _campaigns(body: Any, header: Any) -> Any:
    account = body.findtext(f"{{{BING}}}AccountId")
    answer = etree.Element(
        f"{{{BING}}}GetCampaignsByAccountIdResponse", nsmap={None: BING, "tns": BING, "xsi": XSI}
    )
    campaigns = etree.SubElement(etree.SubElement(answer, f"{{{BING}}}Campaigns"), f"{{{BING}}}Campaign")
    scheme = etree.SubElement(campaigns, f"{{{BING}}}BiddingScheme")
    scheme.set(f"{{{XSI}}}type", "tns:TargetCpaBiddingScheme")
    etree.SubElement(scheme, f"{{{BING}}}Type").text = "TargetCpa"
    etree.SubElement(scheme, f"{{{BING}}}TargetCpa").text = "12.5"
    for name, value in (
        ("BudgetType", "DailyBudgetStandard"),
        ("DailyBudget", "50"),
        ("Id", f"{account}01"),
        ("Name", "Spring sale"),
        ("Status", "Active"),
    ):
        etree.SubElement(campaigns, f"{{{BING}}}{name}").text = value
    return answer


def _tracking() -> list[Any]:
    element = etree.Element(f"{{{BING}}}TrackingId")
    element.text = "trk-0001"
    return [element]


@pytest.fixture(autouse=True)
def forget_generated_package() -> Iterator[None]:
    """The generated package is imported from a temporary target: forget it afterwards."""
    yield
    for module in [m for m in sys.modules if m.split(".")[0] == "bingads_connector"]:
        del sys.modules[module]


@pytest.fixture
def server() -> Iterator[SoapServer]:
    with SoapServer({"GetCampaignsByAccountIdRequest": _campaigns}, response_headers=_tracking) as running:
        yield running


async def test_bing_wsdl_to_a_read_action_through_the_gate(
    tmp_path: Path,
    server: SoapServer,
    time_skipping_env: WorkflowEnvironment,
    audit_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wsdl = vendored("bingads-v13-campaignmanagement.wsdl.gz", tmp_path)
    began = time.perf_counter()
    package = read_wsdl("bingads", str(wsdl), Selection(None))
    out = tmp_path / "bingads-connector"
    write_package(package, out)
    generated = time.perf_counter() - began
    assert len(package.actions) == 195 and package.skipped == []
    with installed(out, tmp_path / "site"):
        monkeypatch.syspath_prepend(str(tmp_path / "site"))
        connector_class = importlib.import_module("bingads_connector.connector").BingadsConnector
        clear_wsdl_memo()
        settings = connector_class.load_settings(
            wsdl=str(wsdl), endpoint=server.endpoint, header_customer_id="4242", **SECRETS
        )
        plugin = RetrofitPlugin(
            connectors=connectors_from_classes([connector_class]),
            workflows=SHIPPED_WORKFLOWS,
            audit_url=audit_url,
            settings_overrides={"bingads": settings},
            identity=PIN,
        )
        wf_id = f"bing-read-{uuid.uuid4().hex[:8]}"
        task_queue = f"bing-{uuid.uuid4()}"
        async with Worker(time_skipping_env.client, task_queue=task_queue, plugins=[plugin]):
            result = await time_skipping_env.client.execute_workflow(
                "SingleAction",
                SingleActionInput(
                    action="bingads.get_campaigns_by_account_id",
                    arguments={"account_id": 9001, "campaign_type": ["Search"]},
                ),
                id=wf_id,
                task_queue=task_queue,
            )
        to_working_read = time.perf_counter() - began
    print(
        f"\nBing CampaignManagement: generated in {generated:.2f} s, WSDL to a working read {to_working_read:.2f} s"
    )
    output = result["output"] if isinstance(result, dict) else result.output
    campaign = output["campaigns"]["campaign"][0]
    assert campaign["bidding_scheme"] == {
        "xsi_type": "TargetCpaBiddingScheme",
        "type": "TargetCpa",
        "max_cpc": None,
        "target_cpa": 12.5,
    }
    assert (campaign["id"], campaign["name"], campaign["status"]) == (900101, "Spring sale", "Active")
    request = server.requests[-1]
    assert request.body.findtext(f"{{{BING}}}AccountId") == "9001"
    assert request.body.findtext(f"{{{BING}}}CampaignType") == "Search"
    header = request.header
    assert header is not None
    assert header.findtext(f"{{{BING}}}DeveloperToken") == SECRETS["header_developer_token"]
    assert header.findtext(f"{{{BING}}}AuthenticationToken") == SECRETS["header_authentication_token"]
    assert header.findtext(f"{{{BING}}}CustomerId") == "4242"
    assert header.find(f"{{{BING}}}UserName") is None  # unset settings are not sent
    records = await audit_of(audit_url, wf_id)
    assert records, "the call left no audit record"
    trail = " ".join(str(r.data) for r in records)
    assert all(secret not in trail for secret in SECRETS.values())
    assert to_working_read < 120
