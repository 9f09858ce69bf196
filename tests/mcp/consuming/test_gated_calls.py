"""External MCP tools as actions, through the gate, on a real Temporal dev server.

The servers are real: tool_server.py (written with the SDK) as a stdio subprocess and over
streamable HTTP on loopback with a bearer credential, and `mcp-server-time` from PyPI. Every
call goes SingleAction (or AgentTask) → policy → approval → action activity → MCP session.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from retrofit.agent.contracts import AgentTaskInput, StopReason, ToolOutcome
from retrofit.audit.events import AuditRecord
from retrofit.gate.approval_models import ApprovalView, DecideResult
from retrofit.gate.policy import ApprovalRequirement, Outcome, Policy, Rule
from retrofit.llm.scripted_server import ScriptedModelServer
from retrofit.mcp.consuming.config import load_servers
from retrofit.mcp.consuming.importer import import_servers
from retrofit.mcp.consuming.loading import with_mcp_connectors
from retrofit.mcp.consuming.lock import lock_path, write_lock
from retrofit.plugin import RetrofitPlugin
from retrofit.sdk.effect import Effect
from retrofit.settings import RetrofitSettings
from retrofit.worker import build_worker
from tests.identity_support import PIN, signed
from tests.mcp.consuming.servers import (
    TOKEN,
    free_port,
    http_server,
    http_tool_server,
    stdio_server,
    time_server,
)
from tests.support import ScriptedModel, audit_of, kinds
from tests.workflow.agent_helpers import (
    as_json,
    by_action,
    calls,
    run_answering,
    say,
    start_agent,
    tool_messages,
)
from workflows.agent_task.workflow import AgentTask
from workflows.single_action.workflow import SingleAction, SingleActionInput, SingleActionResult

pytestmark = pytest.mark.devserver

POLICY = Policy(
    groups={"ops": ("alice", "bob")},
    by_effect={
        Effect.READ: Rule(outcome=Outcome.ALLOW),
        Effect.WRITE: Rule(
            outcome=Outcome.REQUIRE_APPROVAL,
            approval=ApprovalRequirement(allowed_groups=("ops",), timeout=timedelta(minutes=10)),
        ),
    },
)


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    with http_tool_server(free_port()) as url:
        yield url


@pytest.fixture(scope="module")
def named_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The worker's environment holding what the servers file names (credential, files)."""
    base = tmp_path_factory.mktemp("mcp-env")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TEST_TOOL_LOG", str(base / "tool.log"))
        patch.setenv("TEST_FLAVOR_FILE", str(base / "flavor"))
        patch.setenv("TEST_DRIFT_FILE", str(base / "drift"))
        patch.setenv("TEST_MCP_AUTH", f"Bearer {TOKEN}")
        yield base


@pytest.fixture
def tool_log(named_env: Path) -> Path:
    """What cancel_order really did, for this test."""
    log = named_env / "tool.log"
    log.write_text("")
    return log


@pytest.fixture(scope="module")
def module_audit_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('mcp-audit') / 'audit.db'}"


async def _worker(client: Client, servers_file: Path, audit_url: str, **plugin: Any) -> Worker:
    """Import (the operator's step), then a worker built from the lock, as load_worker_config does."""
    write_lock(lock_path(servers_file), await import_servers(load_servers(servers_file).servers))
    connectors = with_mcp_connectors([], servers_file)
    retrofit = RetrofitPlugin(
        connectors=connectors,
        workflows=[SingleAction, AgentTask],
        audit_url=audit_url,
        policy=POLICY,
        identity=PIN,
        **plugin,
    )
    return Worker(client, task_queue=f"mcp-{uuid.uuid4()}", plugins=[retrofit])


@pytest.fixture(scope="module")
async def worker(
    dev_server_env: WorkflowEnvironment,
    tmp_path_factory: pytest.TempPathFactory,
    http_url: str,
    named_env: Path,
    module_audit_url: str,
    scripted_server: ScriptedModelServer,
) -> AsyncIterator[Worker]:
    """One worker for the module (its runs are told apart by workflow id)."""
    servers = tmp_path_factory.mktemp("mcp-config") / "mcp-servers.toml"
    servers.write_text(stdio_server("shop") + http_server("shophttp", http_url) + time_server())
    llm = ScriptedModel(scripted_server).settings()
    async with await _worker(dev_server_env.client, servers, module_audit_url, llm_settings=llm) as w:
        yield w


@pytest.fixture
def audit_url(module_audit_url: str) -> str:
    return module_audit_url


