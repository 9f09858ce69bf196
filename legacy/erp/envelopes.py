"""SOAP 1.1 on the server side: reading request envelopes, writing answers and faults.

Requests are parsed with a hardened lxml parser (no DTDs, no entities, no network), so a
hostile envelope cannot make the demo server read files or fetch URLs.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no stubs

from legacy.erp.wsdl import NAMESPACE

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
CONTENT_TYPE = "text/xml; charset=utf-8"

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True
)


class SoapFault(Exception):
    """Answered as a SOAP 1.1 Fault with HTTP 500, as SOAP 1.1 over HTTP requires for faults."""

    def __init__(self, code: str, message: str, *, detail_code: str | None = None) -> None:
        super().__init__(message)
        self.code = (
            code  # a QName in prefixed form: "soap:Client", "soap:Server", "wsse:FailedAuthentication"
        )
        self.message = message
        self.detail_code = detail_code


def client_fault(message: str, detail_code: str = "INVALID_ARGUMENT") -> SoapFault:
    return SoapFault("soap:Client", message, detail_code=detail_code)


@dataclass(frozen=True)
class SoapRequest:
    operation: str  # local name of the body's element, e.g. "GetCustomer"
    payload: etree._Element  # that element
    header: etree._Element | None


def parse_request(body: bytes) -> SoapRequest:
    """The operation, payload and header of a SOAP 1.1 request, or a soap:Client fault."""
    try:
        root = etree.fromstring(body, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        raise client_fault(f"the request is not well-formed XML ({exc.msg})", "MALFORMED_REQUEST") from None
    if root.getroottree().docinfo.doctype:
        raise client_fault("DOCTYPE declarations are not accepted", "MALFORMED_REQUEST")
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        # SOAP 1.1, section 4.4: a wrong envelope namespace is a VersionMismatch fault.
        raise SoapFault("soap:VersionMismatch", "expected a SOAP 1.1 Envelope")
    body_element = root.find(f"{{{SOAP_ENV}}}Body")
    if body_element is None or len(body_element) != 1:
        raise client_fault("the SOAP Body must hold exactly one element", "MALFORMED_REQUEST")
    payload = body_element[0]
    qname = etree.QName(payload)
    if qname.namespace != NAMESPACE:
        raise client_fault(f"unknown operation {{{qname.namespace}}}{qname.localname}", "UNKNOWN_OPERATION")
    return SoapRequest(qname.localname, payload, root.find(f"{{{SOAP_ENV}}}Header"))


def response_envelope(payload: etree._Element) -> bytes:
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV, "erp": NAMESPACE})
    etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body").append(payload)
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))


def fault_envelope(fault: SoapFault) -> bytes:
    nsmap = {"soap": SOAP_ENV, "erp": NAMESPACE}
    if fault.code.startswith("wsse:"):
        nsmap["wsse"] = WSSE
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap=nsmap)
    element = etree.SubElement(etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body"), f"{{{SOAP_ENV}}}Fault")
    # faultcode/faultstring/detail are unqualified in SOAP 1.1.
    etree.SubElement(element, "faultcode").text = fault.code
    etree.SubElement(element, "faultstring").text = fault.message
    if fault.detail_code is not None:
        erp_fault = etree.SubElement(etree.SubElement(element, "detail"), f"{{{NAMESPACE}}}ErpFault")
        etree.SubElement(erp_fault, f"{{{NAMESPACE}}}code").text = fault.detail_code
        etree.SubElement(erp_fault, f"{{{NAMESPACE}}}message").text = fault.message
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))


def erp_element(name: str) -> etree._Element:
    return etree.Element(f"{{{NAMESPACE}}}{name}")


def add_child(parent: etree._Element, name: str, value: object | None) -> None:
    """Append `<erp:name>value</erp:name>`; None leaves an optional element out."""
    if value is None:
        return
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    etree.SubElement(parent, f"{{{NAMESPACE}}}{name}").text = text


def child_text(payload: etree._Element, name: str) -> str | None:
    """Text of the payload's `erp:name` child: None when absent; stripped; "" stays ""."""
    element = payload.find(f"{{{NAMESPACE}}}{name}")
    if element is None:
        return None
    return (element.text or "").strip()
