"""JSON-RPC as a first-class REST helper: a Tryton-like and an Odoo-like server on loopback.

Errors arrive as HTTP 200 with an `error` member and must become typed errors naming the RPC
method; the audit record must say which method each exchange called (not `POST /tryton_demo/`
every time) and never carry a password, a session or Odoo's positional password argument. The
last tests go through the gate on the real Temporal test server.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

import httpx
import pytest
from pydantic import AnyHttpUrl, BaseModel, SecretStr
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from connectors.rest import RestSettings
from connectors.rest.jsonrpc import JsonRpcConnector, RpcError, default_rpc_kind, rpc_error
from retrofit import ActionInput, Effect, action
from retrofit.gate.policy import allow_all
from retrofit.plugin import RetrofitPlugin
from retrofit.registry import connectors_from_classes
from retrofit.sdk import (
    ActionInputError,
    AuthError,
    Delivery,
    NonRetryableError,
    RetrofitError,
    RetryableError,
)
from tests.identity_support import PIN
from tests.integration.rest.jsonrpc_server import ODOO_DB, ODOO_PASSWORD, PASSWORD, USER_ID, JsonRpcServer
from tests.integration.rest.support import running_call
from tests.integration.rest.tryton_connector import CreateParty, GetParty, Tryton
from tests.support import SHIPPED_WORKFLOWS, audit_of, kinds
from workflows.single_action.workflow import SingleActionInput

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def jsonrpc_server() -> Iterator[JsonRpcServer]:
    with JsonRpcServer() as server:
        yield server


@pytest.fixture
def server(jsonrpc_server: JsonRpcServer) -> JsonRpcServer:
    jsonrpc_server.state.reset()
    return jsonrpc_server


async def tryton(server: JsonRpcServer) -> Tryton:
    connector = Tryton(Tryton.load_settings(base_url=server.url, password=SecretStr(PASSWORD)))
    await connector.open()
    return connector


# -- Tryton: errors as HTTP 200 with ["Name", [args]] -----------------------------------------------


async def test_a_read_and_its_audit_record_name_the_rpc_methods(server: JsonRpcServer) -> None:
    connector = await tryton(server)
    try:
        with running_call("wf-tryton#read", action="tryton_test.get_party") as context:
            party = await connector.get_party(GetParty(party_id=2))
    finally:
        await connector.close()
    assert (party.name, party.code) == ("Fratelli Rossi S.p.A.", "P-002")
    login, read = context.exchanges
    assert (login["operation"], login["path"], login["status"]) == ("common.db.login", "/tryton_demo/", 200)
    assert "request_body" not in login and "response_body" not in login  # credentials, both ways
    assert (read["operation"], read["path"], read["status"]) == (
        "model.party.party.read",
        "/tryton_demo/",
        200,
    )
    assert '"method":"model.party.party.read"' in read["request_body"]
    assert "Fratelli Rossi" in read["response_body"]
    dumped = json.dumps(context.exchanges)
    assert PASSWORD not in dumped and "Session " not in dumped
    assert not any(session in dumped for session in server.state.sessions)


async def test_an_error_member_is_a_typed_error_naming_the_method(server: JsonRpcServer) -> None:
    connector = await tryton(server)
    try:
        with running_call("wf-tryton#create", action="tryton_test.create_party") as context:
            with pytest.raises(ActionInputError) as caught:
                await connector.create_party(CreateParty(name="  "))
            with pytest.raises(NonRetryableError) as unknown:
                await connector.rpc_raw("model.party.party.frobnicate", [[1], {}])
    finally:
        await connector.close()
    assert caught.value.message == (
        'tryton_test model.party.party.create: RequiredValidationError: A value is required for field "Name" in "Party".'
    )
    assert caught.value.delivery is Delivery.ANSWERED
    assert type(unknown.value) is NonRetryableError
    assert (
        unknown.value.message
        == "tryton_test model.party.party.frobnicate: KeyError: model.party.party.frobnicate"
    )
    _, create, frobnicate = context.exchanges
    assert (create["operation"], create["status"]) == ("model.party.party.create", 200)
    assert "RequiredValidationError" in create["response_body"]
    assert frobnicate["operation"] == "model.party.party.frobnicate"


async def test_an_http_error_names_the_method_too(server: JsonRpcServer) -> None:
    connector = await tryton(server)
    try:
        await connector.get_party(GetParty(party_id=1))
        server.state.sessions.clear()
        server.lock_out()  # the re-login after the 401 meets the lockout
        with pytest.raises(AuthError) as caught:
            await connector.get_party(GetParty(party_id=1))
    finally:
        await connector.close()
    assert "common.db.login: the system refuses logins for now (429" in caught.value.message


# -- Odoo: JSON-RPC 2.0, {"code", "message", "data": {"name", "message", "debug"}} -----------------


class OdooSettings(RestSettings):
    base_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8069")
    database: str = ODOO_DB
    user_id: int = USER_ID
    password: SecretStr


class NewPartner(ActionInput):
    name: str


class PartnerId(BaseModel):
    id: int


class Odoo(JsonRpcConnector):
    """Odoo over /jsonrpc: every call is the method "call"; the operation names it."""

    name = "odoo_test"
    Settings = OdooSettings
    settings: OdooSettings
    error_codes: ClassVar[dict[str, type[RetrofitError]]] = {"builtins.TypeError": ActionInputError}

    def rpc_path(self, method: str) -> str:
        return "/jsonrpc"

    async def execute_kw(self, model: str, method: str, args: list[Any], *, service: str = "object") -> Any:
        s = self.settings
        params = {
            "service": service,
            "method": "execute_kw",
            "args": [s.database, s.user_id, s.password.get_secret_value(), model, method, args],
        }
        return await self.rpc_raw("call", params, operation=f"{model}.{method}")

    @action(effect=Effect.WRITE)
    async def create_partner(self, req: NewPartner) -> PartnerId:
        """Create a contact."""
        return PartnerId(id=await self.execute_kw("res.partner", "create", [{"name": req.name}]))


async def odoo(server: JsonRpcServer, password: str = ODOO_PASSWORD) -> Odoo:
    connector = Odoo(Odoo.load_settings(base_url=server.url, password=SecretStr(password)))
    await connector.open()
    return connector


async def test_odoo_errors_are_typed_and_its_positional_password_stays_out_of_the_trail(
    server: JsonRpcServer,
) -> None:
    connector = await odoo(server)
    try:
        with running_call("wf-odoo#create", action="odoo_test.create_partner") as context:
            created = await connector.create_partner(NewPartner(name="Kaiser GmbH"))
            with pytest.raises(ActionInputError) as invalid:
                await connector.create_partner(NewPartner(name=""))
            with pytest.raises(ActionInputError) as bug:  # the connector's table: builtins.TypeError
                await connector.execute_kw("res.partner", "frobnicate", [])
            with pytest.raises(NonRetryableError) as missing:
                await connector.execute_kw("res.partner", "read", [], service="nope")
    finally:
        await connector.close()
    assert created.id == 42
    assert invalid.value.message == (
        "odoo_test res.partner.create: ValidationError: Contacts require a name (password was [REDACTED])"
    )
    assert "Traceback" not in (invalid.value.details or "") and "internals" not in invalid.value.message
    assert bug.value.message.startswith("odoo_test res.partner.frobnicate: TypeError:")
    assert type(missing.value) is NonRetryableError
    assert missing.value.message == "odoo_test res.partner.read: error -32601: Method not found"
    operations = [e["operation"] for e in context.exchanges]
    assert operations == [
        "res.partner.create",
        "res.partner.create",
        "res.partner.frobnicate",
        "res.partner.read",
    ]
    dumped = json.dumps(context.exchanges)
    assert ODOO_PASSWORD not in dumped and "[REDACTED]" in context.exchanges[0]["request_body"]
    assert ODOO_PASSWORD not in invalid.value.message + (invalid.value.details or "")


async def test_odoo_access_denied_is_an_auth_error(server: JsonRpcServer) -> None:
    connector = await odoo(server, password="stale-api-key-00")
    try:
        with pytest.raises(AuthError) as caught:
            await connector.create_partner(NewPartner(name="Kaiser GmbH"))
    finally:
        await connector.close()
    assert caught.value.message == "odoo_test res.partner.create: AccessDenied: Access Denied"


# -- hostile answers ------------------------------------------------------------------------------


class Probe(JsonRpcConnector):
    name = "rpc_probe"


def answered(body: bytes, content_type: str = "application/json") -> httpx.Response:
    response = httpx.Response(200, content=body, headers={"Content-Type": content_type})
    response.request = httpx.Request("POST", "http://rpc.example/")
    return response


def test_an_id_echoed_as_text_is_the_same_call() -> None:
    connector = Probe(Probe.load_settings(base_url="http://rpc.example"))
    assert connector.rpc_result("m", answered(b'{"id": "7", "result": [1]}'), call_id=7) == [1]
    assert connector.rpc_result("m", answered(b'{"id": null, "result": 2}'), call_id=7) == 2


@pytest.mark.parametrize(
    ("body", "expected", "text"),
    [
        (b"<html>Login</html>", NonRetryableError, "not JSON-RPC"),
        (b"[1, 2]", NonRetryableError, "a JSON list"),
        (b'{"id": 8, "result": 1}', NonRetryableError, "for call '8', not 7"),
        (b'{"id": 7}', NonRetryableError, "without a result or an error"),
        (b'{"id": 7, "error": 5}', NonRetryableError, "error: 5"),
        (b'{"id": 7, "error": {}}', NonRetryableError, "rpc_probe m: error"),
        (b'{"id": 7, "error": []}', NonRetryableError, "rpc_probe m: error"),
        (b'{"id": 7, "error": {"code": true, "message": "x"}}', NonRetryableError, "error: x"),
        (
            b'{"id": 7, "error": {"code": -32602, "message": "Invalid params"}}',
            ActionInputError,
            "error -32602",
        ),
        (b'{"id": 7, "error": {"code": -32603, "message": "Internal error"}}', RetryableError, "-32603"),
        (b'{"id": 7, "error": {"code": -32050, "message": "busy"}}', RetryableError, "busy"),
        (b'{"id": 7, "error": ["DatabaseOperationalError", []]}', RetryableError, "DatabaseOperationalError"),
        (b'{"id": 7, "error": ["LoginException", ["password", "Password", "password"]]}', AuthError, "Login"),
        (b'{"id": 7, "error": ["UserError", "token=abc123 is wrong"]}', ActionInputError, "[REDACTED]"),
    ],
)
def test_hostile_and_odd_answers(body: bytes, expected: type[RetrofitError], text: str) -> None:
    connector = Probe(Probe.load_settings(base_url="http://rpc.example"))
    with pytest.raises(RetrofitError) as caught:
        connector.rpc_result("m", answered(body), call_id=7)
    assert type(caught.value) is expected, caught.value.message
    assert text in caught.value.message
    assert len(caught.value.message) < 300


def test_a_huge_error_message_is_cut() -> None:
    error = rpc_error("m", ["UserError", ["x" * 100_000]])
    assert len(error.message) <= 200 and default_rpc_kind(error) is ActionInputError
    named = rpc_error("m", {"code": 200, "message": "m", "data": {"name": "E" * 100_000}})
    assert named.name is not None and len(named.name) <= 100
    assert default_rpc_kind(RpcError("m", name="odoo.exceptions.MissingError")) is ActionInputError


# -- through the gate -------------------------------------------------------------------------------


def gate_worker(env: WorkflowEnvironment, server: JsonRpcServer, audit_url: str) -> Worker:
    plugin = RetrofitPlugin(
        connectors=connectors_from_classes([Tryton]),
        workflows=SHIPPED_WORKFLOWS,
        audit_url=audit_url,
        policy=allow_all(),
        settings_overrides={
            "tryton_test": Tryton.load_settings(base_url=server.url, password=SecretStr(PASSWORD))
        },
        identity=PIN,
    )
    return Worker(env.client, task_queue=f"test-{uuid.uuid4()}", plugins=[plugin])


async def run_single(
    env: WorkflowEnvironment, worker: Worker, action_name: str, arguments: dict[str, Any]
) -> str:
    wf_id = f"jsonrpc-{uuid.uuid4().hex[:8]}"
    await env.client.execute_workflow(
        "SingleAction",
        SingleActionInput(action=action_name, arguments=arguments),
        id=wf_id,
        task_queue=worker.task_queue,
    )
    return wf_id


async def test_through_the_gate_the_audit_names_each_rpc_method(
    time_skipping_env: WorkflowEnvironment, server: JsonRpcServer, audit_url: str
) -> None:
    env = time_skipping_env
    async with gate_worker(env, server, audit_url) as worker:
        wf_id = await run_single(env, worker, "tryton_test.get_party", {"party_id": 1})
        failed_id = f"jsonrpc-{uuid.uuid4().hex[:8]}"
        with pytest.raises(WorkflowFailureError) as failure:
            await env.client.execute_workflow(
                "SingleAction",
                SingleActionInput(action="tryton_test.create_party", arguments={"name": ""}),
                id=failed_id,
                task_queue=worker.task_queue,
            )
    records = await audit_of(audit_url, wf_id)
    (succeeded,) = [r for r in records if r.kind.value == "action.succeeded"]
    assert [e.get("operation") for e in succeeded.data["exchanges"]] == [
        "common.db.login",
        "model.party.party.read",
    ]
    assert succeeded.data["output"]["name"] == "Van Dijk Bouwmaterialen B.V."
    assert PASSWORD not in json.dumps([r.data for r in records])

    failed = await audit_of(audit_url, failed_id)
    attempts = [r for r in failed if r.kind.value == "action.attempt_failed"]
    assert len(attempts) == 1, kinds(failed)  # an input error is not retried
    assert attempts[0].data["error_type"] == "ActionInputError"
    assert "tryton_test model.party.party.create: RequiredValidationError" in attempts[0].data["error"]
    assert [e["operation"] for e in attempts[0].data["exchanges"]][-1] == "model.party.party.create"
    assert "RequiredValidationError" in _cause_text(failure.value)


async def test_through_the_gate_a_locked_account_costs_one_login(
    time_skipping_env: WorkflowEnvironment, server: JsonRpcServer, audit_url: str
) -> None:
    env = time_skipping_env
    server.lock_out()
    failed_ids = [f"jsonrpc-lock-{i}-{uuid.uuid4().hex[:6]}" for i in range(3)]
    async with gate_worker(env, server, audit_url) as worker:
        for wf_id in failed_ids:
            with pytest.raises(WorkflowFailureError):
                await env.client.execute_workflow(
                    "SingleAction",
                    SingleActionInput(action="tryton_test.get_party", arguments={"party_id": 1}),
                    id=wf_id,
                    task_queue=worker.task_queue,
                )
    # Three workflows, each failed at once (AuthError is not retried), one login between them.
    assert server.state.login_attempts == 1
    for wf_id in failed_ids:
        attempts = [r for r in await audit_of(audit_url, wf_id) if r.kind.value == "action.attempt_failed"]
        assert len(attempts) == 1 and attempts[0].data["error_type"] == "AuthError"
        assert "refuses logins for now" in attempts[0].data["error"]


def _cause_text(error: BaseException) -> str:
    texts = []
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ApplicationError | ActivityError):
            texts.append(str(cause))
        cause = cause.__cause__
    return " | ".join(texts)
