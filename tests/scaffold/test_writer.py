"""The package writer: a hand-built GeneratedPackage becomes an installable, mypy-clean connector."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from connectors.scaffold.effects import from_http_method, from_operation_name
from connectors.scaffold.naming import Namespace, pascal, snake
from connectors.scaffold.package import (
    ConnectorSpec,
    GeneratedAction,
    GeneratedPackage,
    ImportRef,
    ModelRef,
    SettingField,
    SourceInfo,
)
from connectors.scaffold.selection import Selection
from connectors.scaffold.writer import PackageExistsError, write_package
from retrofit.sdk import Effect
from tests.scaffold.support import VENV_BIN, installed, mypy_strict, run

MODELS = '''"""Ledger models."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class GetCustomer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: str


class Customer(BaseModel):
    id: str
    name: str
'''


def ledger_package(name: str = "genledger") -> GeneratedPackage:
    return GeneratedPackage(
        connector=ConnectorSpec(
            name=name,
            title="Demo ledger (hand-built for the writer test)",
            base=ImportRef("connectors.rest", "RestConnector"),
            settings_base=ImportRef("connectors.rest", "RestSettings"),
            settings=(
                SettingField(
                    "base_url",
                    "AnyHttpUrl",
                    None,
                    "where the API is",
                    imports=frozenset({"from pydantic import AnyHttpUrl"}),
                ),
                SettingField("api_key", "SecretStr", None, "API key", secret=True),
                SettingField("tenant", "str", '"demo"', 'tenant "id"'),
            ),
        ),
        source=SourceInfo("openapi", "ledger.yaml", "ab" * 32, "Ledger", "1.0"),
        model_modules={"customers": MODELS},
        groups={
            "customers": [
                GeneratedAction(
                    method="get_customer",
                    effect=from_http_method("get"),
                    summary='Fetch one customer """by id""".',
                    source_ref="GET /customers/{customer_id}",
                    input_model=ModelRef("customers", "GetCustomer"),
                    output_model=ModelRef("customers", "Customer"),
                    body=(
                        'return await self.request_json("GET", f"/customers/{path_segment(req.customer_id)}", expect=Customer)',
                    ),
                    imports=frozenset({"from connectors.rest import path_segment"}),
                    notes=("the answer model is hand-written",),
                )
            ]
        },
    )


def test_names_are_safe_identifiers() -> None:
    assert snake("getInvoiceByID") == "get_invoice_by_id"
    assert snake("date") == "date_" and snake("class") == "class_" and snake("1st") == "n_1st"
    assert (
        pascal("ap-invoice line") == "ApInvoiceLine"
        and pascal("any") == "AnyModel"
        and pascal("none") == "NoneModel"
    )
    names = Namespace()
    assert [names.claim("get"), names.claim("get"), names.claim("Get"), names.claim("Get")] == [
        "get",
        "get_2",
        "Get",
        "Get2",
    ]


def test_effects_are_cautious() -> None:
    assert from_http_method("GET").effect is Effect.READ
    assert from_http_method("DELETE").effect is Effect.DESTRUCTIVE
    assert from_http_method("TRACE").effect is Effect.WRITE
    assert from_operation_name("GetCustomer").effect is Effect.READ
    assert from_operation_name("VoidInvoice").effect is Effect.DESTRUCTIVE
    assert from_operation_name("Upsert").effect is Effect.WRITE


def test_selection_globs() -> None:
    chosen = Selection.parse("get*,Invoices")
    assert chosen.matches("getContacts") and chosen.matches("x", "invoices") and not chosen.matches("post")
    assert chosen.unmatched(["getContacts"]) == ["invoices"]
    assert Selection.parse(None).matches("anything")


def test_refuses_to_overwrite_a_reviewed_package(tmp_path: Path) -> None:
    write_package(ledger_package(), tmp_path)
    with pytest.raises(PackageExistsError):
        write_package(ledger_package(), tmp_path)


def test_a_secret_setting_must_be_secretstr(tmp_path: Path) -> None:
    package = ledger_package()
    package.connector = ConnectorSpec(
        **{
            **package.connector.__dict__,
            "settings": (SettingField("password", "str", None, "pw", secret=True),),
        }
    )
    with pytest.raises(ValueError, match="secret"):
        write_package(package, tmp_path)


def test_written_package_installs_type_checks_and_passes_conformance(tmp_path: Path) -> None:
    out = tmp_path / "genledger-connector"
    written = write_package(ledger_package(), out)
    assert out / "genledger_connector" / "actions" / "customers.py" in written
    assert run(VENV_BIN / "ruff", "check", "--select", "E9,F", out).returncode == 0
    checked = mypy_strict(out)
    assert checked.returncode == 0, checked.stdout
    readme = (out / "README.md").read_text()
    assert "RETROFIT_GENLEDGER_API_KEY" in readme and "HTTP GET" in readme
    with installed(out, tmp_path / "site") as env:
        listed = run(VENV_BIN / "retrofit", "connectors", "list", "--schemas", env=env)
        assert "genledger = genledger_connector.connector:GenledgerConnector" in listed.stdout, listed.stderr
        assert '"customer_id"' in listed.stdout
        conformance = run(VENV_BIN / "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=out, env=env)
        assert conformance.returncode == 0, conformance.stdout
        assert " passed" in conformance.stdout


def test_foreign_titles_and_descriptions_cannot_break_the_package(tmp_path: Path) -> None:
    """A title or description from the source with quotes that close strings, a trailing quote,
    backslashes, newlines, a bidi override and emoji: every file still parses and installs."""
    hostile = 'Ledger """ \\ "quoted"\nnext line \u202eevil\u202c \U0001f680 "'
    package = ledger_package()
    package.connector = dataclasses.replace(
        package.connector,
        title=hostile,
        settings=tuple(dataclasses.replace(s, description=hostile) for s in package.connector.settings),
    )
    package.source = dataclasses.replace(package.source, location=f"/specs/{hostile}.yaml", title=hostile)
    out = tmp_path / "hostile-connector"
    write_package(package, out)
    for path in out.rglob("*.py"):
        compile(path.read_text(encoding="utf-8"), str(path), "exec")
    text = "".join(p.read_text(encoding="utf-8") for p in out.rglob("*") if p.is_file())
    assert "\u202e" not in text and "\U0001f680" in text
    with installed(out, tmp_path / "site") as env:  # pyproject.toml is valid TOML
        imported = run(
            VENV_BIN / "python", "-c", "import genledger_connector.connector as c; print(c.__doc__)", env=env
        )
        assert imported.returncode == 0, imported.stderr
