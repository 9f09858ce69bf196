"""Turn an MCP tool's input JSON schema into a pydantic model the gate validates with.

Supported: an object whose properties are strings, integers, numbers, booleans, enums/consts,
arrays of those, nested objects of the same, `X | null`, local `$ref`s into `$defs`, `required`
and `default`, and the common bounds (length, range, pattern, items). Anything else — `oneOf`,
`allOf`, unions of several types, conditional schemas — is refused at import time with the path
that could not be represented: a model that silently accepts more than the schema would let the
model send arguments nobody reviewed.
"""

from __future__ import annotations

import keyword
import re
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, create_model

_PRIMITIVES: dict[str, type] = {"string": str, "integer": int, "number": float, "boolean": bool}
# Keywords that only describe (or that we enforce elsewhere): they never widen what is accepted.
_DESCRIPTIVE = {
    "title",
    "description",
    "examples",
    "format",
    "$schema",
    "$id",
    "$comment",
    "additionalProperties",  # the model always forbids extra fields: never looser than the schema
    "deprecated",
    "readOnly",
    "writeOnly",
    "contentMediaType",
    "contentEncoding",
}
_BOUNDS = {
    "minLength": "min_length",
    "maxLength": "max_length",
    "minimum": "ge",
    "maximum": "le",
    "exclusiveMinimum": "gt",
    "exclusiveMaximum": "lt",
    "multipleOf": "multiple_of",
    "pattern": "pattern",
    "minItems": "min_length",
    "maxItems": "max_length",
}
_STRUCTURE = {"type", "properties", "required", "items", "enum", "const", "default", "$ref", "$defs"}
_STRUCTURE |= {"definitions", "anyOf"}
_MAX_DEPTH = 8
_IDENT = re.compile(r"[^0-9a-zA-Z_]")


class UnsupportedSchemaError(ValueError):
    """The tool's input schema uses something the generated model cannot enforce."""

    def __init__(self, tool: str, where: str, problem: str) -> None:
        super().__init__(f"MCP tool {tool!r}: input schema at {where} is not supported: {problem}")
        self.tool = tool
        self.where = where


def input_model(model_name: str, tool: str, schema: dict[str, Any]) -> type[BaseModel]:
    """The pydantic model for `schema` (an MCP tool's `inputSchema`), or UnsupportedSchemaError."""
    return _Builder(tool, schema).object_model(model_name, schema, "$", 0)


