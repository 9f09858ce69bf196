"""The issue's "done when", as a user runs it: `RETROFIT_OTLP_ENDPOINT=… RETROFIT_LOG_FORMAT=json
retrofit dev --demo` (a real subprocess), then the demo's five workflows started the ways people
start them — CreditLimitReview with `retrofit start`, its approvals answered with the `decide`
Update (`retrofit approvals approve`) and the `approve` Signal (`--signal`); an AgentTask with
`retrofit agent run`, its approvals answered like the Temporal UI does (no trace context); the
OverdueFollowUp, the rejected delete and the invalid arguments started as from the UI's form —
yield exactly one trace per workflow at a real OTLP/HTTP receiver, with the approvals and the
audit activities in it. The same run checks the process's output: every line JSON, every
activity line carrying its workflow, run, activity, attempt, step and action."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle

from retrofit.cli.approval_commands import signed_payload
from retrofit.cli.identity_client import PASSWORD_ENV, TOKEN_ENV, IdentityClient
from retrofit.codec.converter import data_converter
from retrofit.embedded.demo import AGENT_GOAL, AGENT_TOOLS
from retrofit.embedded.dev_server import free_port
from retrofit.embedded.identity_server import demo_password
from retrofit.gate.approval_models import DECIDE_UPDATE, PENDING_QUERY, ApprovalView
from retrofit.observability.workflow_trace import root_traceparent
from retrofit.settings import RetrofitSettings
from tests.production.otlp_receiver import OtlpReceiver, ReceivedSpan

pytestmark = pytest.mark.devserver

RETROFIT = str(Path(sys.executable).with_name("retrofit"))

# A client's own calls on a running workflow are in the caller's trace (an answer's span is
# linked from the workflow's `HandleUpdate`); queries stay in the caller's trace too.
_CALLER_SPANS = ("StartWorkflowUpdate:", "QueryWorkflow:", "SignalWorkflow:", "HandleQuery:")


@dataclass
class DevStack:
    process: asyncio.subprocess.Process
    out: Path
    err: Path
    env: dict[str, str]  # what a CLI subprocess gets: the stack's addresses and the endpoint
    settings: RetrofitSettings
    client: Client  # untraced, like the Temporal UI

    def lines(self) -> list[str]:
        return [
            line
            for path in (self.out, self.err)
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as received:
        yield received


@pytest.fixture
async def dev_stack(tmp_path: Path, receiver: OtlpReceiver) -> AsyncIterator[DevStack]:
    port, ui_port, identity_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RETROFIT_", "OTEL_"))}
    env.update(
        HOME=str(tmp_path),
        COLUMNS="200",
        RETROFIT_DATA_DIR=str(tmp_path / "data"),
        RETROFIT_AUDIT_DB_URL=f"sqlite:///{tmp_path / 'audit.db'}",
        RETROFIT_OTLP_ENDPOINT=receiver.endpoint,
        RETROFIT_LOG_FORMAT="json",
        # The batch processor's standard knob: export every 200 ms instead of every 5 s.
        OTEL_BSP_SCHEDULE_DELAY="200",
    )
    out, err = tmp_path / "dev.out", tmp_path / "dev.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            RETROFIT, "dev", "--demo", "--port", str(port), "--ui-port", str(ui_port),
            "--identity-port", str(identity_port), "--web-port", "0",
            env=env, stdout=stdout, stderr=stderr,
        )  # fmt: skip
    cli_env = {
        **env,
        "RETROFIT_TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
        "RETROFIT_IDENTITY_URL": f"http://localhost:{identity_port}",
    }
    settings = RetrofitSettings(
        temporal_address=cli_env["RETROFIT_TEMPORAL_ADDRESS"], identity_url=cli_env["RETROFIT_IDENTITY_URL"]
    )
    try:
        for _ in range(600):
            if process.returncode is not None:
                raise AssertionError(f"retrofit dev exited {process.returncode}: {err.read_text()}")
            if "Worker running" in out.read_text() + err.read_text():
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"retrofit dev never said it runs: {out.read_text()} {err.read_text()}")
        client = await Client.connect(settings.temporal_address, data_converter=data_converter(settings))
        yield DevStack(process, out, err, cli_env, settings, client)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)  # as Ctrl-C: the stack stops, spans are flushed
            try:
                await asyncio.wait_for(process.wait(), timeout=30)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _cli(stack: DevStack, *args: str, user: str) -> str:
    env = {**stack.env, PASSWORD_ENV: demo_password(user)}
    env.pop(TOKEN_ENV, None)
    process = await asyncio.create_subprocess_exec(
        RETROFIT, *args, "--as", user, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, (args, out.decode(), err.decode())
    return out.decode()


async def _next_request(handle: WorkflowHandle[Any, Any], skip: set[str]) -> ApprovalView | None:
    """The first pending approval not in `skip`; None once the workflow is no longer running."""
    for _ in range(400):
        views: list[ApprovalView] = await handle.query(PENDING_QUERY, result_type=list[ApprovalView])
        for view in views:
            if view.request_id not in skip:
                return view
        if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
            return None
        await asyncio.sleep(0.05)
    raise AssertionError(f"{handle.id}: nothing pending and still running")


async def _answer_as_the_ui_does(
    stack: DevStack, wf_id: str, view: ApprovalView, decision: str, user: str = "dave"
) -> None:
    """A signed answer sent by a client that carries no trace context (the Temporal UI)."""
    signed = await IdentityClient(stack.settings, user, password=demo_password(user)).answer(
        wf_id, view.request_id, view.args_hash, decision
    )
    payload = signed_payload(wf_id, view, decision, "not today" if decision == "reject" else "", signed)
    await stack.client.get_workflow_handle(wf_id).execute_update(DECIDE_UPDATE, payload)


_BARE_STARTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("OverdueFollowUp", {"max_invoices": 2, "warehouse_customers": {"C-1003": "ERNSH", "C-1005": "LILAS"}}),
    ("SingleAction", {"action": "ledger.delete_customer", "arguments": {"customer_id": "C-1004"}}),
    ("SingleAction", {"action": "ledger.set_credit_limit",
                      "arguments": {"customer_id": "C-1003", "credit_limit": -5}}),
)  # fmt: skip


async def _start_bare(stack: DevStack, workflow: str, arg: dict[str, Any]) -> WorkflowHandle[Any, Any]:
    return await stack.client.start_workflow(
        workflow, arg, id=f"bare-{uuid.uuid4().hex[:8]}", task_queue=stack.settings.task_queue
    )


def _one_trace(spans: list[ReceivedSpan]) -> str:
    spans = [s for s in spans if not s.name.startswith(_CALLER_SPANS)]
    assert spans, "no spans received"
    found = {s.trace_id for s in spans}
    assert len(found) == 1, sorted((s.trace_id, s.name) for s in spans)
    return found.pop()


def _assert_tree(spans: list[ReceivedSpan], root_name: str) -> None:
    """One root, the starter's span, and every other span under a span of the same trace."""
    [root] = [s for s in spans if not s.parent_span_id]
    assert root.name == root_name
    ids = {s.span_id for s in spans}
    assert not [s.name for s in spans if s is not root and s.parent_span_id not in ids]


