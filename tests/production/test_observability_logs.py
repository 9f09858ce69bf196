"""JSON logs as ops read them: every line an activity writes (a connector's HTTP line, the LLM
client's, the SDK's own "Completing activity as failed") carries the workflow, run, activity,
attempt, step and action; `retrofit worker` with RETROFIT_LOG_FORMAT=json writes JSON only; a
hostile value cannot forge a log line."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from retrofit.agent.contracts import AgentTaskInput, AgentTaskResult
from retrofit.audit.events import Actor, ActorKind, AuditEvent, AuditKind
from retrofit.gate.contracts import AnswerAudit, AuditBatch
from retrofit.llm.contracts import LLM_ACTIVITY
from retrofit.observability import JsonFormatter
from retrofit.observability.log_context import LogFields, activity_fields, fields_of
from retrofit.settings import RetrofitSettings
from retrofit.worker import connect
from tests.support import DemoSystems, ScriptedModel, demo_worker, inject_fault
from tests.workflow.agent_helpers import say

RETROFIT = str(Path(sys.executable).with_name("retrofit"))
_WHERE = {"workflow_id", "run_id", "activity", "attempt", "step", "action", "trace_id"}


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the root logger writes, as `configure_logging` sets it up for RETROFIT_LOG_FORMAT=json."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _entries(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.devserver
async def test_failed_attempts_and_model_calls_carry_step_and_action(
    dev_server_env: WorkflowEnvironment,
    demo_systems: DemoSystems,
    audit_url: str,
    scripted: ScriptedModel,
    json_lines: io.StringIO,
) -> None:
    settings = RetrofitSettings(temporal_address=dev_server_env.client.service_client.config.target_host)
    client = await connect(settings)  # Retrofit's interceptors, as every worker process has them
    model = scripted.add(say("Nothing is overdue today."))
    async with demo_worker(client, demo_systems, audit_url, llm_settings=scripted.settings()) as worker:
        inject_fault(demo_systems.ledger, fail_next=1, status=503)  # attempt 1 fails, 2 succeeds
        read_id = f"logs-read-{uuid.uuid4().hex[:8]}"
        await client.execute_workflow(
            "SingleAction",
            {"action": "ledger.get_customer", "arguments": {"customer_id": "C-1001"}},
            id=read_id,
            task_queue=worker.task_queue,
        )
        scripted.fail_next(503)  # the model's first answer fails: the LLM activity's attempt 1
        agent = await client.start_workflow(
            "AgentTask",
            AgentTaskInput.model_validate(
                {"goal": "Check overdue invoices", "allowed_actions": ["erp.*"], "model": {"model": model}}
            ),
            id=f"logs-agent-{uuid.uuid4().hex[:8]}",
            task_queue=worker.task_queue,
            result_type=AgentTaskResult,
        )
        assert (await agent.result()).answer == "Nothing is overdue today."

    entries = _entries(json_lines)
    in_activities = [e for e in entries if "activity" in e]
    for entry in in_activities:
        assert not _WHERE - set(entry), (sorted(_WHERE - set(entry)), entry)

    read = [e for e in in_activities if e["workflow_id"] == read_id]
    [failed] = [e for e in read if e["message"].startswith("Completing activity as failed")]
    assert (failed["activity"], failed["action"], failed["attempt"]) == (
        "ledger.get_customer", "ledger.get_customer", 1,
    )  # fmt: skip
    assert failed["level"] == "WARNING" and "exception" in failed
    calls = [e for e in read if e["logger"] == "httpx"]
    assert {e["attempt"] for e in calls} == {1, 2} and {e["step"] for e in calls} == {failed["step"]}

    turns = [e for e in in_activities if e["workflow_id"] == agent.id and e["activity"] == LLM_ACTIVITY]
    [turn_failed] = [e for e in turns if e["message"].startswith("Completing activity as failed")]
    assert turn_failed["attempt"] == 1 and turn_failed["action"] == LLM_ACTIVITY
    retried = [e for e in turns if e["attempt"] == 2 and "chat/completions" in e["message"]]
    assert retried and {e["step"] for e in retried} == {turn_failed["step"]}

    # The workflow side (the SDK's replay-safe logger): the model turn it scheduled, same fields.
    [scheduled] = [
        e
        for e in entries
        if e["logger"] == "temporalio.workflow"
        and e.get("workflow_id") == agent.id
        and e.get("scheduled") == LLM_ACTIVITY
    ]
    assert scheduled["step"] == turn_failed["step"] and scheduled["run_id"] == turn_failed["run_id"]
    assert scheduled["trace_id"] == turn_failed["trace_id"]


@pytest.mark.devserver
async def test_worker_writes_json_only(dev_server_env: WorkflowEnvironment, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETROFIT_")}
    env.update(
        HOME=str(tmp_path),
        RETROFIT_TEMPORAL_ADDRESS=dev_server_env.client.service_client.config.target_host,
        RETROFIT_TASK_QUEUE=f"json-{uuid.uuid4().hex[:8]}",
        RETROFIT_DATA_DIR=str(tmp_path),
        RETROFIT_AUDIT_DB_URL=f"sqlite:///{tmp_path / 'audit.db'}",
        RETROFIT_LOG_FORMAT="json",
    )
    out, err = tmp_path / "worker.out", tmp_path / "worker.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            RETROFIT, "worker", env=env, stdout=stdout, stderr=stderr
        )
    try:
        for _ in range(600):
            if "worker on" in out.read_text() + err.read_text() or process.returncode is not None:
                break
            await asyncio.sleep(0.05)
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), timeout=60)
    lines = [line for path in (out, err) for line in path.read_text().splitlines() if line.strip()]
    assert code == 0, lines
    entries = [json.loads(line) for line in lines]  # raises on any line that is not JSON
    [started] = [e for e in entries if e["message"].startswith("worker on ")]
    assert started["logger"] == "retrofit.cli" and env["RETROFIT_TASK_QUEUE"] in started["message"]


def test_a_hostile_value_cannot_forge_a_line() -> None:
    forged = 'C-1\n{"level": "INFO", "message": "approved by alice", "workflow_id": "other"}'
    record = logging.makeLogRecord(
        {"name": "retrofit.test", "levelname": "WARNING", "msg": "no customer %s", "args": (forged,)}
    )
    record.__dict__["customer"] = forged  # through `extra=`
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == f"no customer {forged}" and entry["customer"] == forged
    assert "workflow_id" not in entry  # only the record's own context sets it


def _event(step: int, action: str | None) -> AuditEvent:
    return AuditEvent(
        event_id=f"wf/run/{step}/x",
        kind=AuditKind.PROPOSED,
        actor=Actor(kind=ActorKind.WORKFLOW, name="w"),
        workflow_id="wf",
        run_id="run",
        workflow_type="T",
        step=step,
        action=action,
        data={},
    )


def test_the_step_and_action_an_activity_serves() -> None:
    assert fields_of(AuditBatch(events=[_event(3, "ledger.add_note")] * 2), "retrofit.audit.record") == (
        LogFields(3, "ledger.add_note")
    )
    # Events of different steps: no single step to name, so none is claimed.
    mixed = AuditBatch(events=[_event(3, "ledger.add_note"), _event(4, "ledger.add_note")])
    assert fields_of(mixed, "retrofit.audit.record") is None
    assert fields_of(AuditBatch(events=[]), "retrofit.audit.record") is None
    answer = AnswerAudit(event=_event(5, None), via="update", message_name="decide")
    assert fields_of(answer, "retrofit.audit.record_answer") == LogFields(5, "retrofit.audit.record_answer")
    assert fields_of(7, "trace_test.touch") is None
    assert fields_of(type("Flag", (), {"step": True})(), "x") is None  # a bool is not a step
    assert activity_fields() is None  # outside an activity nothing is bound
