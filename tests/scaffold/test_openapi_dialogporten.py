"""The OpenAPI reader on a real description brought from a package index: Dialogporten
(`@digdir/dialogporten-schema` on npm, see data/SOURCES.md). Every operation generated, mypy
--strict clean, installed, listed, conformance-tested, and one READ through the gate."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from temporalio.testing import WorkflowEnvironment

from retrofit.sdk import Effect
from tests.scaffold.openapi_proof import Generated, generated, run_through_gate, system_on_loopback
from tests.scaffold.support import VENV_BIN, mypy_strict, run
from tests.support import audit_of, kinds

SPEC = Path(__file__).with_name("data") / "dialogporten" / "swagger.verified.json"
TOKEN = "dialogporten-test-jwt-1c9e"
pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def dialogporten(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Generated]:
    with generated("dialogporten", SPEC, tmp_path_factory.mktemp("dialogporten")) as package:
        yield package


def test_every_operation_is_generated(dialogporten: Generated) -> None:
    package = dialogporten.package
    assert (len(package.actions), package.skipped) == (29, [])
    assert Counter(a.effect.effect for a in package.actions) == {
        Effect.READ: 21,
        Effect.WRITE: 7,
        Effect.DESTRUCTIVE: 1,
    }
    assert sorted(package.groups) == ["enduser", "metadata", "serviceowner"]
    # The JWT bearer scheme is a secret setting; no action takes a token.
    [token] = [s for s in package.connector.settings if s.secret]
    assert (token.name, token.annotation) == ("bearer_token", "SecretStr")
    print(f"\ndialogporten: 29/29 generated, {dialogporten.seconds}")


def test_models_pass_mypy_strict(dialogporten: Generated) -> None:
    checked = mypy_strict(dialogporten.out)
    assert checked.returncode == 0, checked.stdout[-3000:]


def test_installs_is_listed_and_passes_its_conformance_suite(dialogporten: Generated) -> None:
    listed = run(VENV_BIN / "retrofit", "connectors", "list", env=dialogporten.env)
    assert "dialogporten = dialogporten_connector.connector:DialogportenConnector" in listed.stdout, (
        listed.stderr
    )
    assert "RETROFIT_DIALOGPORTEN_BEARER_TOKEN" in listed.stdout
    conformance = run(
        VENV_BIN / "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests",
        cwd=dialogporten.out,
        env=dialogporten.env,
    )
    assert conformance.returncode == 0, conformance.stdout[-3000:]


async def test_get_transmission_runs_through_the_gate(
    dialogporten: Generated, time_skipping_env: WorkflowEnvironment, audit_url: str
) -> None:
    started = time.perf_counter()
    dialog, transmission = str(uuid.uuid4()), str(uuid.uuid4())
    answer = {
        "id": transmission,
        "createdAt": "2025-03-04T10:15:00Z",
        "type": "Information",
        "sender": {"actorType": "ServiceOwner", "actorName": "Skatteetaten"},
        "content": {
            "title": {"value": [{"value": "Skattemelding", "languageCode": "nb"}], "mediaType": "text/plain"}
        },
        "attachments": [],
        "isAuthorized": True,  # not in the description: an answer may carry more than documented
    }

    async def get_transmission(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse({"title": "Unauthorized"}, status_code=401)
        return JSONResponse(answer)

    cls = dialogporten.connector_class()
    path = f"/dialogporten/api/v1/serviceowner/dialogs/{dialog}/transmissions/{transmission}"
    with system_on_loopback({path: get_transmission}) as (server, seen):
        settings = cls.load_settings(base_url=f"{server.url}/dialogporten", bearer_token=SecretStr(TOKEN))
        result, workflow_id = await run_through_gate(
            time_skipping_env,
            cls,
            settings,
            audit_url,
            "dialogporten.v1_service_owner_dialog_transmissions_get_get_dialog_transmission",
            {"dialog_id": dialog, "transmission_id": transmission},
        )
    assert [e.path for e in seen] == [path]
    output = result["output"]
    # `id` and `type` would shadow builtins in the class body: the fields are `id_` and `type_`.
    assert (output["id_"], output["type_"], output["sender"]["actor_name"]) == (
        transmission,
        "Information",
        "Skatteetaten",
    )
    records = await audit_of(audit_url, workflow_id)
    assert TOKEN not in repr([r.data for r in records]), kinds(records)
    print(
        f"\ndialogporten: spec → a READ through the gate: {sum(dialogporten.seconds.values()) + time.perf_counter() - started:.1f}s"
    )
