"""rpc/encoded services (older systems): a SOAP-encoded array is typed `list[Item]` both ways,
with Python names mapped inside the items, against a SOAP server on loopback."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree  # type: ignore[import-untyped]  # lxml ships no stubs

from connectors.soap import SoapConnector, SoapSettings, clear_wsdl_memo, load_wsdl
from connectors.soap.codegen import models_source
from tests.integration.soap.codegen_support import XSI, SoapServer, vendored

pytestmark = pytest.mark.timeout(60)
ENC = "http://schemas.xmlsoap.org/soap/encoding/"


def _items(body: Any, header: Any) -> Any:
    answer = etree.Element("{urn:r}GetItemsResponse", nsmap={"r": "urn:r", "xsi": XSI, "soapenc": ENC})
    items = etree.SubElement(answer, "items")
    items.set(f"{{{XSI}}}type", "r:ArrayOfItem")
    items.set(f"{{{ENC}}}arrayType", "r:Item[2]")
    for sku, qty in (("A1", "2"), (body.findtext("customerId") or "?", "5")):
        item = etree.SubElement(items, "item")
        item.set(f"{{{XSI}}}type", "r:Item")
        etree.SubElement(item, "skuCode").text = sku
        etree.SubElement(item, "qty").text = qty
    return answer


@pytest.fixture
def server() -> Iterator[SoapServer]:
    with SoapServer({"GetItems": _items}) as running:
        yield running


async def test_soap_encoded_arrays_are_typed_lists(tmp_path: Path, server: SoapServer) -> None:
    wsdl = vendored("encoded.wsdl", tmp_path)
    source = models_source(load_wsdl(str(wsdl)), ["GetItems"])
    assert "    wanted: list[Item]" in source and "    items: list[Item]" in source
    path = tmp_path / "encoded_models.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("encoded_models", path)
    assert spec is not None and spec.loader is not None
    models = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = models
    try:
        spec.loader.exec_module(models)

        class Encoded(SoapConnector):
            """rpc/encoded (test)."""

            name = "encoded"

        clear_wsdl_memo()
        connector = Encoded(SoapSettings(wsdl=str(wsdl), endpoint=server.endpoint))
        await connector.open()
        try:
            arguments = models.GetItemsInput(
                customer_id="C-7", limit=2, wanted=[{"sku_code": "Z9", "qty": 1}]
            )
            answer = await connector.call("GetItems", arguments, returns=models.GetItemsOutput)
        finally:
            await connector.close()
    finally:
        del sys.modules[spec.name]
    assert [(i.sku_code, i.qty) for i in answer.items] == [("A1", 2), ("C-7", 5)]
    sent = server.requests[-1].body
    assert sent.findtext(".//skuCode") == "Z9"
