"""What a parsed WSDL offers: its operations with their input and output, per service port."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class UnknownOperation(LookupError):
    """The WSDL has no SOAP operation of that name (a connector bug, or the wrong WSDL)."""


@dataclass(frozen=True)
class OperationInfo:
    """One operation of one port, as an integrator (or `retrofit connectors`) wants to see it."""

    name: str
    service: str
    port: str
    style: str  # "document" or "rpc"
    soap_action: str | None
    input_element: str | None  # Clark notation, e.g. "{urn:partner.soap.sforce.com}query"
    input_parts: tuple[str, ...]  # the call's arguments: child elements of the input body
    input_headers: tuple[str, ...]  # SOAP headers the WSDL declares for the input
    output_element: str | None
    output_parts: tuple[str, ...]


def list_operations(document: Any) -> list[OperationInfo]:
    """Every operation of every SOAP port of a zeep `Document`, sorted by service, port and name."""
    found: list[OperationInfo] = []
    for service in document.services.values():
        for port in service.ports.values():
            operations = getattr(port.binding, "_operations", {})
            for operation in operations.values():
                if not hasattr(operation, "soapaction"):
                    continue  # an HTTP GET/POST binding, not SOAP
                found.append(_describe(service.name, port.name, operation))
    return sorted(found, key=lambda op: (op.service, op.port, op.name))


def find_operation(document: Any, name: str, *, service: str | None = None, port: str | None = None) -> Any:
    """The zeep operation object called `name` (first SOAP port that has it, unless narrowed)."""
    for service_obj in document.services.values():
        if service is not None and service_obj.name != service:
            continue
        for port_obj in service_obj.ports.values():
            if port is not None and port_obj.name != port:
                continue
            operation = getattr(port_obj.binding, "_operations", {}).get(name)
            if operation is not None and hasattr(operation, "soapaction"):
                return operation
    where = f" in service {service!r}" if service else ""
    where += f" port {port!r}" if port else ""
    raise UnknownOperation(f"the WSDL {document.location!r} has no SOAP operation {name!r}{where}")


def _describe(service: str, port: str, operation: Any) -> OperationInfo:
    return OperationInfo(
        name=operation.name,
        service=service,
        port=port,
        style=operation.style or "document",
        soap_action=operation.soapaction or None,
        input_element=_element_name(operation.input),
        input_parts=_part_names(operation.input),
        input_headers=_header_names(operation.input),
        output_element=_element_name(operation.output),
        output_parts=_part_names(operation.output),
    )


def _body_type(message: Any) -> Any:
    body = getattr(message, "body", None)
    return getattr(body, "type", None)


def _element_name(message: Any) -> str | None:
    body = getattr(message, "body", None)
    qname = getattr(body, "qname", None)
    return None if qname is None else str(qname.text if hasattr(qname, "text") else qname)


def _part_names(message: Any) -> tuple[str, ...]:
    body_type = _body_type(message)
    elements = getattr(body_type, "elements", None) or []
    return tuple(name for name, _ in elements)


def _header_names(message: Any) -> tuple[str, ...]:
    header = getattr(message, "header", None)
    elements = getattr(getattr(header, "type", None), "elements", None) or []
    return tuple(name for name, _ in elements)