async def _trace_with(receiver: OtlpReceiver, wf_id: str, expected: set[str]) -> list[ReceivedSpan]:
    """The workflow's one trace, once every expected span has arrived (exports are batched)."""
    spans: list[ReceivedSpan] = []
    for _ in range(200):
        if receiver.of_workflow(wf_id):
            spans = receiver.in_trace(_one_trace(receiver.of_workflow(wf_id)))
            if expected <= {s.name for s in spans}:
                return spans
        await asyncio.sleep(0.05)
    raise AssertionError(f"{wf_id}: missing {sorted(expected - {s.name for s in spans})}")


async def test_dev_demo_exports_one_trace_per_workflow(dev_stack: DevStack, receiver: OtlpReceiver) -> None:
    run = uuid.uuid4().hex[:6]
    review_id, agent_id = f"credit-review-C-1003-{run}", f"agent-collections-{run}"

    # CreditLimitReview from the CLI; apr-2 by the decide Update, apr-3 by the approve Signal.
    await _cli(dev_stack, "start", "CreditLimitReview", "--input", '{"customer_id": "C-1003"}',
               "--id", review_id, user="erin")  # fmt: skip
    review = dev_stack.client.get_workflow_handle(review_id)
    view = await _next_request(review, set())
    assert view is not None and view.request_id == "apr-2"
    await _cli(dev_stack, "approvals", "approve", review_id, "apr-2", "--reason", "good payer", user="alice")
    view = await _next_request(review, {"apr-2"})
    assert view is not None and view.request_id == "apr-3"
    await _cli(dev_stack, "approvals", "approve", review_id, "apr-3", "--signal", user="bob")
    assert (await asyncio.wait_for(review.result(), timeout=60))["changed"] is True

    # The agent from its CLI: one proposed note approved, the rest rejected, from an untraced client.
    allow = [arg for tool in AGENT_TOOLS for arg in ("--allow", tool)]
    await _cli(
        dev_stack, "agent", "run", AGENT_GOAL, *allow, "--max-steps", "8", "--id", agent_id, user="erin"
    )
    agent = dev_stack.client.get_workflow_handle(agent_id)
    answered: set[str] = set()
    while (view := await _next_request(agent, answered)) is not None:
        answered.add(view.request_id)
        await _answer_as_the_ui_does(dev_stack, agent_id, view, "approve" if len(answered) == 1 else "reject")
    assert answered, "the agent proposed nothing to approve"
    await asyncio.wait_for(agent.result(), timeout=60)

    # The rest of the demo's workflows, started and answered as from the Temporal UI (no context).
    overdue, delete, invalid = [await _start_bare(dev_stack, *args) for args in _BARE_STARTS]
    answered = set()
    while (view := await _next_request(overdue, answered)) is not None:
        answered.add(view.request_id)
        await _answer_as_the_ui_does(dev_stack, overdue.id, view, "approve")
    assert len(answered) == 2 and len((await overdue.result())["follow_ups"]) == 2
    view = await _next_request(delete, set())
    assert view is not None
    await _answer_as_the_ui_does(dev_stack, delete.id, view, "reject", user="carol")
    for refused in (delete, invalid):
        with pytest.raises(WorkflowFailureError):
            await refused.result()

    review_spans = await _trace_with(
        receiver,
        review_id,
        {
            "StartWorkflow:CreditLimitReview",  # the CLI's span: the root
            "RunWorkflow:CreditLimitReview",
            "HandleUpdate:decide",
            "HandleSignal:approve",
            "RunActivity:retrofit.audit.record",
            "RunActivity:retrofit.audit.record_answer",
            "RunActivity:ledger.set_credit_limit",
            "ledger.set_credit_limit",
            "CompleteWorkflow:CreditLimitReview",
        },
    )
    _assert_tree(review_spans, "StartWorkflow:CreditLimitReview")
    # Each answer's own client span (the CLI's) is a trace of its own, linked from the handler.
    for handler, caller in (("HandleUpdate:decide", "StartWorkflowUpdate:decide"),
                            ("HandleSignal:approve", "SignalWorkflow:approve")):  # fmt: skip
        [handled] = [s for s in review_spans if s.name == handler]
        [sent] = [s for s in receiver.spans if s.span_id in handled.links]
        assert sent.name == caller and sent.trace_id != handled.trace_id
    agent_spans = await _trace_with(
        receiver,
        agent_id,
        {
            "StartWorkflow:AgentTask",
            "RunWorkflow:AgentTask",
            "RunActivity:retrofit.llm.complete",
            "HandleUpdate:decide",
            "RunActivity:retrofit.audit.record_answer",
            "RunActivity:crm.add_note",
            "crm.add_note",
        },
    )
    _assert_tree(agent_spans, "StartWorkflow:AgentTask")
    assert {s.trace_id for s in agent_spans}.isdisjoint({s.trace_id for s in review_spans})
    # Answered like the UI does (no trace context): each answer handled in the workflow's trace.
    updates = [s for s in agent_spans if s.name == "HandleUpdate:decide"]
    assert len(updates) == len(answered) and not any(s.links for s in updates)

    # Each rooted at itself: the trace id derived from its workflow id and first run id.
    for handle, names in (
        (overdue, {"HandleUpdate:decide", "RunActivity:erp.list_invoices", "RunActivity:crm.add_note"}),
        (delete, {"HandleUpdate:decide", "RunActivity:retrofit.audit.record_answer"}),
        (invalid, {"RunWorkflow:SingleAction", "RunActivity:retrofit.audit.record"}),
    ):
        spans = await _trace_with(receiver, handle.id, names)
        derived = root_traceparent(handle.id, handle.result_run_id or "").split("-")
        assert {s.trace_id for s in spans} == {derived[1]}
        ids = {s.span_id for s in spans} | {derived[2]}
        assert not [s.name for s in spans if s.parent_span_id not in ids]

    dev_stack.process.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(dev_stack.process.wait(), timeout=30) == 0
    _check_output(dev_stack.lines(), review_id, agent_id)


