"""JSON Schema (as OpenAPI 3.0/3.1 uses it) → pydantic class specs and Python annotations.

Each schema is read in one of two variants: `in` for what the caller sends (request bodies,
parameters: unknown fields refused, readOnly properties left out) and `out` for what the system
answers (unknown fields tolerated, writeOnly properties left out). A named schema
(`#/components/schemas/Invoice`) becomes one class per variant it is used in (`Invoice`,
`InvoiceIn`); an inline object becomes a class named after where it sits. Anything the mapping
cannot type precisely becomes `Any` with a note, never an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from connectors.scaffold.naming import RESERVED, Namespace, pascal, printable, snake
from connectors.scaffold.openapi.document import Document, RefError, as_list

Variant = Literal["in", "out"]

# Class names a model module imports or the writer's modules use: a schema must not take them.
TAKEN_CLASS_NAMES = {
    "BaseModel",
    "ConfigDict",
    "Field",
    "RootModel",
    "UUID",
    "NoContent",
    "BinaryContent",
    "base64",
    *RESERVED,
}
# A field must not rebind a BaseModel member (`json`, `schema`, `copy`, ...): pydantic and mypy refuse.
_MODEL_MEMBERS = frozenset(dir(BaseModel))
_MAX_DEPTH = 24  # inline nesting deeper than this is typed Any: a description that deep is broken
_MAX_DESCRIPTION = 400
_LITERAL_SCALARS = (str, int, bool)


# `IDs`, `URLs`: a plural acronym is one word (`ids`), not `i_ds`.
_PLURAL_ACRONYM = re.compile(r"([A-Z]{2,})s(?![a-z])")


def field_name(original: str, names: Namespace) -> str:
    name = snake(_PLURAL_ACRONYM.sub(lambda m: m.group(1) + "S", original), fallback="field")
    if name in _MODEL_MEMBERS:
        name = f"{name}_"
    return names.claim(name)


def describe(schema: Any) -> str:
    if not isinstance(schema, dict):
        return ""
    text = schema.get("description") or schema.get("title") or ""
    text = printable(str(text))
    return text if len(text) <= _MAX_DESCRIPTION else text[: _MAX_DESCRIPTION - 1] + "…"


@dataclass
class FieldSpec:
    name: str
    annotation: str
    required: bool
    alias: str | None = None
    description: str = ""


@dataclass
class ClassSpec:
    """One generated class (`model`), RootModel (`root`) or type alias (`alias`)."""

    name: str
    kind: Literal["model", "root", "alias"]
    variant: Variant
    owner: str  # the unit it belongs to: "component:<key>" or "operation:<id>"
    description: str = ""
    fields: list[FieldSpec] = field(default_factory=list)
    target: str = ""  # a root model's or alias's annotation
    refs: set[str] = field(default_factory=set)  # class names used in its annotations


@dataclass
class SchemaReader:
    """Reads schemas into `classes`; one reader per document, shared by every operation."""

    doc: Document
    classes: dict[str, ClassSpec] = field(default_factory=dict)  # class name → spec, in creation order
    names: Namespace = field(default_factory=lambda: Namespace(set(TAKEN_CLASS_NAMES)))
    notes: list[str] = field(default_factory=list)  # loose typing the integrator should know of
    _components: dict[tuple[str, Variant], tuple[str, bool]] = field(default_factory=dict)
    _unit_refs: dict[str, set[str]] = field(default_factory=dict)  # owner → component owners it uses
    _pending: str | None = None  # the component class whose properties the next object fills

    # -- public --------------------------------------------------------------------------------

    def annotation(
        self, schema: Any, hint: str, owner: str, variant: Variant, base: Path | None = None
    ) -> tuple[str, bool]:
        """The Python annotation for `schema` and whether it may be null."""
        refs: set[str] = set()
        ann, nullable = self._type(schema, hint, owner, variant, base, refs, 0)
        self._note_refs(owner, refs)
        return ann, nullable

    def model(
        self, name: str, owner: str, variant: Variant, description: str, fields: list[FieldSpec]
    ) -> ClassSpec:
        """A class built by the caller (an operation's input), registered like the others."""
        spec = ClassSpec(name, "model", variant, owner, description, fields)
        spec.refs = {r for f in fields for r in _class_names(f.annotation) if r in self.classes or r == name}
        self.classes[name] = spec
        self._note_refs(owner, spec.refs)
        return spec

    def root(self, name: str, owner: str, variant: Variant, target: str) -> ClassSpec:
        spec = ClassSpec(name, "root", variant, owner, target=target)
        spec.refs = {r for r in _class_names(target) if r in self.classes}
        self.classes[name] = spec
        self._note_refs(owner, spec.refs)
        return spec

    def unit_dependencies(self) -> dict[str, set[str]]:
        """Owner → the component owners its classes use (for splitting into modules)."""
        return self._unit_refs

    def owner_of(self, class_name: str) -> str:
        return self.classes[class_name].owner

    # -- mapping -------------------------------------------------------------------------------

    def _note_refs(self, owner: str, refs: set[str]) -> None:
        deps = self._unit_refs.setdefault(owner, set())
        for ref in refs:
            if ref in self.classes and self.classes[ref].owner != owner:
                deps.add(self.classes[ref].owner)

    def _loose(self, why: str) -> tuple[str, bool]:
        if why not in self.notes:
            self.notes.append(why)
        return "Any", False

    def _type(
        self,
        schema: Any,
        hint: str,
        owner: str,
        variant: Variant,
        base: Path | None,
        refs: set[str],
        depth: int,
    ) -> tuple[str, bool]:
        if depth > _MAX_DEPTH:
            return self._loose(f"{hint}: nested deeper than {_MAX_DEPTH} levels, typed Any")
        if schema is True or schema == {} or schema is None:
            return "Any", False
        if not isinstance(schema, dict):
            return self._loose(f"{hint}: a schema that is not an object, typed Any")
        if "$ref" in schema:
            ann, nullable = self._ref(schema["$ref"], hint, variant, base, refs, depth)
            return ann, nullable or schema.get("nullable") is True
        nullable = schema.get("nullable") is True
        for key in ("allOf", "oneOf", "anyOf"):
            if key in schema and not isinstance(schema[key], list):
                return self._loose(f"{hint}: {key} is not a list, typed Any")
        if "allOf" in schema:
            return self._all_of(schema, hint, owner, variant, base, refs, depth)
        if "oneOf" in schema or "anyOf" in schema:
            members = schema.get("oneOf") or schema.get("anyOf") or []
            anns: list[str] = []
            for i, member in enumerate(members):
                ann, member_null = self._type(
                    member, f"{hint}Option{i + 1}", owner, variant, base, refs, depth + 1
                )
                nullable = nullable or member_null
                if member_null and ann == "None":
                    continue
                if ann == "Any":
                    return "Any", nullable
                if ann not in anns:
                    anns.append(ann)
            if not anns:
                return ("None", True) if nullable else ("Any", False)
            return " | ".join(anns), nullable
        if "const" in schema:
            return _literal([schema["const"]]) or "Any", nullable
        types = schema.get("type")
        if isinstance(types, list):  # 3.1: ["string", "null"]
            kinds = [t for t in types if t != "null"]
            nullable = nullable or "null" in types
            if not kinds:
                return "None", True
            if len(kinds) > 1:
                anns = [
                    self._type({**schema, "type": k}, hint, owner, variant, base, refs, depth + 1)[0]
                    for k in kinds
                ]
                return " | ".join(dict.fromkeys(anns)), nullable
            types = kinds[0]
        if types == "null":
            return "None", True
        if isinstance(schema.get("enum"), list):
            values = schema["enum"]
            nullable = nullable or None in values
            literal = _literal([v for v in values if v is not None])
            if literal:
                return literal, nullable
        if types == "string":
            return _string(schema, variant), nullable
        if types == "integer":
            return "int", nullable
        if types == "number":
            return "float", nullable
        if types == "boolean":
            return "bool", nullable
        if types == "array" or (types is None and "items" in schema):
            item, item_null = self._type(
                schema.get("items", {}), f"{hint}Item", owner, variant, base, refs, depth + 1
            )
            if item_null and item not in ("Any", "None"):
                item = f"{item} | None"
            return f"list[{item}]", nullable
        if types == "object" or (
            types is None and ("properties" in schema or "additionalProperties" in schema)
        ):
            return self._object(schema, hint, owner, variant, base, refs, depth), nullable
        if types is None:
            return "Any", nullable
        return self._loose(f"{hint}: type {str(types)[:30]!r} is not a JSON Schema type, typed Any")

    def _ref(
        self, ref: Any, hint: str, variant: Variant, base: Path | None, refs: set[str], depth: int
    ) -> tuple[str, bool]:
        try:
            target, file = self.doc.resolve(ref, base=base)
        except RefError as exc:
            return self._loose(f"{hint}: {exc}, typed Any")
        key = f"{file}#{str(ref).partition('#')[2]}"
        if not _is_named(target):
            # A $ref to a plain type (`Money: {type: number}`): inline it, no class needed.
            owner = f"component:{key}"
            return self._type(
                target, pascal(_ref_name(ref), fallback=hint), owner, variant, file, refs, depth + 1
            )
        kind_variant: Variant = "out" if _is_enum(target) else variant  # an alias serves both variants
        existing = self._components.get((key, kind_variant))
        if existing is not None:
            refs |= {r for r in _class_names(existing[0]) if r in self.classes}
            return existing
        wanted = pascal(_ref_name(ref), fallback="Schema")
        name = self.names.claim(wanted if kind_variant == "out" else f"{wanted}In")
        self._components[(key, kind_variant)] = (name, False)
        owner = f"component:{key}:{kind_variant}"
        refs.add(name)
        if _is_enum(target):
            literal = _literal([v for v in target["enum"] if v is not None]) or "str"
            self.classes[name] = ClassSpec(name, "alias", "out", owner, describe(target), target=literal)
            self._unit_refs.setdefault(owner, set())
            enum_null = None in target["enum"] or target.get("nullable") is True
            self._components[(key, kind_variant)] = (name, enum_null)
            return name, enum_null
        # Registered before its fields are read, so a schema that refers to itself terminates.
        spec = ClassSpec(name, "model", kind_variant, owner, describe(target))
        self.classes[name] = spec
        self._unit_refs.setdefault(owner, set())
        inner: set[str] = set()
        self._pending = name
        try:
            ann, nullable = self._type(target, name, owner, kind_variant, file, inner, depth + 1)
        finally:
            self._pending = None
        if ann != name:
            # A union or dict-shaped component: no class of its own, the annotation stands in for
            # it (a RootModel would change the value's shape, and could not forbid extra fields).
            if name in _class_names(ann):  # a union that contains itself needs the class after all
                spec.kind, spec.target = "root", ann
                spec.refs = {r for r in _class_names(ann) if r in self.classes}
            else:
                del self.classes[name]
                self._components[(key, kind_variant)] = (ann, nullable)
                refs |= {r for r in _class_names(ann) if r in self.classes}
                self._note_refs(owner, inner)
                return ann, nullable
        self._note_refs(owner, inner)
        return name, nullable

    def _object(
        self,
        schema: dict[str, Any],
        hint: str,
        owner: str,
        variant: Variant,
        base: Path | None,
        refs: set[str],
        depth: int,
    ) -> str:
        props = schema.get("properties")
        if not isinstance(props, dict) or not props:
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict) and extra:
                value, value_null = self._type(extra, f"{hint}Value", owner, variant, base, refs, depth + 1)
                return (
                    f"dict[str, {value} | None]" if value_null and value != "Any" else f"dict[str, {value}]"
                )
            return "dict[str, Any]"
        # The class named by a component $ref was registered by the caller; inline objects get one here.
        if self._pending is not None and self._pending == hint:
            spec, self._pending = self.classes[hint], None
        else:
            spec = ClassSpec(self.names.claim(pascal(hint)), "model", variant, owner, describe(schema))
            self.classes[spec.name] = spec
        required = as_list(schema.get("required"))
        names = Namespace()
        for original, prop in props.items():
            original = str(original)
            resolved = prop
            if isinstance(prop, dict) and "$ref" in prop:
                try:
                    resolved = self.doc.deref(prop, base=base)
                except RefError:
                    resolved = prop
            if isinstance(resolved, dict):
                if variant == "in" and resolved.get("readOnly") is True:
                    continue
                if variant == "out" and resolved.get("writeOnly") is True:
                    continue
            inner: set[str] = set()
            ann, nullable = self._type(
                prop,
                f"{spec.name}{pascal(original, fallback='Field')}",
                owner,
                variant,
                base,
                inner,
                depth + 1,
            )
            refs |= inner
            spec.refs |= {r for r in inner if r in self.classes}
            if nullable and ann != "Any" and ann != "None":
                ann = f"{ann} | None"
            name = field_name(original, names)
            spec.fields.append(
                FieldSpec(
                    name=name,
                    annotation=ann,
                    required=original in required,
                    alias=None if name == original else original,
                    description=describe(prop) or describe(resolved),
                )
            )
        refs.add(spec.name)
        return spec.name

    def _all_of(
        self,
        schema: dict[str, Any],
        hint: str,
        owner: str,
        variant: Variant,
        base: Path | None,
        refs: set[str],
        depth: int,
    ) -> tuple[str, bool]:
        parts = [p for p in schema["allOf"] if p not in (True, {}, None)]
        rest = {k: v for k, v in schema.items() if k != "allOf"}
        if rest.get("properties") or rest.get("required"):
            parts.append(rest)
        if len(parts) == 1:
            ann, nullable = self._type(parts[0], hint, owner, variant, base, refs, depth + 1)
            return ann, nullable or schema.get("nullable") is True
        # Several parts: one class with every part's properties (what a valid instance must have).
        merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
        for part in parts:
            try:
                resolved = self.doc.deref(part, base=base)
                for _ in range(8):  # nested allOf inside a part, a few levels deep
                    if (
                        isinstance(resolved, dict)
                        and "allOf" in resolved
                        and isinstance(resolved["allOf"], list)
                    ):
                        extra = {k: v for k, v in resolved.items() if k != "allOf"}
                        for sub in resolved["allOf"]:
                            sub = self.doc.deref(sub, base=base)
                            if isinstance(sub, dict):
                                extra.setdefault("properties", {}).update(sub.get("properties") or {})
                                extra["required"] = [
                                    *(extra.get("required") or []),
                                    *(sub.get("required") or []),
                                ]
                        resolved = extra
                    else:
                        break
            except RefError as exc:
                return self._loose(f"{hint}: {exc}, typed Any")
            if not isinstance(resolved, dict) or not isinstance(resolved.get("properties", {}), dict):
                return self._loose(f"{hint}: allOf of something that is not an object, typed Any")
            merged["properties"].update(resolved.get("properties") or {})
            if isinstance(resolved.get("required"), list):
                merged["required"] += resolved["required"]
        if not merged["properties"]:
            return "dict[str, Any]", schema.get("nullable") is True
        return self._object(merged, hint, owner, variant, base, refs, depth), schema.get("nullable") is True