async def _start(
    client: Client, worker: Worker, action: str, arguments: dict[str, Any]
) -> WorkflowHandle[Any, Any]:
    return await client.start_workflow(
        SingleAction.run,
        SingleActionInput(action=action, arguments=arguments),
        id=f"mcp-{uuid.uuid4().hex[:8]}",
        task_queue=worker.task_queue,
    )


async def _failure(handle: WorkflowHandle[Any, Any]) -> ApplicationError:
    with pytest.raises(WorkflowFailureError) as info:
        await handle.result()
    cause = info.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def _pending(handle: WorkflowHandle[Any, Any]) -> ApprovalView:
    for _ in range(200):
        views: list[ApprovalView] = await handle.query("pending_approvals", result_type=list[ApprovalView])
        if views:
            return views[0]
        await asyncio.sleep(0.05)
    raise AssertionError("no approval requested")


def _ran(log: Path) -> str:
    return log.read_text()


def _set_flavor(path: str, flavor: str) -> None:
    Path(path).write_text(flavor)


def _failed(records: list[AuditRecord]) -> list[AuditRecord]:
    return [r for r in records if r.kind.value == "action.attempt_failed"]


@pytest.mark.parametrize(
    ("action", "arguments"),
    [
        ("shop.lookup_order", {"order_id": "A-100"}),
        ("shophttp.lookup_order", {"order_id": "A-100"}),
        ("time.get_current_time", {"timezone": "Europe/Paris"}),
    ],
    ids=["stdio", "http", "mcp-server-time"],
)
async def test_read_tool_runs_and_is_audited(
    dev_server_env: WorkflowEnvironment,
    worker: Worker,
    audit_url: str,
    action: str,
    arguments: dict[str, Any],
) -> None:
    handle = await _start(dev_server_env.client, worker, action, arguments)
    result: SingleActionResult = await handle.result()
    if action == "time.get_current_time":
        assert result.output["structured"]["timezone"] == "Europe/Paris"
        assert result.output["structured"]["datetime"]
    else:
        assert result.output["structured"] == {"order_id": "A-100", "status": "shipped", "verbose": False}
        assert result.output["text"] == "order A-100 shipped"
    records = await audit_of(audit_url, handle.id)
    assert kinds(records) == ["action.proposed", "policy.allowed", "action.started", "action.succeeded"]
    assert {r.action for r in records} == {action} and {r.effect for r in records} == {"read"}
    succeeded = records[-1]
    assert succeeded.data["output"]["structured"] == result.output["structured"]
    [exchange] = succeeded.data["exchanges"]
    assert exchange["mcp_server"] == action.split(".")[0] and exchange["is_error"] is False


async def test_unannotated_tool_is_write_waits_for_approval_then_runs_once(
    dev_server_env: WorkflowEnvironment, worker: Worker, audit_url: str, tool_log: Path
) -> None:
    arguments = {"order_id": "A-7", "reason": "fraud"}
    handle = await _start(dev_server_env.client, worker, "shop.cancel_order", arguments)
    view = await _pending(handle)
    # The approver sees the arguments as the generated model normalised them; the tool is sent
    # the same call without the unset optional field.
    assert (view.action, view.arguments) == ("shop.cancel_order", {**arguments, "refund_cents": None})
    assert view.may_approve == ["group:ops"]
    assert _ran(tool_log) == ""  # nothing ran before the approval

    answer = await signed(dev_server_env, handle.id, view, "alice", "approve", reason="confirmed fraud")
    decided = await handle.execute_update("decide", answer, result_type=DecideResult)
    assert decided.approved_by == ["alice"]
    result: SingleActionResult = await handle.result()
    assert result.output["text"] == "cancelled A-7"
    # It ran once, and the call's idempotency key (the one the audit trail records) reached the
    # server in the request's _meta, for servers that deduplicate.
    records = await audit_of(audit_url, handle.id)
    assert _ran(tool_log) == f"cancel A-7 fraud key={records[-1].idempotency_key}\n"
    assert kinds(records) == [
        "action.proposed",
        "approval.requested",
        "approval.granted",
        "policy.allowed",
        "action.started",
        "action.succeeded",
    ]
    assert records[0].effect == "write" and records[-1].idempotency_key == f"{handle.id}#1"
    assert records[2].actor.name == "alice" and records[2].data["identity"]["verified"] is True