class _Builder:
    def __init__(self, tool: str, root: dict[str, Any]) -> None:
        self._tool = tool
        self._defs: dict[str, Any] = {**root.get("definitions", {}), **root.get("$defs", {})}

    def _refuse(self, where: str, problem: str) -> UnsupportedSchemaError:
        return UnsupportedSchemaError(self._tool, where, problem)

    def _resolve(self, schema: Any, where: str, depth: int) -> dict[str, Any]:
        if not isinstance(schema, dict):
            raise self._refuse(where, f"expected a schema object, got {type(schema).__name__}")
        for _ in range(_MAX_DEPTH):
            ref = schema.get("$ref")
            if ref is None:
                return cast(dict[str, Any], schema)
            match = re.fullmatch(r"#/(?:\$defs|definitions)/([^/]+)", str(ref))
            if match is None or match.group(1) not in self._defs:
                raise self._refuse(where, f"only local $ref into $defs is supported, got {ref!r}")
            extra = set(schema) - {"$ref", *_DESCRIPTIVE, "default"}
            if extra:
                raise self._refuse(where, f"$ref with sibling keywords {sorted(extra)}")
            schema = {**self._defs[match.group(1)], **{k: v for k, v in schema.items() if k != "$ref"}}
        raise self._refuse(where, "$ref chain too deep (recursive schemas are not supported)")

    def _check_keywords(self, schema: dict[str, Any], where: str) -> None:
        unknown = set(schema) - _DESCRIPTIVE - set(_BOUNDS) - _STRUCTURE
        if unknown:
            raise self._refuse(where, f"keywords {sorted(unknown)}")

    def object_model(self, name: str, schema: Any, where: str, depth: int) -> type[BaseModel]:
        schema = self._resolve(schema, where, depth)
        self._check_keywords(schema, where)
        if "anyOf" in schema:
            raise self._refuse(where, "anyOf on an object")
        if schema.get("type", "object") != "object":
            raise self._refuse(where, f"the root must be an object, got type {schema.get('type')!r}")
        properties = schema.get("properties", {})
        required = schema.get("required", [])
        if not isinstance(properties, dict) or not isinstance(required, list):
            raise self._refuse(where, "properties must be an object and required a list")
        missing = [r for r in required if r not in properties]
        if missing:
            raise self._refuse(where, f"required names unknown properties {missing}")
        fields: dict[str, Any] = {}
        taken: set[str] = set()
        for original, prop in properties.items():
            at = f"{where}.{original}"
            py_name = _python_name(str(original), taken)
            taken.add(py_name)
            annotation, resolved = self.annotation(f"{name}_{py_name}", prop, at, depth + 1)
            options: dict[str, Any] = {}
            if py_name != original:
                options["alias"] = original
            if isinstance(resolved.get("description"), str):
                options["description"] = resolved["description"]
            options.update(self._bounds(resolved, at))
            if original in required:
                fields[py_name] = (annotation, Field(**options))
            elif "default" in resolved:
                fields[py_name] = (annotation, Field(default=resolved["default"], **options))
            else:
                # Optional and without a default: left out of the call when not given.
                fields[py_name] = (annotation | None, Field(default=None, **options))
        try:
            return create_model(
                name,
                __config__=ConfigDict(
                    extra="forbid", populate_by_name=True, protected_namespaces=(), frozen=True
                ),
                __doc__=schema.get("description") if isinstance(schema.get("description"), str) else None,
                **fields,
            )
        except Exception as exc:  # e.g. a pattern the regex engine refuses, a default of the wrong type
            raise self._refuse(where, f"{type(exc).__name__}: {exc}") from exc

    def annotation(self, name: str, prop: Any, where: str, depth: int) -> tuple[Any, dict[str, Any]]:
        if depth > _MAX_DEPTH:
            raise self._refuse(where, f"nested deeper than {_MAX_DEPTH} levels")
        prop = self._resolve(prop, where, depth)
        self._check_keywords(prop, where)
        if "anyOf" in prop:
            return self._nullable(name, prop, where, depth)
        if "const" in prop:
            return Literal[self._literal(prop["const"], where)], prop
        if "enum" in prop:
            values = prop["enum"]
            if not isinstance(values, list) or not values:
                raise self._refuse(where, "enum must be a non-empty list")
            return Literal[tuple(self._literal(v, where) for v in values)], prop
        kind = prop.get("type")
        if isinstance(kind, list):
            types = [t for t in kind if t != "null"]
            if len(types) != 1:
                raise self._refuse(where, f"a union of types {kind}")
            inner, _ = self.annotation(name, {**prop, "type": types[0]}, where, depth)
            return (inner | None if "null" in kind else inner), prop
        if kind in _PRIMITIVES:
            return _PRIMITIVES[kind], prop
        if kind == "array":
            if "items" not in prop:
                raise self._refuse(where, "an array without items")
            item, _ = self.annotation(f"{name}_item", prop["items"], f"{where}[]", depth + 1)
            return list[item], prop  # type: ignore[valid-type]
        if kind == "object":
            if "properties" not in prop:
                raise self._refuse(where, "an object without declared properties")
            return self.object_model(name, prop, where, depth), prop
        raise self._refuse(where, f"type {kind!r}")

    def _nullable(
        self, name: str, prop: dict[str, Any], where: str, depth: int
    ) -> tuple[Any, dict[str, Any]]:
        options = prop["anyOf"]
        if not isinstance(options, list):
            raise self._refuse(where, "anyOf must be a list")
        others = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
        if len(others) != 1 or len(options) > 2:
            raise self._refuse(where, "anyOf other than `X | null`")
        inner, resolved = self.annotation(name, others[0], where, depth)
        merged = {**resolved, **{k: v for k, v in prop.items() if k != "anyOf"}}
        return (inner | None if len(options) == 2 else inner), merged

    def _literal(self, value: Any, where: str) -> Any:
        if isinstance(value, str | int | bool) or value is None:
            return value
        raise self._refuse(where, f"enum/const value {value!r} (only strings, integers, booleans)")

    def _bounds(self, prop: dict[str, Any], where: str) -> dict[str, Any]:
        bounds: dict[str, Any] = {}
        for key, option in _BOUNDS.items():
            if key not in prop:
                continue
            value = prop[key]
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise self._refuse(where, f"{key} must be a number (or a pattern string), got {value!r}")
            if key == "pattern":
                self._check_pattern(str(value), where)
            bounds[option] = value
        return bounds

    def _check_pattern(self, pattern: str, where: str) -> None:
        # The validator's regex engine decides; a pattern it refuses must fail here, named.
        try:
            TypeAdapter(Annotated[str, StringConstraints(pattern=pattern)])
        except Exception as exc:
            first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise self._refuse(where, f"pattern {pattern!r}: {first}") from exc


def _python_name(original: str, taken: set[str]) -> str:
    """A field name pydantic accepts; the JSON name stays the alias the tool receives."""
    name = _IDENT.sub("_", original) or "field"
    if name[0].isdigit() or name.startswith("_") or keyword.iskeyword(name) or hasattr(BaseModel, name):
        name = f"f_{name}"
    base, n = name, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name
