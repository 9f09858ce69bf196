"""The OpenAPI reader on the real Xero Accounting API (235 operations): every operation generated
or skipped with its reason, mypy --strict clean, installed, listed, conformance-tested, the spec's
own answer examples decoded, and GET /Invoices run through the gate against a loopback server."""

from __future__ import annotations

import importlib
import pkgutil
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, SecretStr, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from temporalio.testing import WorkflowEnvironment

from connectors.scaffold.naming import pascal
from retrofit.registry import connectors_from_classes
from retrofit.sdk import Effect
from tests.scaffold.openapi_proof import Generated, generated, json_of, run_through_gate, system_on_loopback
from tests.scaffold.support import VENV_BIN, mypy_strict, run
from tests.shared_data import needs_shared_data, shared_data
from tests.support import audit_of, kinds

SPEC = shared_data("openapi", "xero_accounting.yaml")
pytestmark = [needs_shared_data("openapi", "xero_accounting.yaml"), pytest.mark.timeout(300)]
TOKEN = "xero-test-access-token-7f3a"
TENANT = "b0a5e2b3-6b0c-4a8e-9b3b-0d5f7c1d2e4f"


@pytest.fixture(scope="module")
def xero(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Generated]:
    with generated("xero", SPEC, tmp_path_factory.mktemp("xero")) as package:
        yield package


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(SPEC.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    return loaded


def test_every_operation_is_generated_or_skipped_with_a_reason(xero: Generated) -> None:
    package = xero.package
    actions, skipped = package.actions, package.skipped
    assert len(actions) + len(skipped) == 235
    # Only binary uploads are skipped: RestConnector sends JSON or forms, not raw bytes.
    assert Counter(s.reason for s in skipped) == {
        "request body is application/octet-stream (binary or multipart): write this action by hand": 22
    }
    effects = Counter(a.effect.effect for a in actions)
    assert effects == {Effect.READ: 126, Effect.WRITE: 77, Effect.DESTRUCTIVE: 10}
    assert all(a.effect.reason.startswith("HTTP ") for a in actions)
    # One tag for everything: split by path so no module holds all 235.
    assert len(package.groups) > 25 and max(len(g) for g in package.groups.values()) <= 30
    biggest = max(len(source.splitlines()) for source in package.model_modules.values())
    assert biggest < 1500, biggest
    print(f"\nxero: {len(actions)}/235 generated ({len(actions) / 235:.0%}), read+write {xero.seconds}")


def test_credentials_are_secret_settings_never_inputs(xero: Generated) -> None:
    settings = {s.name: s for s in xero.package.connector.settings}
    # Xero offers only the authorization-code flow: a token obtained out of band, as a secret.
    assert settings["access_token"].secret and settings["access_token"].annotation == "SecretStr"
    # xero-tenant-id is required on nearly every call: a setting, not an input of each action.
    assert settings["xero_tenant_id"].annotation == "str"
    cls = xero.connector_class()
    [loaded] = connectors_from_classes([cls])
    for spec in loaded.spec.actions:
        props = spec.input_schema().get("properties", {})
        assert not {"authorization", "xero_tenant_id", "idempotency_key", "access_token"} & set(props), (
            spec.name
        )
        assert spec.input_schema()["additionalProperties"] is False
    readme = (xero.out / "README.md").read_text()
    assert "RETROFIT_XERO_ACCESS_TOKEN" in readme and "authorizationCode" in readme


def test_models_pass_mypy_strict_in_reasonable_time(xero: Generated) -> None:
    started = time.perf_counter()
    checked = mypy_strict(xero.out)
    seconds = time.perf_counter() - started
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert "Success" in checked.stdout
    print(f"\nmypy --strict over {len(xero.package.model_modules)} model modules: {seconds:.1f}s")
    assert seconds < 150


def test_the_specs_own_answer_examples_decode(xero: Generated, document: dict[str, Any]) -> None:
    """The output models are judged by Xero's own examples of its answers: nearly all decode;
    the few that do not are errors in the examples (a list where the schema says an object)."""
    xero.connector_class()  # puts the installed package on sys.path
    models = importlib.import_module("xero_connector.models")
    modules = [
        importlib.import_module(f"xero_connector.models.{m.name}")
        for m in pkgutil.iter_modules(models.__path__)
    ]
    decoded, failed = 0, []
    for path, item in document["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            media = op["responses"].get("200", {}).get("content", {}).get("application/json", {})
            if "example" not in media or "$ref" not in media.get("schema", {}):
                continue
            name = pascal(media["schema"]["$ref"].rsplit("/", 1)[-1])
            model = next(getattr(m, name) for m in modules if hasattr(m, name))
            assert issubclass(model, BaseModel)
            try:
                model.model_validate(json_of(media["example"]))
                decoded += 1
            except ValidationError:
                failed.append(f"{method.upper()} {path}")
    print(f"\nxero answer examples decoded: {decoded}/{decoded + len(failed)}; not: {failed}")
    assert decoded >= 160 and len(failed) <= 10


def test_installs_is_listed_and_passes_its_conformance_suite(xero: Generated) -> None:
    listed = run(VENV_BIN / "retrofit", "connectors", "list", env=xero.env)
    assert listed.returncode == 0, listed.stderr
    assert "xero = xero_connector.connector:XeroConnector" in listed.stdout
    assert "xero.get_invoices" in listed.stdout and "xero.delete_contact_group_contact" in listed.stdout
    # Listed without its settings: the one line says which variables to set.
    assert "RETROFIT_XERO_ACCESS_TOKEN" in listed.stdout
    conformance = run(
        VENV_BIN / "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=xero.out, env=xero.env
    )
    assert conformance.returncode == 0, conformance.stdout[-3000:]
    assert " passed" in conformance.stdout


async def test_get_invoices_runs_through_the_gate_against_a_loopback_server(
    xero: Generated, document: dict[str, Any], time_skipping_env: WorkflowEnvironment, audit_url: str
) -> None:
    started = time.perf_counter()
    example = json_of(
        document["paths"]["/Invoices"]["get"]["responses"]["200"]["content"]["application/json"]["example"]
    )

    async def invoices(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse({"Title": "Unauthorized"}, status_code=401)
        return JSONResponse(example)

    cls = xero.connector_class()
    with system_on_loopback({"/api.xro/2.0/Invoices": invoices}) as (server, seen):
        settings = cls.load_settings(
            base_url=f"{server.url}/api.xro/2.0", access_token=SecretStr(TOKEN), xero_tenant_id=TENANT
        )
        result, workflow_id = await run_through_gate(
            time_skipping_env,
            cls,
            settings,
            audit_url,
            "xero.get_invoices",
            {"statuses": ["AUTHORISED", "PAID"], "page": 1, "summary_only": True},
        )
    [exchange] = seen
    assert exchange.headers["xero-tenant-id"] == TENANT and exchange.headers["accept"] == "application/json"
    # style=form, explode=false: one comma-separated value, as Xero documents it.
    assert exchange.query == {"Statuses": "AUTHORISED,PAID", "page": "1", "summaryOnly": "true"}
    invoices_out = result["output"]["invoices"]
    assert [i["invoice_number"] for i in invoices_out] == [
        i.get("InvoiceNumber") for i in example["Invoices"]
    ]
    assert invoices_out[0]["contact"]["contact_id"] == example["Invoices"][0]["Contact"]["ContactID"]
    records = await audit_of(audit_url, workflow_id)
    assert "action.completed" in kinds(records) or "action.succeeded" in kinds(records), kinds(records)
    assert TOKEN not in repr([r.data for r in records])
    print(
        f"\nxero: spec → GET /Invoices through the gate: {sum(xero.seconds.values()) + time.perf_counter() - started:.1f}s"
    )
