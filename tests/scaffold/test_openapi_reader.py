"""The OpenAPI reader against hostile and odd descriptions: names that are keywords, builtins or
type names, quotes in every string, enums with nulls, 3.0 and 3.1 nullability, allOf/oneOf,
recursion, references to other files and to nowhere, credentials in the query, bodies and
answers of every shape. The generated package must import, pass mypy --strict and behave."""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, SecretStr, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from connectors.scaffold.errors import SourceError
from connectors.scaffold.openapi import read_openapi
from connectors.scaffold.package import GeneratedPackage
from connectors.scaffold.selection import Selection
from connectors.scaffold.writer import write_package
from retrofit.registry import connectors_from_classes
from retrofit.sdk import Connector, Effect
from tests.scaffold.openapi_proof import system_on_loopback
from tests.scaffold.support import VENV_BIN, mypy_strict, run

pytestmark = pytest.mark.timeout(180)

EVIL = 'say """hi""" \\ and \'quote\' {braces} \u2028 end\\'

NODE = {
    "type": "object",
    "description": EVIL,
    "properties": {
        "name": {"type": "string"},
        "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
        "partner": {"$ref": "#/components/schemas/Partner"},
    },
}

HOSTILE: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": EVIL, "version": "1.0 'beta'"},
    "servers": [{"url": "https://{region}.example.test/api", "variables": {"region": {"default": "eu"}}}],
    "security": [{"key": []}],
    "paths": {
        "/things/{thing-id}": {
            "parameters": [
                {"name": "thing-id", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "X-Tenant", "in": "header", "required": True, "schema": {"type": "string"}},
            ],
            "get": {
                "operationId": "open",  # a RestConnector method name
                "summary": EVIL,
                "parameters": [
                    {"name": "class", "in": "query", "schema": {"type": "string"}},
                    {"name": "date", "in": "query", "schema": {"type": "string", "format": "date"}},
                    {"name": "api_key", "in": "query", "schema": {"type": "string"}},  # the credential
                    {
                        "name": "ids",
                        "in": "query",
                        "explode": False,
                        "schema": {"type": "array", "items": {"type": "integer"}},
                    },
                    {"name": "session", "in": "cookie", "schema": {"type": "string"}},
                    {
                        "name": "filter",
                        "in": "query",
                        "style": "deepObject",
                        "schema": {"type": "object", "properties": {"city": {"type": "string"}}},
                    },
                    {
                        "name": "meta",
                        "in": "query",
                        "schema": {"type": "object", "additionalProperties": {"type": "integer"}},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}},
                    }
                },
            },
            "delete": {"responses": {"204": {"description": "gone"}}},  # no operationId
            "put": {
                "operationId": "open",  # the same id again
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}},
                },
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {"application/json": {"schema": {"type": "string"}}},
                    }
                },
            },
        },
        "/things": {
            "get": {
                "operationId": "list/../things",
                "tags": ["class"],
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {
                                "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Thing"}}
                            }
                        },
                    }
                },
            },
            "post": {
                "operationId": "upload",
                "requestBody": {
                    "required": True,
                    "content": {"multipart/form-data": {"schema": {"type": "object"}}},
                },
                "responses": {"201": {"description": "made"}},
            },
            "patch": {
                "operationId": "formPatch",
                "requestBody": {
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {"type": "object", "properties": {"note": {"type": "string"}}}
                        }
                    }
                },
                "responses": {"200": {"description": "ok", "content": {"application/pdf": {}}}},
            },
        },
        "/nowhere/{a}": {
            "get": {"operationId": "undeclared", "responses": {"204": {"description": "x"}}},
            "post": {
                "operationId": "brokenRef",
                "parameters": [{"$ref": "#/components/parameters/Missing"}],
                "responses": {"204": {"description": "x"}},
            },
        },
        # Foreign text that would end a generated comment or docstring, or fool a reader of it.
        "/inject\nimport os; os.system('echo pwned')\n#": {
            "get": {
                "operationId": "inject\nraise SystemExit",
                "summary": "nul \x00 bidi \u202e esc \x1b[2J line \u2028 end",
                "responses": {"204": {"description": "x"}},
            }
        },
        "/cookie": {
            "get": {
                "operationId": "needsCookie",
                "parameters": [
                    {"name": "sid", "in": "cookie", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {"204": {"description": "x"}},
            }
        },
    },
    "components": {
        "securitySchemes": {
            "key": {"type": "apiKey", "in": "query", "name": "api_key"},
            "other": {"type": "http", "scheme": "basic"},
        },
        "schemas": {
            "Thing": {
                "type": "object",
                "required": ["id", "date", "status"],
                "properties": {
                    "id": {"type": "string", "readOnly": True},
                    "date": {"type": "string", "format": "date"},
                    "datetime": {"type": ["string", "null"], "format": "date-time"},
                    "json": {"type": "string"},
                    "model_config": {"type": "integer"},
                    "from": {"type": "boolean"},
                    "self": {"type": "number"},
                    "fooBar": {"type": "string"},
                    "foo_bar": {"type": "string"},
                    "": {"type": "string"},
                    "ünï cöde": {"type": "string"},
                    "quote\"'s": {"type": "string", "description": EVIL},
                    "status": {"$ref": "#/components/schemas/Status"},
                    "mixed": {"enum": ["a", 1, True, None, 'it\'s "x"\n']},
                    "floats": {"type": "number", "enum": [1.5, 2.5]},
                    "legacyNull": {"type": "string", "nullable": True},
                    "tags": {"type": "object", "additionalProperties": {"type": "integer"}},
                    "free": {"type": "object"},
                    "price": {"$ref": "common.yaml#/Money"},
                    "lost": {"$ref": "#/components/schemas/DoesNotExist"},
                    "remote": {"$ref": "https://example.test/schemas.yaml#/X"},
                    "tree": {"$ref": "#/components/schemas/Node"},
                    "either": {"oneOf": [{"$ref": "#/components/schemas/Node"}, {"type": "string"}]},
                    "merged": {"$ref": "#/components/schemas/Merged"},
                    "secret": {"type": "string", "writeOnly": True},
                    "inline": {
                        "type": "object",
                        "properties": {"deep": {"type": "object", "properties": {"x": {"type": "integer"}}}},
                    },
                },
            },
            "Status": {"type": "string", "enum": ["open", "closed", None]},
            "Node": NODE,
            "Partner": {"type": "object", "properties": {"back": {"$ref": "#/components/schemas/Node"}}},
            "Merged": {
                "allOf": [
                    {"$ref": "#/components/schemas/Partner"},
                    {"type": "object", "required": ["extra"], "properties": {"extra": {"type": "integer"}}},
                ]
            },
            "BaseModel": {"type": "object", "properties": {"Field": {"type": "string"}}},
            "RestConnector": {"type": "object", "properties": {"list": {"type": "string"}}},
        },
    },
}
COMMON = {
    "Money": {
        "type": "object",
        "required": ["amount"],
        "properties": {"amount": {"type": "string"}, "currency": {"type": "string"}},
    }
}


