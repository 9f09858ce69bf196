"""Audit capture of SOAP exchanges: what went out and came back, redacted, per action call.

`ExchangeCapture` is a zeep plugin. Its egress hook summarises the outgoing envelope, its
ingress hook the answer, and then it hands one record to `retrofit.sdk.capture_exchange`:

    {"protocol": "soap", "operation": "GetCustomer", "endpoint": "http://.../erp",
     "http_status": 200, "duration_ms": 4.2, "request": "<soap-env:Envelope ...>",
     "response": "<soap-env:Envelope ...>", "fault": null, "error": null}

Envelopes are redacted before they are summarised: every element or attribute whose name
says secret (`Password`, `UsernameToken`, `sessionId`, `BinarySecurityToken`, ...; the rule
is `retrofit.redaction.is_secret_key`) loses its content, and any configured secret value
that still appears is masked. Summaries are cut to a bound. When no answer arrives (timeout,
dropped connection, an HTTP error page) the connector finishes the record with the error.

The HTTP status is not visible to zeep plugins; the transport notes it in the same record.
The ingress hook also keeps the answer's SOAP headers as plain data (`soap_headers`), for the
action (`SoapConnector.call_with_headers`) and for fault classification: zeep drops headers
the WSDL does not declare, and Bing's `TrackingId` is one a support ticket needs.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no stubs
from zeep import Plugin

from connectors.soap.signatures import python_name
from retrofit.redaction import REDACTED, is_secret_key
from retrofit.sdk import capture_exchange

DEFAULT_SUMMARY_LIMIT = 2000

_SOAP_FAULT = re.compile(r"\}Fault$")
_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"


@dataclass
class WireExchange:
    """One SOAP call on the wire, filled in by the plugin hooks and the transport."""

    operation: str
    started: float = field(default_factory=time.perf_counter)
    endpoint: str | None = None
    request: str | None = None
    response: str | None = None
    fault: str | None = None
    http_status: int | None = None
    retry_after: str | None = None
    #: The answer's SOAP headers, as plain data with Python names (`{"tracking_id": "…"}`).
    response_headers: dict[str, Any] = field(default_factory=dict)
    emitted: bool = False

    def record(self, *, error: str | None = None) -> dict[str, Any]:
        return {
            "protocol": "soap",
            "operation": self.operation,
            "endpoint": self.endpoint,
            "http_status": self.http_status,
            "duration_ms": round((time.perf_counter() - self.started) * 1000, 1),
            "request": self.request,
            "response": self.response,
            "fault": self.fault,
            "error": error,
        }


_current: ContextVar[WireExchange | None] = ContextVar("retrofit_soap_exchange", default=None)


def begin_exchange(operation: str) -> WireExchange:
    """Start the record of one call in this task (the connector calls this before zeep sends)."""
    exchange = WireExchange(operation)
    _current.set(exchange)
    return exchange


def current_exchange() -> WireExchange | None:
    return _current.get()


def note_http_answer(status: int, retry_after: str | None) -> None:
    """The transport's part: the HTTP status (and Retry-After) of the answer to the current call."""
    exchange = _current.get()
    if exchange is not None:
        exchange.http_status = status
        exchange.retry_after = retry_after


def finish_exchange(exchange: WireExchange, *, error: str | None = None) -> None:
    """Hand the record to the audit trail once; later calls for the same exchange do nothing."""
    if not exchange.emitted:
        exchange.emitted = True
        capture_exchange(exchange.record(error=error))