def _is_enum(schema: Any) -> bool:
    return (
        isinstance(schema, dict)
        and isinstance(schema.get("enum"), list)
        and bool(_literal([v for v in schema["enum"] if v is not None]))
    )


def _is_named(schema: Any) -> bool:
    """Whether a referenced schema deserves its own class (an object, a union, an enum)."""
    if not isinstance(schema, dict):
        return False
    if _is_enum(schema):
        return True
    if any(k in schema for k in ("allOf", "oneOf", "anyOf")):
        return True
    return isinstance(schema.get("properties"), dict) and bool(schema["properties"])


def _ref_name(ref: Any) -> str:
    return str(ref).rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1] or "Schema"


def _string(schema: dict[str, Any], variant: Variant) -> str:
    fmt = schema.get("format")
    if schema.get("x-is-msdate"):
        return "str"  # Xero's `/Date(1573755038314+0000)/`: not ISO 8601, keep the text
    if fmt == "date-time":
        return "datetime"
    if fmt == "date":
        return "date"
    if fmt == "uuid" and variant == "in":
        return "UUID"  # inputs are checked; answers keep the text (systems send `""` for none)
    return "str"


def _literal(values: list[Any]) -> str:
    if not values or not all(isinstance(v, _LITERAL_SCALARS) for v in values):
        return ""
    unique = list(dict.fromkeys((type(v).__name__, v) for v in values))
    # repr() is valid Python for any str, lone surrogates and quotes included.
    return "Literal[" + ", ".join(repr(v) for _, v in unique) + "]"


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')


def _class_names(annotation: str) -> set[str]:
    """Identifiers an annotation uses, outside Literal string values."""
    return set(_IDENT.findall(_STRING.sub("", annotation)))


class_names = _class_names