def write_spec(tmp: Path, spec: dict[str, Any], name: str = "hostile.yaml") -> Path:
    path = tmp / name
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    (tmp / "common.yaml").write_text(yaml.safe_dump(COMMON), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GeneratedPackage, Path]]:
    tmp = tmp_path_factory.mktemp("hostile")
    package = read_openapi("hostile", str(write_spec(tmp, HOSTILE)), Selection.parse(None))
    out = tmp / "hostile-connector"
    write_package(package, out)
    sys.path.insert(0, str(out))
    try:
        yield package, out
    finally:
        sys.path.remove(str(out))


def test_what_cannot_be_generated_is_skipped_with_its_reason(hostile: tuple[GeneratedPackage, Path]) -> None:
    package, _ = hostile
    skipped = {s.ref: s.reason for s in package.skipped}
    assert skipped == {
        "POST /things": "request body is multipart/form-data (binary or multipart): write this action by hand",
        "GET /nowhere/{a}": "path parameter(s) a not declared",
        "POST /nowhere/{a}": "parameter: $ref '#/components/parameters/Missing' points nowhere",
        "GET /cookie": "needs cookie parameter 'sid', which actions do not send",
    }
    methods = {a.method: a for a in package.actions}
    # `open` is a builtin (and RestConnector's); the duplicate id and the id with slashes still get
    # names of their own.
    assert set(methods) == {
        "open_",
        "open__2",
        "delete_things_thing_id",
        "list_things",
        "form_patch",
        "inject_raise_system_exit",
    }
    injected = methods["inject_raise_system_exit"]
    assert injected.source_ref == "GET /inject import os; os.system('echo pwned') # (inject raise SystemExit)"
    assert injected.summary == "nul bidi esc [2J line end"
    assert methods["delete_things_thing_id"].effect.effect is Effect.DESTRUCTIVE
    assert methods["open_"].notes == (
        "optional cookie parameter 'session' left out",
        "query parameter 'filter' is an object, sent as deepObject keys (`name[key]=value`): check how the system expects it encoded",
        "query parameter 'meta' is an object, sent as JSON text: check how the system expects it encoded",
    )
    notes = " ".join(package.review)
    assert "points nowhere" in notes and "is a URL" in notes  # the loose (Any) fields are reported
    assert "'other' (http) is not wired" in notes and "query" in notes