class ExchangeCapture(Plugin):
    """The zeep plugin that records each exchange; see the module docstring."""

    def __init__(self, *, secrets: Iterable[str] = (), limit: int = DEFAULT_SUMMARY_LIMIT) -> None:
        # Secret values (the WS-Security password, a session id) masked wherever they still appear.
        self._secrets = tuple(secrets)
        self._limit = limit

    def egress(
        self, envelope: Any, http_headers: Any, operation: Any, binding_options: Any
    ) -> tuple[Any, Any]:
        exchange = _current.get()
        if exchange is None or exchange.request is not None:
            # Called outside SoapConnector.call (or a second send in one call): start a record.
            exchange = begin_exchange(getattr(operation, "name", "?"))
        exchange.endpoint = (binding_options or {}).get("address")
        exchange.request = self.summarize(envelope)
        return envelope, http_headers

    def ingress(self, envelope: Any, http_headers: Any, operation: Any) -> tuple[Any, Any]:
        exchange = _current.get()
        if exchange is not None:
            exchange.response = self.summarize(envelope)
            exchange.fault = _fault_code(envelope)
            exchange.response_headers = soap_headers(envelope)
            finish_exchange(exchange)
        return envelope, http_headers

    def summarize(self, envelope: Any) -> str:
        text = redact_envelope(envelope, secrets=self._secrets)
        return text if len(text) <= self._limit else text[: self._limit - 1] + "…"


def redact_envelope(envelope: Any, *, secrets: Iterable[str] = ()) -> str:
    """A one-line rendering of an envelope (or any element) with secret-named content removed."""
    copy = etree.fromstring(etree.tostring(envelope))  # never touch the envelope being sent
    for element in list(copy.iter()):  # a list: the loop removes children as it goes
        if not isinstance(element.tag, str):
            continue  # comments, processing instructions
        for name in list(element.attrib):
            if is_secret_key(etree.QName(name).localname):
                element.attrib[name] = REDACTED
        if is_secret_key(etree.QName(element).localname):
            for child in list(element):
                element.remove(child)
            element.text = REDACTED
    text = etree.tostring(copy, encoding="unicode")
    text = re.sub(r">\s+<", "><", text).strip()
    for form in _serialized_forms(secrets):
        text = text.replace(form, REDACTED)
    return text


def _serialized_forms(secrets: Iterable[str]) -> list[str]:
    """Each secret as it may appear in serialized XML (`a&b` is written `a&amp;b`), longest first."""
    forms = {form for secret in secrets if secret for form in (secret, escape(secret, {'"': "&quot;"}))}
    return sorted(forms, key=len, reverse=True)


def _fault_code(envelope: Any) -> str | None:
    for element in envelope.iter():
        if isinstance(element.tag, str) and _SOAP_FAULT.search(element.tag):
            for child in element:
                local = etree.QName(child).localname if isinstance(child.tag, str) else ""
                if local == "faultcode":
                    return str(child.text or "").strip() or None
                if local == "Code":  # SOAP 1.2: Code/Value
                    value = child.find("{*}Value")
                    return None if value is None else str(value.text or "").strip() or None
            return "(fault without a code)"
    return None


def soap_headers(envelope: Any) -> dict[str, Any]:
    """The SOAP headers of an envelope as plain data: `{python_name(local name): value}`.

    A leaf is its text (None when `xsi:nil`), an element with children a dict of the same kind,
    a name that repeats a list. Namespaces and attributes are dropped: header names do not clash
    in practice, and a connector that needs more reads `exchange.response` or the raw envelope.
    """
    root = envelope.getroot() if hasattr(envelope, "getroot") else envelope
    for child in root:
        if isinstance(child.tag, str) and etree.QName(child).localname == "Header":
            return _plain_children(child)
    return {}


def _plain_children(element: Any) -> dict[str, Any]:
    grouped: dict[str, list[Any]] = {}
    for child in element:
        if isinstance(child.tag, str):  # not a comment or processing instruction
            grouped.setdefault(python_name(etree.QName(child).localname), []).append(_plain(child))
    return {name: values[0] if len(values) == 1 else values for name, values in grouped.items()}


def _plain(element: Any) -> Any:
    if element.get(_XSI_NIL) in ("true", "1"):
        return None
    if any(isinstance(child.tag, str) for child in element):
        return _plain_children(element)
    return (element.text or "").strip()
