"""`read_openapi()`: an OpenAPI description, as the package `write_package()` writes."""

from __future__ import annotations

import dataclasses
from collections import Counter

from connectors.rest import RestConnector, RestSettings
from connectors.scaffold.errors import SourceError
from connectors.scaffold.naming import Namespace, pascal, printable, snake
from connectors.scaffold.openapi.document import Document, as_dict, load_document
from connectors.scaffold.openapi.grouping import group_operations
from connectors.scaffold.openapi.model_source import assign_modules, render_modules
from connectors.scaffold.openapi.operations import ActionBuilder, Operation, SkipOperation, list_operations
from connectors.scaffold.openapi.schemas import ClassSpec, FieldSpec, SchemaReader, class_names
from connectors.scaffold.openapi.security import Security, read_security
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

# Names the generated action modules import or define: a model class must not take them.
_ACTION_MODULE_NAMES = {"RestConnector", "Effect", "action", "path_segment", "decode_response", "annotations"}


def read_openapi(name: str, source: str, selection: Selection) -> GeneratedPackage:
    doc = load_document(source)
    info = as_dict(doc.root.get("info"))
    # Both end up inside generated docstrings and comments: no quotes or backslashes to close them.
    title = _plain(str(info.get("title") or doc.path.stem))[:120]
    version = _plain(str(info.get("version") or ""))[:40]

    operations, skipped = list_operations(doc)
    if not operations and not skipped:
        raise SourceError(f"{doc.path.name} has paths but no operations")
    selected = [op for op in operations if selection.matches(*_selection_names(op))]
    review: list[str] = []
    unmatched = selection.unmatched_notes(
        "--operations", (n for op in operations for n in _selection_names(op)), "operation"
    )
    if not selected:
        raise SourceError(
            f"no operation of {doc.path.name} matches --operations"
            if not selection.everything
            else f"no operation of {doc.path.name} can be generated"
        )

    security = read_security(doc)
    reader = SchemaReader(doc)
    groups = group_operations(selected)
    for group in groups:
        reader.names.claim(f"{pascal(group)}Actions")
    for taken in _ACTION_MODULE_NAMES:
        if taken not in reader.names:
            reader.names.claim(taken)
    header_settings, header_fields = _header_settings(selected, security)
    builder = ActionBuilder(
        doc=doc,
        reader=reader,
        package=package_name(name),
        method_names=Namespace(
            {n for n in dir(RestConnector) if not n.startswith("__")} | {"name", "settings"}
        ),
        credential_headers=security.credential_headers,
        credential_query=security.credential_query,
        header_settings=header_settings,
    )
    built: dict[str, list[GeneratedAction]] = {}
    group_of_owner: dict[str, str] = {}
    for group, members in groups.items():
        for operation in members:
            try:
                action = builder.build(operation, group)
            except SkipOperation as exc:
                skipped.append(Skipped(operation.ref, str(exc)))
                continue
            built.setdefault(group, []).append(action)
            group_of_owner[f"operation:{group}:{operation.ref}"] = group
    if not built:
        reasons = Counter(s.reason for s in skipped).most_common(1)
        raise SourceError(
            f"none of the {len(selected)} selected operation(s) of {doc.path.name} can be generated"
            + (f" (e.g. {reasons[0][0]})" if reasons else "")
        )
    if builder.needs_no_content:
        reader.classes["NoContent"] = ClassSpec(
            "NoContent",
            "model",
            "out",
            "common",
            "An answer without a body: only its HTTP status.",
            [FieldSpec("status", "int", True, None, "the HTTP status code")],
        )
        group_of_owner["common"] = "common"

    if builder.needs_binary:
        reader.classes["BinaryContent"] = ClassSpec(
            "BinaryContent",
            "model",
            "out",
            "common",
            "A file the system answered with: its media type, size and bytes (base64).",
            [
                FieldSpec("content_type", "str", True, None, "the Content-Type the system sent"),
                FieldSpec("size", "int", True, None, "the size in bytes"),
                FieldSpec("content_base64", "str", True, None, "the bytes, base64-encoded"),
            ],
        )
        group_of_owner["common"] = "common"
    module_of = assign_modules(reader, group_of_owner, set(groups))
    model_modules = render_modules(reader, module_of, package_name(name))
    placed = {
        group: [
            dataclasses.replace(
                a,
                input_model=ModelRef(module_of[a.input_model.name], a.input_model.name),
                output_model=ModelRef(module_of[a.output_model.name], a.output_model.name),
                imports=a.imports | _body_model_imports(a, module_of, package_name(name)),
            )
            for a in actions
        ]
        for group, actions in built.items()
    }
    if reader.notes:
        review.append(
            f"{len(reader.notes)} schema(s) typed loosely (Any); see the models, e.g. "
            + "; ".join(reader.notes[:3])
        )
    review += security.review
    review.append(
        "Output enums are strict Literals: a value the description does not list fails decoding; "
        "widen a field (`| str`) where the system is known to add values."
    )
    return GeneratedPackage(
        connector=ConnectorSpec(
            name=name,
            title=f"{title} {version}".strip() + " (OpenAPI)",
            base=ImportRef("connectors.rest", "RestConnector"),
            settings_base=ImportRef("connectors.rest", "RestSettings"),
            settings=(*_base_url(doc, review), *security.settings, *header_fields),
            members=tuple(security.members),
            member_imports=frozenset(security.imports),
        ),
        source=SourceInfo("openapi", source, doc.digest, title, version),
        model_modules=model_modules,
        groups=placed,
        skipped=skipped,
        review=review,
        unmatched=unmatched,
    )