async def test_forged_approval_for_an_mcp_write_is_refused_and_nothing_runs(
    dev_server_env: WorkflowEnvironment, worker: Worker, tool_log: Path
) -> None:
    handle = await _start(
        dev_server_env.client, worker, "shop.cancel_order", {"order_id": "A-8", "reason": "stock"}
    )
    view = await _pending(handle)
    # A person outside the approver group signs correctly: refused like any action's approval.
    answer = await signed(dev_server_env, handle.id, view, "mallory", "approve")
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await handle.execute_update("decide", answer, result_type=DecideResult)
    assert isinstance(info.value.cause, ApplicationError) and info.value.cause.type == "ApprovalRefused"
    assert "mallory" in info.value.cause.message
    assert _ran(tool_log) == ""
    await handle.terminate("test over")


async def test_tool_error_fails_at_once_with_its_message(
    dev_server_env: WorkflowEnvironment, worker: Worker, audit_url: str
) -> None:
    handle = await _start(dev_server_env.client, worker, "shop.explode", {})
    failure = await _failure(handle)
    assert failure.type == "ActionFailed"
    assert "warehouse database is on fire" in failure.message
    [failed] = _failed(await audit_of(audit_url, handle.id))
    assert failed.attempt == 1 and "shop.explode reported an error" in failed.data["error"]
    assert failed.data["retryable"] is False


async def test_invalid_arguments_never_reach_the_server(
    dev_server_env: WorkflowEnvironment, worker: Worker, audit_url: str
) -> None:
    # The generated model enforces the pinned schema: minLength 3, no unknown fields, enum values.
    for arguments in ({"order_id": "A"}, {"order_id": "A-100", "sql": "drop table"}):
        handle = await _start(dev_server_env.client, worker, "shop.lookup_order", arguments)
        assert (await _failure(handle)).type == "InvalidArguments"
    handle = await _start(
        dev_server_env.client, worker, "shop.cancel_order", {"order_id": "A-1", "reason": "fun"}
    )
    assert (await _failure(handle)).type == "InvalidArguments"
    assert "action.started" not in kinds(await audit_of(audit_url, handle.id))


async def test_hostile_answers_are_refused_or_described(
    dev_server_env: WorkflowEnvironment, worker: Worker, audit_url: str
) -> None:
    flood = await _start(dev_server_env.client, worker, "shop.flood", {})
    failure = await _failure(flood)
    assert "answered 3,000,000 characters" in failure.message and "max_result_chars" in failure.message
    [failed] = _failed(await audit_of(audit_url, flood.id))
    assert failed.data["retryable"] is False
    # The 3 MB never reached the audit trail: only the size.
    assert failed.data["exchanges"][0]["answer_chars"] == 3_000_000

    garbage = await _start(dev_server_env.client, worker, "shop.garbage", {})
    failure = await _failure(garbage)
    assert "shop.garbage answered something that is not a valid MCP tool result" in failure.message
    [failed] = _failed(await audit_of(audit_url, garbage.id))
    assert failed.data["retryable"] is False and failed.data["delivery"] == "unknown"

    junk = await _start(dev_server_env.client, worker, "shop.binary", {})
    result: SingleActionResult = await junk.result()
    assert result.output == {
        "text": "",
        "structured": None,
        "other_content": ["image (image/png), 14 base64 characters"],
    }


async def test_schema_drift_is_refused_naming_the_tool(
    dev_server_env: WorkflowEnvironment, tmp_path: Path, tool_log: Path
) -> None:
    audit_url = f"sqlite:///{tmp_path / 'audit.db'}"  # its own worker, its own trail
    servers = tmp_path / "mcp-servers.toml"
    servers.write_text(stdio_server("drifty", '["lookup_order"]', flavor_env="TEST_DRIFT_FILE"))
    async with await _worker(dev_server_env.client, servers, audit_url) as worker:
        # The server changes the tool after the operator locked it: a new required property.
        _set_flavor(os.environ["TEST_DRIFT_FILE"], "v2")
        handle = await _start(dev_server_env.client, worker, "drifty.lookup_order", {"order_id": "A-100"})
        failure = await _failure(handle)
    assert failure.type == "ActionFailed"
    assert "drifty.lookup_order refused: its input schema changed since it was locked" in failure.message
    assert "retrofit mcp import" in failure.message
    records = await audit_of(audit_url, handle.id)
    [failed] = _failed(records)
    assert failed.data["retryable"] is False and failed.data["delivery"] == "not_sent"