def test_credentials_and_common_headers_are_settings(hostile: tuple[GeneratedPackage, Path]) -> None:
    package, _ = hostile
    settings = {s.name: s for s in package.connector.settings}
    assert settings["api_key"].secret and settings["api_key"].annotation == "SecretStr"
    # Required on 3 of 9 operations: an input of those (a header on most operations is a setting).
    assert "x_tenant" not in settings
    assert "x_tenant" in next(a for a in package.actions if a.method == "open_").body[-2]
    assert settings["base_url"].default == "AnyHttpUrl('https://eu.example.test/api')"


def test_generated_package_passes_ruff_and_mypy_strict(hostile: tuple[GeneratedPackage, Path]) -> None:
    _, out = hostile
    ruff = run(VENV_BIN / "ruff", "check", "--select", "E9,F", out)
    assert ruff.returncode == 0, ruff.stdout
    for source in out.rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        assert not any(c in text for c in "\x00\x1b\u202e\u2028"), source
        assert not any(
            line.lstrip().startswith(("import os;", "raise SystemExit")) for line in text.splitlines()
        )
    checked = mypy_strict(out)
    assert checked.returncode == 0, checked.stdout[-3000:]


def _model(name: str) -> type[BaseModel]:
    models = importlib.import_module("hostile_connector.models")
    for info in pkgutil.iter_modules(models.__path__):
        module = importlib.import_module(f"hostile_connector.models.{info.name}")
        if hasattr(module, name):
            found: type[BaseModel] = getattr(module, name)
            assert issubclass(found, BaseModel)
            return found
    raise AssertionError(f"no model {name}")


def test_models_keep_names_types_and_rules(hostile: tuple[GeneratedPackage, Path]) -> None:
    thing = _model("Thing")
    fields = thing.model_fields
    # No field shadows a type, keyword, BaseModel member or pydantic's config.
    assert {"date_", "datetime_", "json_", "model_config_", "from_", "self_", "foo_bar", "foo_bar_2"} <= set(
        fields
    )
    assert fields["date_"].alias == "date" and fields["quote_s"].alias == "quote\"'s"
    assert "secret" not in fields  # writeOnly: never in an answer
    answer = {
        "id": "T-1",
        "date": "2024-02-29",
        "status": None,
        "mixed": 'it\'s "x"\n',
        "unknown": "tolerated",
        "tree": {
            "name": "root",
            "children": [{"name": "leaf", "children": []}],
            "partner": {"back": {"name": "x"}},
        },
        "merged": {"extra": 1, "back": None},
        "price": {"amount": "9.99"},
        "lost": {"anything": [1]},
        "tags": {"a": 1},
        "model_config": 3,
    }
    decoded = thing.model_validate(answer)
    assert decoded.model_dump()["tree"]["children"][0]["name_"] == "leaf"
    with pytest.raises(ValidationError):
        thing.model_validate({**answer, "status": "pending"})  # enums are Literal
    with pytest.raises(ValidationError):
        thing.model_validate({**answer, "mixed": "b"})
    # Inputs: readOnly left out, unknown fields refused, the component variant too.
    thing_in = _model("ThingIn")
    assert "id" not in thing_in.model_fields and "secret" in thing_in.model_fields
    with pytest.raises(ValidationError, match="Extra inputs"):
        thing_in.model_validate({"date": "2024-01-01", "status": "open", "emial": "x"})


def test_the_catalog_accepts_every_input_and_tool_schemas_forbid_extras(
    hostile: tuple[GeneratedPackage, Path],
) -> None:
    connector = importlib.import_module("hostile_connector.connector").HostileConnector
    [loaded] = connectors_from_classes([connector])
    for spec in loaded.spec.actions:
        schema = spec.input_schema()
        assert schema["additionalProperties"] is False
        assert "api_key" not in schema.get("properties", {})


