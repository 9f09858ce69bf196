"""Tool input schemas → pydantic models: what is enforced, and what is refused at import."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from retrofit.mcp.consuming.schema_models import UnsupportedSchemaError, input_model

# The shape FastMCP / pydantic generate (mcp-server-time's are like this): $defs, anyOf-null, enums.
GENERATED: dict[str, Any] = {
    "type": "object",
    "$defs": {"Unit": {"enum": ["c", "f"], "type": "string"}},
    "properties": {
        "city": {"type": "string", "minLength": 2, "description": "city name"},
        "unit": {"$ref": "#/$defs/Unit", "default": "c"},
        "days": {"type": "integer", "minimum": 1, "maximum": 14, "default": 3},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        "where": {
            "type": "object",
            "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
            "required": ["lat", "lon"],
        },
        "model_version": {"type": "string"},
        "class": {"type": "boolean"},
        "two-words": {"type": "string"},
    },
    "required": ["city"],
}


def test_generated_schema_is_enforced() -> None:
    model = input_model("w", "weather", GENERATED)
    ok = model.model_validate(
        {"city": "Oslo", "where": {"lat": 1, "lon": 2}, "class": True, "two-words": "x", "model_version": "1"}
    )
    sent = ok.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert sent == {
        "city": "Oslo",
        "unit": "c",
        "days": 3,
        "where": {"lat": 1.0, "lon": 2.0},
        "model_version": "1",
        "class": True,
        "two-words": "x",
    }
    for bad in (
        {},
        {"city": "O"},
        {"city": "Oslo", "unit": "k"},
        {"city": "Oslo", "days": 15},
        {"city": "Oslo", "tags": ["a", "b", "c", "d"]},
        {"city": "Oslo", "where": {"lat": 1}},
        {"city": "Oslo", "extra": 1},
        {"city": "Oslo", "where": {"lat": 1, "lon": 2, "alt": 3}},
    ):
        with pytest.raises(ValidationError):
            model.model_validate(bad)


def test_the_model_shown_to_the_llm_keeps_the_tool_names() -> None:
    schema = input_model("w", "weather", GENERATED).model_json_schema()
    assert {"class", "two-words", "model_version"} <= set(schema["properties"])
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        (
            {"type": "object", "properties": {"x": {"oneOf": [{"type": "string"}, {"type": "integer"}]}}},
            "oneOf",
        ),
        ({"type": "object", "properties": {"x": {"type": ["string", "integer"]}}}, "union of types"),
        ({"type": "object", "properties": {"x": {"$ref": "https://evil.example/schema.json"}}}, "local $ref"),
        ({"type": "object", "properties": {"x": {"type": "array"}}}, "array without items"),
        ({"type": "object", "properties": {"x": {"type": "object"}}}, "without declared properties"),
        ({"type": "object", "properties": {}, "required": ["ghost"]}, "unknown properties"),
        ({"type": "array", "items": {"type": "string"}}, "root must be an object"),
        ({"type": "object", "properties": {"x": {"type": "string", "pattern": "(unclosed"}}}, "$.x"),
        (
            {
                "type": "object",
                "$defs": {"A": {"$ref": "#/$defs/A"}},
                "properties": {"x": {"$ref": "#/$defs/A"}},
            },
            "$ref",
        ),
        ({"type": "object", "properties": {"x": {"enum": [{"a": 1}]}}}, "enum/const value"),
        ({"type": "object", "if": {}, "properties": {}}, "keywords"),
    ],
)
def test_unsupported_schemas_are_refused_naming_where(schema: dict[str, Any], problem: str) -> None:
    with pytest.raises(UnsupportedSchemaError) as info:
        input_model("m", "tool_x", schema)
    assert "tool_x" in str(info.value) and problem in str(info.value)


def test_deep_nesting_is_refused() -> None:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(12):
        schema = {"type": "object", "properties": {"a": schema}, "required": ["a"]}
    with pytest.raises(UnsupportedSchemaError, match="nested deeper"):
        input_model("m", "deep", schema)
