"""Form fields from a pydantic model's JSON Schema (`model_json_schema()` output).

`form_fields(schema, exclude=...)` flattens the schema into `FormField`s, one per input: nested
objects become dotted names (`budget.max_steps`) grouped in fieldsets; `$ref`/`$defs` are
resolved. What a form cannot express well (free dicts, unions, lists of objects, recursive models)
becomes a JSON textarea, validated on the server like everything else.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

# Deeper than this, a nested object is one JSON field: no recursion on self-referencing models.
_MAX_DEPTH = 4


class Kind(StrEnum):
    TEXT = "text"  # <input>: string (type text/date/datetime-local/email)
    INTEGER = "integer"
    NUMBER = "number"  # float, or a pydantic Decimal (`decimal=True`: kept as the typed string)
    CHECKBOX = "checkbox"  # boolean: unchecked means false
    SELECT = "select"  # enum / Literal (and Optional[bool]: yes / no / empty)
    LINES = "lines"  # list of scalars, one per line
    JSON = "json"  # anything else: a JSON textarea


@dataclass(frozen=True)
class FormField:
    """One input. `name` is the dotted path into the model's input; `section` the enclosing
    fieldsets, outermost first, as (dotted prefix, legend) pairs."""

    name: str
    kind: Kind
    label: str
    help: str | None = None
    default: Any = None
    has_default: bool = False
    required: bool = False
    nullable: bool = False  # Optional: empty means None
    input_type: str = "text"  # the HTML <input type>
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    step: str | None = None  # "any", "1", or the schema's multipleOf
    multiple_of: float | None = None
    decimal: bool = False
    pattern: str | None = None  # the schema's (a search, Python/ECMA regex)
    min_length: int | None = None
    max_length: int | None = None
    choices: tuple[tuple[Any, str], ...] = ()  # (JSON value, label)
    item_kind: Kind | None = None  # LINES: the items' kind (TEXT, INTEGER, NUMBER, SELECT)
    section: tuple[tuple[str, str], ...] = ()


def humanise(name: str) -> str:
    """`max_steps` -> `Max steps`."""
    words = name.replace("_", " ").replace("-", " ").split()
    return " ".join(words).capitalize() if words else name


def form_fields(schema: Mapping[str, Any], exclude: Collection[str] = ()) -> list[FormField]:
    """The inputs of a form for `schema` (an object schema), in the schema's property order.
    `exclude`: dotted names the operator owns; they get no input (and `parse_form` refuses them)."""
    resolver = _Resolver(schema.get("$defs", {}))
    fields: list[FormField] = []
    _object(resolver, resolver.resolve(schema), "", (), True, 0, set(exclude), fields)
    return fields


class _Resolver:
    def __init__(self, defs: Mapping[str, Any]) -> None:
        self.defs = defs

    def resolve(self, node: Mapping[str, Any]) -> dict[str, Any]:
        """`node` with `$ref` (and a single-item `allOf`, older pydantic) replaced by its target;
        the node's own keys (title, description, default) win over the target's."""
        out = dict(node)
        for _ in range(32):  # a chain of refs, not a cycle
            if "$ref" in out:
                ref = out.pop("$ref")
                target = self._target(ref)
                out = {**target, **out}
            elif isinstance(out.get("allOf"), list) and len(out["allOf"]) == 1:
                inner = out.pop("allOf")[0]
                out = {**self.resolve(inner), **out}
            else:
                return out
        raise ValueError("schema: $ref chain too long")

    def _target(self, ref: Any) -> dict[str, Any]:
        prefix = "#/$defs/"
        if not isinstance(ref, str) or not ref.startswith(prefix) or ref[len(prefix) :] not in self.defs:
            raise ValueError(f"schema: unresolvable $ref {ref!r}")
        return dict(self.defs[ref[len(prefix) :]])


def _object(
    resolver: _Resolver,
    node: dict[str, Any],
    prefix: str,
    section: tuple[tuple[str, str], ...],
    required_here: bool,
    depth: int,
    exclude: set[str],
    out: list[FormField],
) -> None:
    properties = node.get("properties", {})
    required = set(node.get("required", []))
    for key, raw in properties.items():
        if "." in key or not key:
            raise ValueError(f"schema: property name {key!r} cannot be a form input name (dots are paths)")
        name = f"{prefix}{key}"
        if name in exclude:
            continue
        prop = resolver.resolve(raw)
        is_required = required_here and key in required
        nullable = False
        variants = prop.get("anyOf")
        if isinstance(variants, list):
            non_null = [resolver.resolve(v) for v in variants if v.get("type") != "null"]
            nullable = len(non_null) < len(variants)
            merged = _decimal(non_null) or (non_null[0] if len(non_null) == 1 else None)
            if merged is not None:
                prop = {**merged, **{k: v for k, v in prop.items() if k != "anyOf"}}
        # The property's own title; a $ref target's is a class name (`ModelChoice`), not a label.
        label = str(raw.get("title") or humanise(key))
        if prop.get("type") == "object" and "properties" in prop and not nullable and depth < _MAX_DEPTH:
            child_section = (*section, (name, label))
            _object(resolver, prop, f"{name}.", child_section, is_required, depth + 1, exclude, out)
            continue
        out.append(_field(resolver, name, prop, label, is_required, nullable, section))


def _decimal(variants: list[dict[str, Any]]) -> dict[str, Any] | None:
    """pydantic's Decimal: `anyOf: [number (with the bounds), string (maybe a pattern)]`."""
    types = sorted(str(v.get("type")) for v in variants)
    if types != ["number", "string"]:
        return None
    number = next(v for v in variants if v.get("type") == "number")
    return {**number, "x-decimal": True}


