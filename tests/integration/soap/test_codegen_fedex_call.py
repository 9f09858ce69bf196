"""A generated FedEx Track connector calling a SOAP server on loopback: the credentials the WSDL
puts in the body (`WebAuthenticationDetail`) come from settings, the fixed `Version` is filled in,
and the answer's enumerations and nested types arrive typed."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree  # type: ignore[import-untyped]  # lxml ships no stubs

from connectors.scaffold.selection import Selection
from connectors.scaffold.writer import write_package
from connectors.scaffold.wsdl import read_wsdl
from connectors.soap import clear_wsdl_memo
from tests.integration.soap.codegen_support import SoapServer, vendored
from tests.scaffold.support import installed

pytestmark = pytest.mark.timeout(120)
FX = "http://fedex.com/ws/track/v16"


def _reply(body: Any, header: Any) -> Any:
    answer = etree.Element(f"{{{FX}}}TrackReply", nsmap={None: FX})
    etree.SubElement(answer, f"{{{FX}}}HighestSeverity").text = "SUCCESS"
    note = etree.SubElement(answer, f"{{{FX}}}Notifications")
    for name, value in (
        ("Severity", "SUCCESS"),
        ("Source", "trck"),
        ("Code", "0"),
        ("Message", "Request was successfully processed."),
    ):
        etree.SubElement(note, f"{{{FX}}}{name}").text = value
    version = etree.SubElement(answer, f"{{{FX}}}Version")
    for name, value in (("ServiceId", "trck"), ("Major", "16"), ("Intermediate", "0"), ("Minor", "0")):
        etree.SubElement(version, f"{{{FX}}}{name}").text = value
    return answer


@pytest.fixture(autouse=True)
def forget_generated_package() -> Iterator[None]:
    """The generated package is imported from a temporary target: forget it afterwards."""
    yield
    for module in [m for m in sys.modules if m.split(".")[0] == "fedex_connector"]:
        del sys.modules[module]


@pytest.fixture
def server() -> Iterator[SoapServer]:
    with SoapServer({"TrackRequest": _reply}) as running:
        yield running


async def test_track_sends_credentials_from_settings_and_reads_a_typed_answer(
    tmp_path: Path, server: SoapServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    wsdl = vendored("fedex-TrackService_v16.wsdl.gz", tmp_path)
    out = tmp_path / "fedex-connector"
    write_package(read_wsdl("fedex", str(wsdl), Selection.parse("track")), out)
    with installed(out, tmp_path / "site"):
        monkeypatch.syspath_prepend(str(tmp_path / "site"))
        connector_module = importlib.import_module("fedex_connector.connector")
        models = importlib.import_module("fedex_connector.models.track")
        clear_wsdl_memo()
        settings = connector_module.FedexConnector.load_settings(
            wsdl=str(wsdl),
            endpoint=server.endpoint,
            user_credential_key="key-9q2",
            user_credential_password="pw-k81",
        )
        connector = connector_module.FedexConnector(settings)
        await connector.open()
        try:
            arguments = models.TrackInput(
                client_detail={"account_number": "510087000", "meter_number": "119000000"},
                selection_details=[
                    {"package_identifier": {"type": "TRACKING_NUMBER_OR_DOORTAG", "value": "7946"}}
                ],
            )
            answer = await connector.track(arguments)
        finally:
            await connector.close()
    sent = server.requests[-1].body
    assert sent.findtext(f".//{{{FX}}}UserCredential/{{{FX}}}Key") == "key-9q2"
    assert sent.findtext(f".//{{{FX}}}UserCredential/{{{FX}}}Password") == "pw-k81"
    assert sent.find(f".//{{{FX}}}ParentCredential") is None  # unset settings are not sent
    assert [sent.findtext(f"{{{FX}}}Version/{{{FX}}}{n}") for n in ("ServiceId", "Major")] == ["trck", "16"]
    assert sent.findtext(f".//{{{FX}}}PackageIdentifier/{{{FX}}}Value") == "7946"
    assert answer.highest_severity == "SUCCESS" and answer.notifications[0].source == "trck"
    assert answer.version.major == 16
    assert "web_authentication_detail" not in models.TrackInput.model_fields
