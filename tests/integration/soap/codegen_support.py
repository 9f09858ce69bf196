"""A SOAP server on loopback for the codegen tests: real HTTP, real envelopes, answers by handler.

`SoapServer(handlers)` serves POST /soap: the request envelope is parsed (no DTDs, no network),
kept in `requests`, and `handlers[<body element local name>](body, header)` returns the answer's
body element (lxml) or raises `Fault`. `wsdl_copy()` writes a WSDL whose soap:address points here.
"""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no stubs
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from retrofit.http_serving import ThreadedUvicorn

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
DATA = Path(__file__).resolve().parents[2] / "data" / "wsdl"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)

Handler = Callable[[Any, Any], Any]


@dataclass
class Received:
    operation: str
    body: Any  # the body's first element
    header: Any  # the Header element, or None
    text: str


def vendored(name: str, into: Path) -> Path:
    """A vendored WSDL (`tests/data/wsdl/<name>`, gzip-compressed or not) as a plain file in `into`."""
    source = DATA / name
    target = into / name.removesuffix(".gz")
    if name.endswith(".gz"):
        with gzip.open(source, "rb") as packed, target.open("wb") as plain:
            shutil.copyfileobj(packed, plain)
    else:
        shutil.copyfile(source, target)
    return target


class SoapServer(ThreadedUvicorn):
    def __init__(
        self, handlers: dict[str, Handler], *, response_headers: Callable[[], list[Any]] | None = None
    ) -> None:
        self.handlers = handlers
        self.response_headers = response_headers
        self.requests: list[Received] = []
        app = Starlette(
            routes=[
                Route("/soap", self._soap, methods=["POST"]),
                Route("/health", lambda _: PlainTextResponse("ok"), methods=["GET"]),
            ]
        )
        super().__init__(app, name="codegen-soap", health_path="/health")

    @property
    def endpoint(self) -> str:
        return f"{self.url}/soap"

    async def _soap(self, request: Request) -> Response:
        text = (await request.body()).decode()
        envelope = etree.fromstring(text.encode(), _PARSER)
        body = envelope.find(f"{{{SOAP_ENV}}}Body")[0]
        header = envelope.find(f"{{{SOAP_ENV}}}Header")
        operation = etree.QName(body).localname
        self.requests.append(Received(operation, body, header, text))
        handler = self.handlers.get(operation)
        if handler is None:
            return _fault("soap:Client", f"unknown operation {operation}")
        answer = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV, "xsi": XSI})
        if self.response_headers is not None:
            etree.SubElement(answer, f"{{{SOAP_ENV}}}Header").extend(self.response_headers())
        etree.SubElement(answer, f"{{{SOAP_ENV}}}Body").append(handler(body, header))
        return Response(etree.tostring(answer), media_type="text/xml; charset=utf-8")


def _fault(code: str, message: str) -> Response:
    xml = (
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body><soap:Fault><faultcode>{code}</faultcode>'
        f"<faultstring>{message}</faultstring></soap:Fault></soap:Body></soap:Envelope>"
    )
    return Response(xml, status_code=500, media_type="text/xml; charset=utf-8")