async def test_server_down_is_retried_then_fails_recorded(
    dev_server_env: WorkflowEnvironment, tmp_path: Path, tool_log: Path
) -> None:
    audit_url = f"sqlite:///{tmp_path / 'audit.db'}"  # its own worker, its own trail
    servers = tmp_path / "mcp-servers.toml"
    port = free_port()
    with http_tool_server(port) as url:
        servers.write_text(http_server("gone", url, '["lookup_order"]'))
        write_lock(lock_path(servers), await import_servers(load_servers(servers).servers))
    # The server is down now; the worker still starts from the lock.
    retrofit = RetrofitPlugin(
        connectors=with_mcp_connectors([], servers),
        workflows=[SingleAction],
        audit_url=audit_url,
        policy=POLICY,
        identity=PIN,
    )
    async with Worker(dev_server_env.client, task_queue=f"mcp-{uuid.uuid4()}", plugins=[retrofit]) as worker:
        handle = await _start(dev_server_env.client, worker, "gone.lookup_order", {"order_id": "A-100"})
        failure = await _failure(handle)
    assert failure.type == "ActionFailed"
    assert "MCP server 'gone' could not be reached" in failure.message
    failed = _failed(await audit_of(audit_url, handle.id))
    assert [f.attempt for f in failed] == [1, 2]  # retries = 2 in the servers file
    assert all(f.data["retryable"] and f.data["delivery"] == "not_sent" for f in failed)


async def test_agent_calls_mcp_tools_by_name_and_its_write_waits_for_approval(
    dev_server_env: WorkflowEnvironment, worker: Worker, scripted: ScriptedModel, tool_log: Path
) -> None:
    model = scripted.add(
        calls(("shop__lookup_order", {"order_id": "A-100"})),
        calls(("time__get_current_time", {"timezone": "UTC"})),
        calls(("shop__cancel_order", {"order_id": "A-100", "reason": "customer"})),
        say("Order A-100 had shipped; cancelled at the customer's request."),
    )
    task = AgentTaskInput.model_validate(
        {
            "goal": "Cancel order A-100 for the customer",
            "allowed_actions": ["shop.lookup_order", "shop.cancel_order", "time.*"],
            "model": {"model": model},
        }
    )
    handle = await start_agent(dev_server_env.client, worker.task_queue, task)
    result, approvals = await run_answering(
        handle, by_action({"shop.cancel_order": "approve"}), approver="bob"
    )
    assert result.status is StopReason.ANSWERED
    assert [(t.action, t.outcome) for t in result.tools] == [
        ("shop.lookup_order", ToolOutcome.SUCCEEDED),
        ("time.get_current_time", ToolOutcome.SUCCEEDED),
        ("shop.cancel_order", ToolOutcome.SUCCEEDED),
    ]
    assert [a.action for a in approvals] == ["shop.cancel_order"]  # only the unannotated tool waited
    assert _ran(tool_log).startswith("cancel A-100 customer ")
    sent = scripted.requests(model)
    offered = {tool["function"]["name"] for tool in sent[0]["body"]["tools"]}
    assert offered == {
        "shop__lookup_order",
        "shop__cancel_order",
        "time__get_current_time",
        "time__convert_time",
    }
    order_tool = next(t for t in sent[0]["body"]["tools"] if t["function"]["name"] == "shop__lookup_order")
    assert order_tool["function"]["parameters"]["properties"]["order_id"]["minLength"] == 3
    assert as_json(tool_messages(sent[1]["body"])[0])["structured"]["status"] == "shipped"


async def test_the_production_worker_wiring_serves_the_locked_tools(
    dev_server_env: WorkflowEnvironment, tmp_path: Path, named_env: Path
) -> None:
    """`retrofit worker` / `retrofit dev` build their worker with load_worker_config: with
    RETROFIT_MCP_SERVERS_FILE set, the locked MCP tools are served next to the plugins."""
    servers = tmp_path / "mcp-servers.toml"
    servers.write_text(time_server())
    write_lock(lock_path(servers), await import_servers(load_servers(servers).servers))
    settings = RetrofitSettings(
        mcp_servers_file=servers,
        audit_db_url=f"sqlite:///{tmp_path / 'audit.db'}",
        data_dir=tmp_path,
        task_queue=f"mcp-{uuid.uuid4()}",
    )
    async with build_worker(dev_server_env.client, settings) as worker:
        handle = await _start(dev_server_env.client, worker, "time.convert_time", CONVERT)
        result: SingleActionResult = await handle.result()
    assert result.output["structured"]["source"]["timezone"] == "Europe/Paris"
    assert result.output["structured"]["target"]["timezone"] == "Asia/Tokyo"


CONVERT = {"source_timezone": "Europe/Paris", "time": "09:30", "target_timezone": "Asia/Tokyo"}
