"""Check a final answer against the task's JSON schema, in workflow code (no I/O, deterministic).

A subset of JSON Schema, enough for what pydantic's `model_json_schema()` emits for flat and nested
models: type, properties, required, additionalProperties false, items, enum, const, anyOf, local
`$ref`s into `$defs`, minimum/maximum, minLength/maxLength, minItems/maxItems. Unknown keywords are
ignored, not guessed at.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def parse_answer(answer: str | None, schema: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """(the parsed object, None), or (None, what is wrong) in words the model can act on."""
    text = (answer or "").strip()
    if text.startswith("```"):  # a fenced answer is common enough to accept
        text = text.strip("`").removeprefix("json").strip()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"the answer is not JSON ({exc.msg} at character {exc.pos})"
    except RecursionError:  # in workflow code: uncaught, the task would fail forever
        return None, "the answer is JSON nested too deeply to read"
    try:
        problems = schema_problems(value, schema)
    except RecursionError:
        return None, "the answer is JSON nested too deeply to check"
    if problems:
        return None, "; ".join(problems[:5])
    if not isinstance(value, dict):
        return None, "the answer must be a JSON object"
    return value, None


def schema_problems(
    value: Any, schema: Mapping[str, Any], root: Mapping[str, Any] | None = None, at: str = "$"
) -> list[str]:
    root = schema if root is None else root
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = root.get("$defs", {}).get(ref.removeprefix("#/$defs/"))
        return (
            schema_problems(value, target, root, at)
            if isinstance(target, Mapping)
            else [f"{at}: unknown $ref {ref}"]
        )
    if "anyOf" in schema:
        options = [schema_problems(value, option, root, at) for option in schema["anyOf"]]
        return [] if any(not o for o in options) else [f"{at}: matches none of the allowed shapes"]
    problems: list[str] = []
    kind = schema.get("type")
    if isinstance(kind, str) and kind in _TYPES:
        expected = _TYPES[kind]
        if not isinstance(value, expected) or (isinstance(value, bool) and kind in ("integer", "number")):
            return [f"{at}: expected {kind}, got {_json_type(value)}"]
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{at}: must be one of {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        problems.append(f"{at}: must be {schema['const']!r}")
    if isinstance(value, dict):
        problems += _object_problems(value, schema, root, at)
    elif isinstance(value, list):
        problems += _array_problems(value, schema, root, at)
    elif isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            problems.append(f"{at}: shorter than {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            problems.append(f"{at}: longer than {schema['maxLength']} characters")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{at}: below the minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{at}: above the maximum {schema['maximum']}")
    return problems


def _object_problems(
    value: dict[str, Any], schema: Mapping[str, Any], root: Mapping[str, Any], at: str
) -> list[str]:
    problems = [
        f"{at}: missing required field {name!r}" for name in schema.get("required", []) if name not in value
    ]
    properties = schema.get("properties", {})
    for name, item in value.items():
        if name in properties:
            problems += schema_problems(item, properties[name], root, f"{at}.{name}")
        elif schema.get("additionalProperties") is False:
            problems.append(f"{at}: unexpected field {name!r}")
    return problems


def _array_problems(
    value: list[Any], schema: Mapping[str, Any], root: Mapping[str, Any], at: str
) -> list[str]:
    problems: list[str] = []
    if len(value) < schema.get("minItems", 0):
        problems.append(f"{at}: fewer than {schema['minItems']} items")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        problems.append(f"{at}: more than {schema['maxItems']} items")
    items = schema.get("items")
    if isinstance(items, Mapping):
        for index, item in enumerate(value):
            problems += schema_problems(item, items, root, f"{at}[{index}]")
    return problems


def _json_type(value: Any) -> str:
    for name, types in _TYPES.items():
        if isinstance(value, types) and not (isinstance(value, bool) and name in ("integer", "number")):
            return name
    return type(value).__name__
