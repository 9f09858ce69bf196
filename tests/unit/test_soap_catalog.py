"""The offline schema catalog and loader: well-known schemas resolve locally, nothing else leaves."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from lxml import etree  # type: ignore[import-untyped]
from zeep.settings import Settings
from zeep.wsdl import Document

from connectors.soap import SchemaFetchRefused, list_operations, load_wsdl
from connectors.soap.catalog import CATALOG_DIR, WELL_KNOWN_SCHEMAS, SchemaCatalog
from connectors.soap.loader import OfflineSchemaLoader
from connectors.soap.pickled_wsdl import load_document
from legacy.erp.wsdl import render_wsdl

_WSDL_HEAD = """<?xml version="1.0"?>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:tns="urn:test" targetNamespace="urn:test"
    xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/"
    xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
  <types>
    <xsd:schema targetNamespace="urn:test" elementFormDefault="qualified">
      {imports}
      {types}
    </xsd:schema>
  </types>
  <message name="PingIn"><part name="parameters" element="tns:Ping"/></message>
  <message name="PingOut"><part name="parameters" element="tns:PingResponse"/></message>
  <portType name="PT"><operation name="Ping"><input message="tns:PingIn"/><output message="tns:PingOut"/></operation></portType>
  <binding name="B" type="tns:PT">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="Ping"><soap:operation soapAction="ping"/>
      <input><soap:body use="literal"/></input><output><soap:body use="literal"/></output></operation>
  </binding>
  <service name="S"><port name="P" binding="tns:B"><soap:address location="http://svc.test/ping"/></port></service>
</definitions>
"""

_PING = """<xsd:element name="Ping"><xsd:complexType><xsd:sequence>
    <xsd:element name="message" type="{message_type}"/></xsd:sequence></xsd:complexType></xsd:element>
  <xsd:element name="PingResponse"><xsd:complexType><xsd:sequence>
    <xsd:element name="echo" type="xsd:string"/></xsd:sequence></xsd:complexType></xsd:element>"""


def write_wsdl(folder: Path, *, imports: str = "", message_type: str = "xsd:string", extra: str = "") -> Path:
    path = folder / "service.wsdl"
    types = _PING.format(message_type=message_type) + extra
    path.write_text(_WSDL_HEAD.format(imports=imports, types=types))
    return path


@pytest.mark.parametrize("name", sorted(set(WELL_KNOWN_SCHEMAS.values())))
def test_shipped_schemas_are_valid_xsd(name: str) -> None:
    etree.XMLSchema(etree.parse(str(CATALOG_DIR / name)))  # raises when the schema is invalid


def test_lookup_ignores_scheme_and_trailing_slash() -> None:
    catalog = SchemaCatalog()
    expected = CATALOG_DIR / "soap-encoding.xsd"
    for spelling in (
        "http://schemas.xmlsoap.org/soap/encoding/",
        "https://schemas.xmlsoap.org/soap/encoding",
        "HTTP://Schemas.XMLSoap.org/soap/encoding/",
    ):
        assert catalog.lookup(spelling) == expected
    assert catalog.lookup("http://schemas.xmlsoap.org/soap/encoding/other.xsd") is None


def test_extra_schema_locations_extend_the_catalog(tmp_path: Path) -> None:
    vendor = tmp_path / "vendor.xsd"
    vendor.write_text('<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:v"/>')
    catalog = SchemaCatalog({"https://vendor.example/schemas/v1.xsd": vendor})
    assert catalog.lookup("http://vendor.example/schemas/v1.xsd") == vendor.resolve()


def test_unknown_url_is_refused_with_its_name(tmp_path: Path) -> None:
    wsdl = write_wsdl(
        tmp_path,
        imports='<xsd:import namespace="urn:evil" schemaLocation="http://attacker.example/evil.xsd"/>',
    )
    with pytest.raises(SchemaFetchRefused) as caught:
        load_wsdl(str(wsdl))
    assert caught.value.url == "http://attacker.example/evil.xsd"
    assert "http://attacker.example/evil.xsd" in str(caught.value)
    assert "schema_locations" in str(caught.value)  # says how to fix it


def test_files_outside_the_wsdl_folder_are_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.xsd").write_text('<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema"/>')
    folder = tmp_path / "service"
    folder.mkdir()
    wsdl = write_wsdl(folder, imports='<xsd:import namespace="urn:x" schemaLocation="../secret.xsd"/>')
    with pytest.raises(SchemaFetchRefused, match=r"secret\.xsd"):
        load_wsdl(str(wsdl))


def test_soap_encoding_xml_and_xmldsig_resolve_offline(tmp_path: Path) -> None:
    # soapenc:Array makes zeep import the encoding schema on its own; the others are imported by URL.
    imports = """
      <xsd:import namespace="http://www.w3.org/XML/1998/namespace"/>
      <xsd:import namespace="http://www.w3.org/2000/09/xmldsig#"
                  schemaLocation="http://www.w3.org/TR/xmldsig-core/xmldsig-core-schema.xsd"/>
      <xsd:import namespace="http://schemas.xmlsoap.org/soap/encoding/"
                  schemaLocation="http://schemas.xmlsoap.org/soap/encoding/"/>"""
    extra = """
      <xsd:complexType name="Strings"><xsd:complexContent>
        <xsd:restriction base="soapenc:Array">
          <xsd:attribute ref="soapenc:arrayType" xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"
                         wsdl:arrayType="xsd:string[]"/>
        </xsd:restriction></xsd:complexContent></xsd:complexType>
      <xsd:element name="Signed"><xsd:complexType><xsd:sequence>
        <xsd:element ref="ds:Signature" minOccurs="0"/></xsd:sequence>
        <xsd:attribute ref="xml:lang"/></xsd:complexType></xsd:element>"""
    wsdl = write_wsdl(tmp_path, imports=imports, message_type="tns:Strings", extra=extra)
    loader = OfflineSchemaLoader(str(wsdl), SchemaCatalog())
    document = Document(str(wsdl), loader, settings=Settings())
    assert [op.name for op in list_operations(document)] == ["Ping"]
    read = set(loader.sources)
    assert "http://schemas.xmlsoap.org/soap/encoding/" in read
    assert "http://www.w3.org/TR/xmldsig-core/xmldsig-core-schema.xsd" in read
    assert "https://www.w3.org/2001/xml.xsd" in read  # zeep's own spelling for xml:lang


def test_the_demo_erp_wsdl_resolves_xml_xsd_from_the_catalog(tmp_path: Path) -> None:
    wsdl = tmp_path / "erp.wsdl"
    wsdl.write_bytes(render_wsdl("http://127.0.0.1:1/erp"))
    loader = OfflineSchemaLoader(str(wsdl), SchemaCatalog())
    document = Document(str(wsdl), loader, settings=Settings())
    assert set(loader.sources) == {str(wsdl), "http://www.w3.org/2001/xml.xsd"}
    assert len(list_operations(document)) == 6


def test_a_cached_wsdl_may_not_name_arbitrary_callables() -> None:
    class Exploit:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            import os

            return os.system, ("echo pwned",)

    import io

    with pytest.raises(pickle.UnpicklingError, match="may not refer to"):
        load_document(io.BytesIO(pickle.dumps(Exploit())), loader=object(), settings=Settings())