def _body_model_imports(action: GeneratedAction, module_of: dict[str, str], package: str) -> frozenset[str]:
    """Models the body uses besides its input and output (the RootModel that decodes a list)."""
    used = {n for line in action.body for n in class_names(line)} & set(module_of)
    used -= {action.input_model.name, action.output_model.name}
    return frozenset(f"from {package}.models.{module_of[n]} import {n}" for n in sorted(used))


def _plain(text: str) -> str:
    # Outside the BMP (emoji) a character becomes a surrogate pair in the pyproject's JSON-style
    # escapes, which TOML refuses: keep the title installable.
    return printable(
        "".join(c if ord(c) <= 0xFFFF else " " for c in text.replace("\\", "/").replace('"', "'"))
    )


def _selection_names(op: Operation) -> list[str]:
    return [op.operation_id, op.ref, op.path, *op.tags]


def _base_url(doc: Document, review: list[str]) -> list[SettingField]:
    servers = doc.root.get("servers")
    url = ""
    if isinstance(servers, list) and servers and isinstance(servers[0], dict):
        url = str(servers[0].get("url") or "")
        variables = as_dict(servers[0].get("variables"))
        for var, spec in variables.items():
            if isinstance(spec, dict) and "default" in spec:
                url = url.replace("{" + str(var) + "}", str(spec["default"]))
    imports = frozenset({"from pydantic import AnyHttpUrl"})
    if url.startswith(("https://", "http://")) and "{" not in url and "'" not in url and "\\" not in url:
        return [
            SettingField(
                "base_url", "AnyHttpUrl", f"AnyHttpUrl({url!r})", "where the API is", imports=imports
            )
        ]
    review.append(
        "The description names no absolute server URL: set `base_url` "
        + (f"(it says {url[:80]!r})" if url else "")
    )
    return [SettingField("base_url", "AnyHttpUrl", None, "where the API is", imports=imports)]


def _header_settings(
    operations: list[Operation], security: Security
) -> tuple[dict[str, str], list[SettingField]]:
    """Required headers most operations declare (a tenant id): settings, not inputs of every action."""
    counts: Counter[str] = Counter()
    spelled: dict[str, str] = {}
    for operation in operations:
        for param in operation.params:
            if str(param.get("in")).lower() == "header" and param.get("required") is True:
                key = str(param["name"]).lower()
                if key in ("accept", "content-type", "authorization", "idempotency-key"):
                    continue
                if key in security.credential_headers:
                    continue
                counts[key] += 1
                spelled.setdefault(key, str(param["name"]))
    names = Namespace({*RestSettings.model_fields, *(s.name for s in security.settings)})
    mapping: dict[str, str] = {}
    fields: list[SettingField] = []
    for key, count in counts.items():
        if count >= 2 and count * 2 >= len(operations):
            setting = names.claim(snake(spelled[key], fallback="header"))
            mapping[key] = setting
            fields.append(
                SettingField(
                    setting,
                    "str",
                    None,
                    f"sent as the {spelled[key]!r} header on every call that declares it",
                )
            )
    return mapping, fields