async def test_actions_send_what_the_description_says(hostile: tuple[GeneratedPackage, Path]) -> None:
    """The query-key credential, the tenant header, a comma-joined list, a path id that cannot
    escape its segment, and a list answer, against a loopback server."""
    connector_cls: type[Connector] = importlib.import_module("hostile_connector.connector").HostileConnector
    models = {n: _model(n) for n in ("Open", "ListThings")}

    async def thing(request: Request) -> Response:
        return JSONResponse({"id": request.path_params["thing_id"], "date": "2024-01-01", "status": "open"})

    async def things(_: Request) -> Response:
        return JSONResponse([{"id": "a", "date": "2024-01-01", "status": "closed"}])

    with system_on_loopback({"/api/things/{thing_id:path}": thing, "/api/things": things}) as (server, seen):
        settings = connector_cls.load_settings(base_url=f"{server.url}/api", api_key=SecretStr("query-key-1"))
        conn: Any = connector_cls(settings)  # its actions are generated: not known to mypy here
        await conn.open()
        try:
            got = await conn.open_(
                models["Open"](
                    thing_id="a/../b?x",
                    x_tenant="t-9",
                    class_="c",
                    ids=[1, 2],
                    filter_={"city": "Oslo"},
                    meta={"a": 1},
                )
            )
            listed = await conn.list_things(models["ListThings"]())
        finally:
            await conn.close()
    first = seen[0]
    assert first.raw_path == "/api/things/a%2F..%2Fb%3Fx"  # the id stays one path segment
    assert first.query == {
        "api_key": "query-key-1",
        "class": "c",
        "ids": "1,2",
        "filter[city]": "Oslo",
        "meta": '{"a": 1}',
    }
    assert first.headers["x-tenant"] == "t-9"
    assert got.id_ == "a/../b?x"
    assert [t.status for t in listed.items] == ["closed"]


# -- documents that are not usable: one clean SourceError each ---------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("swagger: '2.0'\npaths: {}\n", "Swagger 2.0; convert it to OpenAPI 3 first"),
        ("openapi: 4.0.0\npaths: {}\n", "is not OpenAPI 3.0 or 3.1"),
        ("- a\n- b\n", "its top level is not a mapping"),
        ("openapi: 3.0.0\npaths: {}\n", "describes no paths"),
        ("openapi: 3.0.0\npaths: {a: [1\n", "is not valid YAML at line"),
        ('{"openapi": "3.0.0",', "is not valid JSON"),
        (
            "openapi: 3.0.3\npaths:\n  /x:\n    post:\n      requestBody: {required: true, content: {image/png: {}}}\n",
            "none of the 1 selected operation(s)",
        ),
    ],
)
def test_unusable_documents_are_one_clean_source_error(tmp_path: Path, content: str, message: str) -> None:
    spec = tmp_path / ("spec.json" if content.startswith("{") else "spec.yaml")
    spec.write_text(content, encoding="utf-8")
    with pytest.raises(SourceError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_openapi("x", str(spec), Selection.parse(None))


def test_missing_directory_and_binary_files_are_source_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such OpenAPI file"):
        read_openapi("x", str(tmp_path / "nope.yaml"), Selection.parse(None))
    with pytest.raises(SourceError, match="is a directory"):
        read_openapi("x", str(tmp_path), Selection.parse(None))
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(SourceError, match="not UTF-8"):
        read_openapi("x", str(tmp_path / "bin.yaml"), Selection.parse(None))


def test_selection_picks_operations_and_reports_globs_that_matched_nothing(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, HOSTILE)
    package = read_openapi("x", str(spec), Selection.parse("list*,formPatch,nosuch*"))
    assert sorted(a.method for a in package.actions) == ["form_patch", "list_things"]
    assert "--operations 'nosuch*' matched no operation (check the spelling)" in package.unmatched
    by_tag = read_openapi("x", str(spec), Selection.parse("class"))
    assert [a.method for a in by_tag.actions] == ["list_things"]
    with pytest.raises(SourceError, match=r"no operation of hostile\.yaml matches --operations"):
        read_openapi("x", str(spec), Selection.parse("zzz"))


def test_deep_nesting_and_reference_loops_do_not_hang(tmp_path: Path) -> None:
    deep: dict[str, Any] = {"type": "string"}
    for _ in range(60):
        deep = {"type": "object", "properties": {"d": deep}}
    loop: dict[str, Any] = {
        "openapi": "3.0.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/x": {
                "get": {
                    "operationId": "x",
                    "responses": {"200": {"$ref": "#/components/responses/A"}},
                }
            }
        },
        "components": {
            "responses": {
                "A": {"$ref": "#/components/responses/B"},
                "B": {"$ref": "#/components/responses/A"},
            },
            "schemas": {"Deep": deep},
        },
    }
    spec = tmp_path / "loop.json"
    spec.write_text(json.dumps(loop), encoding="utf-8")
    with pytest.raises(SourceError, match="a \\$ref chain loops"):
        read_openapi("x", str(spec), Selection.parse(None))
    loop["paths"]["/x"]["get"]["responses"] = {
        "200": {
            "description": "d",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Deep"}}},
        }
    }
    spec.write_text(json.dumps(loop), encoding="utf-8")
    package = read_openapi("x", str(spec), Selection.parse(None))
    assert any("nested deeper than" in note for note in package.review)