def _check_output(lines: list[str], review_id: str, agent_id: str) -> None:
    """RETROFIT_LOG_FORMAT=json: every line the process wrote is one JSON object, startup included."""
    entries: list[dict[str, Any]] = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"not a JSON line: {line!r}") from None
    messages = " ".join(str(e.get("message")) for e in entries)
    assert "Temporal Web UI" in messages and "Worker running" in messages
    activity_lines = [e for e in entries if "activity" in e]
    assert {e["workflow_id"] for e in activity_lines} >= {review_id, agent_id}, activity_lines[:5]
    for entry in activity_lines:
        missing = {"workflow_id", "run_id", "activity", "attempt", "step", "action", "trace_id"} - set(entry)
        assert not missing, (missing, entry)
    # The workflow side, through the SDK's replay-safe logger: what it schedules, which answers came.
    review = [
        e for e in entries if e["logger"] == "temporalio.workflow" and e.get("workflow_id") == review_id
    ]
    assert all(e["run_id"] and e["trace_id"] for e in review)
    assert not [e for e in review if "({" in e["message"]]  # the context is in fields, not the text
    scheduled = {
        (e["step"], e["action"]) for e in review if "step" in e and e.get("scheduled") == e["action"]
    }
    assert {"ledger.get_customer", "ledger.set_credit_limit", "ledger.add_note"} <= {a for _, a in scheduled}
    assert {e.get("update") for e in review} >= {"decide"} and {e.get("signal") for e in review} >= {
        "approve"
    }
