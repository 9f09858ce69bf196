"""`read_wsdl`: a WSDL's operations as SOAP actions on `SoapConnector`, with their typed models."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from connectors.scaffold.effects import from_operation_name
from connectors.scaffold.errors import SourceError
from connectors.scaffold.naming import Namespace, pascal, snake
from connectors.scaffold.package import (
    ConnectorSpec,
    GeneratedAction,
    GeneratedPackage,
    ImportRef,
    ModelRef,
    SettingField,
    Skipped,
    SourceInfo,
)
from connectors.scaffold.selection import Selection
from connectors.scaffold.writer import package_name
from connectors.scaffold.wsdl.credentials import SettingsRegistry, body_credentials, header_template
from connectors.scaffold.wsdl.grouping import distinct_operations, group_operations
from connectors.soap.connector import SoapConnector
from connectors.soap.model_source import MessageModel, ModelRenderer
from connectors.soap.operations import OperationInfo, find_operation, list_operations
from connectors.soap.type_graph import FieldDef, TypeGraph, message_owner
from connectors.soap.wsdl_cache import load_wsdl
from connectors.soap.xsd_facets import read_facets

#: Method names a generated action must not take: the base class's own members.
_TAKEN_METHODS = {n for n in dir(SoapConnector) if not n.startswith("__")} | {"name", "settings", "Settings"}


@dataclass
class _Planned:
    info: OperationInfo
    group: str
    method: str
    prefix: str  # class name prefix: <prefix>Input / <prefix>Output
    input_fields: list[FieldDef]
    output_fields: list[FieldDef]
    headers: str | None  # template constant for SOAP headers
    body: str | None  # template constant for body credentials
    notes: tuple[str, ...]


def read_wsdl(name: str, source: str, selection: Selection) -> GeneratedPackage:
    """The connector package for the WSDL at `source` (a local file; imports resolve beside it)."""
    path = _local_wsdl(source)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with _readable(source):
        document = load_wsdl(str(path), xml_huge_tree=True)
        facets = read_facets(str(path))
    every, repeated = distinct_operations(list_operations(document))
    if not every:
        raise SourceError(f"the WSDL {source} declares no SOAP operation")
    chosen = [op for op in every if selection.matches(op.name, f"{op.service}.{op.name}")]
    if not chosen:
        raise SourceError(f"no operation of the WSDL {source} matches --operations")
    graph = TypeGraph(document, facets)
    registry = SettingsRegistry()
    methods = Namespace(set(_TAKEN_METHODS))
    prefixes = Namespace()
    skipped: list[Skipped] = []
    planned: list[_Planned] = []
    left_out_headers: set[str] = set()
    for group, operations in group_operations(chosen).items():
        for info in operations:
            try:
                plan = _plan(document, graph, registry, info, group, methods, prefixes, left_out_headers)
            except Exception as exc:  # an odd operation is reported, never fatal
                skipped.append(
                    Skipped(f"{info.service}.{info.name}", f"{type(exc).__name__}: {str(exc)[:160]}")
                )
                continue
            planned.append(plan)
    if not planned:
        raise SourceError(f"no operation of the WSDL {source} could be generated ({skipped[0].reason})")
    messages = [m for p in planned for m in _messages(p)]
    try:
        modules = ModelRenderer(graph, messages).render()
    except (ValueError, KeyError, RecursionError) as exc:
        raise SourceError(f"the types of the WSDL {source} could not be rendered: {exc}") from exc
    if registry.templates:
        modules["soap_credentials"] = registry.module_source()
    pkg = package_name(name)
    groups: dict[str, list[GeneratedAction]] = {}
    for plan in planned:
        groups.setdefault(plan.group, []).append(_action(plan, pkg))
    services = sorted({op.service for op in every})
    review = _review(name, source, services, repeated, left_out_headers, graph)
    unmatched = selection.unmatched_notes(
        "--operations", [n for op in every for n in (op.name, f"{op.service}.{op.name}")], "operation"
    )
    return GeneratedPackage(
        connector=ConnectorSpec(
            name=name,
            title=f"{', '.join(services)} (SOAP, generated from {path.name})",
            base=ImportRef("connectors.soap", "SoapConnector"),
            settings_base=ImportRef("connectors.soap", "SoapSettings"),
            settings=(_wsdl_setting(path), *registry.fields.values()),
        ),
        source=SourceInfo("wsdl", source, digest, title=", ".join(services)),
        model_modules=modules,
        groups=groups,
        skipped=skipped,
        review=review,
        unmatched=unmatched,
    )


def _local_wsdl(source: str) -> Path:
    if urlsplit(source).scheme in ("http", "https"):
        raise SourceError("give the WSDL as a local file (download it first): the generator never fetches")
    path = Path(source).expanduser()
    if not path.is_file():
        raise SourceError(f"there is no WSDL file at {source}")
    return path.resolve()


@contextmanager
def _readable(source: str) -> Iterator[None]:
    try:
        yield
    except SourceError:
        raise
    except Exception as exc:  # zeep and lxml raise many kinds; one sentence for the user
        problem = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise SourceError(f"the WSDL {source} cannot be read: {problem}") from exc


def _plan(
    document: Any,
    graph: TypeGraph,
    registry: SettingsRegistry,
    info: OperationInfo,
    group: str,
    methods: Namespace,
    prefixes: Namespace,
    left_out_headers: set[str],
) -> _Planned:
    operation = find_operation(document, info.name, service=info.service, port=info.port)
    body_in = getattr(getattr(operation.input, "body", None), "type", None)
    body_out = getattr(getattr(operation.output, "body", None), "type", None)
    fields_in = graph.message_fields(body_in, owner=message_owner(operation.input))
    fields_out = graph.message_fields(body_out, owner=message_owner(operation.output))
    kept, body = body_credentials(graph, snake(info.name), fields_in, registry)
    header_type = getattr(getattr(operation.input, "header", None), "type", None)
    headers, left_out = header_template(graph, header_type, registry) if header_type is not None else ({}, [])
    left_out_headers.update(left_out)
    notes: list[str] = []
    if body:
        notes.append(f"filled from settings, not inputs: {', '.join(sorted(body))}")
    if not fields_out:
        notes.append("the answer has no content: the action returns an empty model")
    return _Planned(
        info=info,
        group=group,
        method=methods.claim(_method_name(info.name)),
        prefix=prefixes.claim(pascal(info.name)),
        input_fields=kept,
        output_fields=fields_out,
        headers=registry.constant("HEADERS", headers) if headers else None,
        body=registry.constant("BODY", body) if body else None,
        notes=tuple(notes),
    )


def _method_name(operation: str) -> str:
    name = snake(operation)
    return f"{name}_" if name in _TAKEN_METHODS else name  # `call` -> `call_`, not `call_2`


def _messages(plan: _Planned) -> list[MessageModel]:
    name = plan.info.name
    return [
        MessageModel(f"{plan.prefix}Input", plan.input_fields, "input", f"Arguments of {name}.", plan.group),
        MessageModel(f"{plan.prefix}Output", plan.output_fields, "output", f"Answer of {name}.", plan.group),
    ]


def _action(plan: _Planned, pkg: str) -> GeneratedAction:
    info = plan.info
    out = f"{plan.prefix}Output"
    arguments = "req"
    imports: set[str] = set()
    constants = [c for c in (plan.headers, plan.body) if c]
    if constants:
        imports.add(f"from {pkg}.models.soap_credentials import {', '.join(sorted(constants))}")
    if plan.body:
        imports.add("from connectors.soap.settings_values import settings_values")
        arguments = f"{{**req.model_dump(), **settings_values(self.settings, {plan.body})}}"
    headers = ""
    if plan.headers:
        imports.add("from connectors.soap.settings_values import soap_headers")
        headers = f", headers=soap_headers(self.settings, {plan.headers})"
    if plan.output_fields:
        body: tuple[str, ...] = (
            f'return await self.call("{info.name}", {arguments}, returns={out}{headers})',
        )
    else:
        body = (f'await self.call_raw("{info.name}", {arguments}{headers})', f"return {out}()")
    return GeneratedAction(
        method=plan.method,
        effect=from_operation_name(info.name),
        summary=f"SOAP operation {info.name} of {info.service} (port {info.port}).",
        source_ref=f"SOAP {info.service}.{info.port}.{info.name}",
        input_model=ModelRef(plan.group, f"{plan.prefix}Input"),
        output_model=ModelRef(plan.group, out),
        body=body,
        imports=frozenset(imports),
        notes=plan.notes,
    )


def _wsdl_setting(path: Path) -> SettingField:
    return SettingField(
        "wsdl",
        "str",
        repr(str(path)),
        "the WSDL (path or URL); the default is where it was generated from: point it at your copy",
    )


def _review(
    name: str, source: str, services: list[str], repeated: int, left_out: set[str], graph: TypeGraph
) -> list[str]:
    notes = [
        f"The WSDL setting defaults to `{source}` as given to the generator: set RETROFIT_{name.upper()}_WSDL "
        "(or ship the WSDL with the package) before you deploy.",
        "Enumerations are strict `Literal`s: a value the system adds later fails validation of an "
        "answer. Widen a field to `str` where that matters.",
    ]
    if any(node.subtypes for node in graph.nodes.values()):
        notes.append(
            "Polymorphic fields (`…Variants`) take any subtype: set `xsi_type` to the subtype's name; "
            "the call sends it as `xsi:type`."
        )
    secret = sorted({f"{n.local}.{f.xml_name}" for n in graph.nodes.values() for f in n.fields if f.secret})
    if secret:
        shown = ", ".join(secret[:12]) + (f" and {len(secret) - 12} more" if len(secret) > 12 else "")
        notes.append(
            f"Fields typed `SecretStr` for their name (hidden in logs, answers and the audit trail): {shown}. "
            "Make a field `str` where the name misleads."
        )
    if len(services) > 1:
        notes.append(
            f"The WSDL has {len(services)} services; the connector binds one (setting `service_name`), "
            "so actions of the others need their own connector."
        )
    if repeated:
        notes.append(
            f"{repeated} operations repeat on a second port (e.g. SOAP 1.2); each is generated once."
        )
    if left_out:
        notes.append(
            f"SOAP headers not set by the generated code (no credential in them): {', '.join(sorted(left_out))}."
        )
    return notes