def _field(
    resolver: _Resolver,
    name: str,
    prop: dict[str, Any],
    label: str,
    required: bool,
    nullable: bool,
    section: tuple[tuple[str, str], ...],
) -> FormField:
    common: dict[str, Any] = {
        "name": name,
        "label": label,
        "help": str(prop["description"]) if prop.get("description") else None,
        "default": prop.get("default"),
        "has_default": "default" in prop,
        "required": required,
        "nullable": nullable,
        "section": section,
    }
    scalar = _scalar(prop)
    if scalar is not None:
        if scalar.get("kind") == Kind.CHECKBOX and nullable:
            choices = ((True, "Yes"), (False, "No"))
            return FormField(kind=Kind.SELECT, choices=choices, **common)
        return FormField(**scalar, **common)
    if prop.get("type") == "array" and isinstance(prop.get("items"), dict):
        item = _scalar(resolver.resolve(prop["items"]))
        if item is not None and item["kind"] not in (Kind.CHECKBOX,):
            return FormField(
                kind=Kind.LINES,
                item_kind=item["kind"],
                choices=item.get("choices", ()),
                decimal=item.get("decimal", False),
                **common,
            )
    return FormField(kind=Kind.JSON, **common)


def _scalar(prop: dict[str, Any]) -> dict[str, Any] | None:
    """The FormField attributes of a scalar schema, or None when it is not one."""
    if "enum" in prop or "const" in prop:
        values = list(prop["enum"]) if "enum" in prop else [prop["const"]]
        if all(isinstance(v, str | int | float | bool) for v in values):
            return {"kind": Kind.SELECT, "choices": tuple((v, str(v)) for v in values)}
        return None
    kind = prop.get("type")
    if kind == "string":
        fmt = prop.get("format")
        input_type = {"date": "date", "date-time": "datetime-local", "email": "email"}.get(str(fmt), "text")
        return {
            "kind": Kind.TEXT,
            "input_type": input_type,
            "pattern": prop.get("pattern"),
            "min_length": prop.get("minLength"),
            "max_length": prop.get("maxLength"),
        }
    if kind in ("integer", "number"):
        multiple = prop.get("multipleOf")
        step = str(multiple) if multiple is not None else ("1" if kind == "integer" else "any")
        return {
            "kind": Kind.INTEGER if kind == "integer" else Kind.NUMBER,
            "input_type": "number",
            "minimum": prop.get("minimum"),
            "maximum": prop.get("maximum"),
            "exclusive_minimum": prop.get("exclusiveMinimum"),
            "exclusive_maximum": prop.get("exclusiveMaximum"),
            "multiple_of": multiple,
            "step": step,
            "decimal": bool(prop.get("x-decimal")),
        }
    if kind == "boolean":
        return {"kind": Kind.CHECKBOX, "input_type": "checkbox"}
    return None
