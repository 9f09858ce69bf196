"""The OpenAPI reader never crashes: any document is a package whose every Python file compiles,
or one SourceError. Hypothesis builds descriptions from OpenAPI's own keywords, with the wrong
types in the wrong places, references that point anywhere, and names that mean something to Python."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from connectors.scaffold.errors import SourceError
from connectors.scaffold.openapi import read_openapi
from connectors.scaffold.selection import Selection
from connectors.scaffold.writer import write_package
from tests.scaffold.support import VENV_BIN, run

NAMES = st.sampled_from(
    [
        "id",
        "class",
        "date",
        "json",
        "model_config",
        "self",
        "req",
        "None",
        "",
        "a b",
        "é",
        "x\ny",
        "'\"",
        "Field",
        "1",
    ]
) | st.text(max_size=8)
JUNK = (
    st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=6) | st.lists(st.integers(), max_size=2)
)
REFS = st.sampled_from(
    [
        "#/components/schemas/A",
        "#/components/schemas/B",
        "#/components/schemas/Missing",
        "#/paths",
        "#",
        "other.yaml#/X",
        "https://example.test/x.json",
        "#/components/schemas/A/properties/self",
    ]
)
TYPES = st.sampled_from(
    ["string", "integer", "number", "boolean", "array", "object", "null", "weird"]
) | st.lists(st.sampled_from(["string", "null", "integer"]), max_size=3)
FORMATS = st.sampled_from(["date", "date-time", "uuid", "binary", "int64", "guid"])


def schemas() -> st.SearchStrategy[Any]:
    leaf = st.fixed_dictionaries({}, optional={"type": TYPES, "format": FORMATS, "nullable": JUNK}) | JUNK
    ref = st.builds(lambda r: {"$ref": r}, REFS)

    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.fixed_dictionaries(
            {},
            optional={
                "type": TYPES,
                "properties": st.dictionaries(NAMES, children, max_size=4) | JUNK,
                "required": st.lists(NAMES, max_size=3) | JUNK,
                "items": children,
                "allOf": st.lists(children, max_size=3) | JUNK,
                "oneOf": st.lists(children, max_size=3),
                "anyOf": st.lists(children, max_size=2),
                "enum": st.lists(JUNK, max_size=4) | JUNK,
                "additionalProperties": children,
                "readOnly": st.booleans(),
                "description": NAMES,
                "$ref": REFS,
            },
        )

    return st.recursive(leaf | ref, extend, max_leaves=12)


PARAM = st.fixed_dictionaries(
    {"name": NAMES, "in": st.sampled_from(["path", "query", "query", "header", "header", "cookie", "x"])},
    optional={"required": st.booleans(), "schema": schemas(), "explode": JUNK},
) | st.builds(lambda r: {"$ref": r}, REFS)
MEDIA = st.sampled_from(
    ["application/json", "application/x-www-form-urlencoded", "text/csv", "*/*", "application/vnd+json"]
)
CONTENT = st.dictionaries(MEDIA, st.fixed_dictionaries({}, optional={"schema": schemas()}) | JUNK, max_size=2)
OPERATION = st.fixed_dictionaries(
    {},
    optional={
        "operationId": NAMES | JUNK,
        "tags": st.lists(NAMES, max_size=2) | JUNK,
        "summary": NAMES | JUNK,
        "parameters": st.lists(PARAM, max_size=3) | JUNK,
        "requestBody": st.fixed_dictionaries({}, optional={"required": JUNK, "content": CONTENT | JUNK})
        | JUNK,
        "responses": st.dictionaries(
            st.sampled_from(["200", "201", "204", "2XX", "default", "404"]),
            st.fixed_dictionaries({}, optional={"content": CONTENT | JUNK, "$ref": REFS}) | JUNK,
            max_size=2,
        )
        | JUNK,
    },
)
PATHS = st.dictionaries(
    st.sampled_from(["/a", "/a/{id}", "/{x}/{y}", "/b/{}", "/c\n#", "/d/{id}/{id}"]) | NAMES,
    # Mostly operations (junk inside them): a document of junk only tests the first refusal.
    st.dictionaries(
        st.sampled_from(["get", "post", "delete", "patch", "put"]), OPERATION, min_size=1, max_size=3
    ),
    min_size=1,
    max_size=3,
)
SECURITY = st.dictionaries(
    NAMES,
    st.fixed_dictionaries(
        {"type": st.sampled_from(["apiKey", "http", "oauth2", "openIdConnect", "mutualTLS", "x"])},
        optional={
            "in": st.sampled_from(["header", "query", "cookie"]),
            "name": NAMES | JUNK,
            "scheme": st.sampled_from(["basic", "bearer", "digest"]),
            "flows": st.fixed_dictionaries(
                {}, optional={"clientCredentials": st.fixed_dictionaries({"tokenUrl": NAMES | JUNK})}
            )
            | JUNK,
        },
    )
    | JUNK,
    max_size=2,
)
DOCUMENT = st.fixed_dictionaries(
    {"openapi": st.sampled_from(["3.0.0", "3.1.0", "3.0.3"]), "paths": PATHS},
    optional={
        "info": st.fixed_dictionaries({}, optional={"title": NAMES | JUNK, "version": NAMES | JUNK}) | JUNK,
        "servers": st.lists(
            st.fixed_dictionaries(
                {"url": st.sampled_from(["https://x.test/{v}", "/rel", "", "ftp://x"]) | JUNK}
            ),
            max_size=1,
        )
        | JUNK,
        "security": st.lists(st.dictionaries(NAMES, st.lists(NAMES, max_size=1), max_size=1), max_size=1)
        | JUNK,
        "components": st.fixed_dictionaries(
            {},
            optional={
                "schemas": st.dictionaries(
                    st.sampled_from(["A", "B", "class", "BaseModel"]), schemas(), max_size=3
                )
                | JUNK,
                "securitySchemes": SECURITY | JUNK,
            },
        )
        | JUNK,
    },
)


def test_any_document_is_a_package_that_compiles_or_one_source_error(tmp_path: Path) -> None:
    """Each example's package is kept under tmp_path; then ruff's undefined-name and
    unused-import checks run over all of them at once (one process, not one per example)."""
    outputs = tmp_path / "packages"
    outputs.mkdir()

    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
        ],
    )
    @given(DOCUMENT)
    def example(document: dict[str, Any]) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            spec = Path(tmp) / "spec.json"
            spec.write_text(json.dumps(document), encoding="utf-8")
            (Path(tmp) / "other.yaml").write_text(
                "X: {type: object, properties: {v: {type: integer}}}\n", encoding="utf-8"
            )
            try:
                package = read_openapi("fuzz", str(spec), Selection.parse(None))
            except SourceError as exc:
                assert str(exc) and "\n" not in str(exc)
                event("SourceError")
                return
            event("a package" if package.actions else "no action")
            out = outputs / f"example{len(list(outputs.iterdir()))}"
            for path in write_package(package, out):
                if path.suffix == ".py":
                    compile(path.read_text(encoding="utf-8"), str(path), "exec")

    example()
    assert len(list(outputs.iterdir())) > 20
    checked = run(
        VENV_BIN / "ruff", "check", "--no-cache", "--select", "E9,F", "--output-format", "concise", outputs
    )
    assert checked.returncode == 0, checked.stdout[-3000:]
