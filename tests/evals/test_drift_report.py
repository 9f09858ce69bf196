"""`retrofit eval report` on a real audit store, filled by real AgentTask runs (a real worker, the
scripted model server, the real demo ERP): a week like the one before is not drift; a week in which
the same model starts proposing invalid arguments, stops without answering and answers slower is,
and `--fail-on-drift` exits non-zero; so is a week in which people reject the writes they approved the
week before.

The weeks are real workflow time: this file's own time-skipping server is moved on by seven days
between batches, so each batch's `agent.started` records carry that week's date (the session's
server is left alone for the other files).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from retrofit.agent.contracts import AgentTaskInput, StopReason
from retrofit.agent.stopped import agent_task_result
from retrofit.audit.events import AuditRecord
from retrofit.audit.store import AuditStore
from retrofit.evals.drift.compare import Thresholds
from retrofit.evals.drift.report import GroupBy, Window, drift_report, windows
from retrofit.llm.scripted_server import Script, ScriptedToolCall, ScriptedTurn
from retrofit.llm.settings import SCRIPTED_MODEL
from tests.conftest import VENV_BIN
from tests.e2e.test_dev_server_cli import Cli
from tests.support import DemoSystems, ScriptedModel, demo_worker, priced
from tests.workflow.agent_helpers import by_action, calls, run_answering, say, start_agent

GOAL = "Check invoice INV-10008 for anna.becker@nordwind.example"
RUNS_PER_WEEK = 4
WEEK = timedelta(days=7)

GOOD = Script(turns=[calls(("erp__get_invoice", {"invoice_id": "INV-10008"})), say("INV-10008 is overdue.")])
# The same model, changed: it calls the tool with an argument the action does not take, slowly,
# until the consecutive-error budget stops the task.
BAD = Script(
    turns=[
        ScriptedTurn(
            tool_calls=[ScriptedToolCall(name="erp__get_invoice", arguments={"invoice": "INV-10008"})],
            delay_seconds=0.25,
        )
    ],
    repeat_last=True,
)


@pytest.fixture(scope="module")
async def weeks_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(VENV_BIN / "temporal-test-server"),
    )
    try:
        yield env
    finally:
        await env.shutdown()


LOW = Thresholds(min_runs=3)


def _w(pair: tuple[Window, Window]) -> dict[str, Window]:
    return {"current": pair[0], "previous": pair[1]}


async def audit_of_all(audit_url: str) -> list[AuditRecord]:
    async with await AuditStore.open(audit_url, migrate=False) as store:
        return [record async for record in store.iter_records()]


def _report_cli(audit_url: str) -> Cli:
    return Cli({**os.environ, "RETROFIT_AUDIT_DB_URL": audit_url, "COLUMNS": "200"})


async def _week_of_runs(env: WorkflowEnvironment, task_queue: str) -> list[StopReason]:
    task = AgentTaskInput(goal=GOAL, allowed_actions=["erp.get_invoice"])

    # The clock moves only when the test says so (env.sleep): a client waiting for a result would
    # otherwise let the server jump ahead to the next timer, years away, in the middle of a week.
    with env.auto_time_skipping_disabled():
        handles = [await start_agent(env.client, task_queue, task) for _ in range(RUNS_PER_WEEK)]
        return [(await agent_task_result(handle)).status for handle in handles]


async def _report(cli: Cli, until: datetime, *extra: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = await cli("eval", "report", "--until", until.isoformat(), "--format", "json", *extra)
    assert code in (0, 3), err
    return code, json.loads(out), err


async def test_an_unchanged_week_is_not_drift_and_a_seeded_regression_is(
    weeks_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    env = weeks_env
    cli = _report_cli(audit_url)
    settings = priced(scripted.settings(), SCRIPTED_MODEL, 1.0, 4.0)  # a real price: cost/turn is measured
    scripted.play(GOOD)
    async with demo_worker(env.client, demo_systems, audit_url, llm_settings=settings) as worker:
        assert await _week_of_runs(env, worker.task_queue) == [StopReason.ANSWERED] * RUNS_PER_WEEK
        await env.sleep(WEEK)
        assert await _week_of_runs(env, worker.task_queue) == [StopReason.ANSWERED] * RUNS_PER_WEEK
        second_week = await env.get_current_time()

        # Nothing changed: nothing flagged, and --fail-on-drift passes.
        until = second_week + timedelta(hours=1)
        code, calm, _ = await _report(cli, until, "--min-runs", "3", "--fail-on-drift")
        assert code == 0 and not calm["flagged"]
        (group,) = calm["groups"]
        assert group["group"] == SCRIPTED_MODEL and group["flags"] == [] and group["note"] == ""
        for window in ("previous", "current"):
            figures = group[window]
            assert figures["runs"] == figures["answered"] == RUNS_PER_WEEK
            assert figures["answered_rate"] == 1.0 and figures["stopped"] == {}
            assert figures["tool_calls"] == RUNS_PER_WEEK and figures["invalid_rate"] == 0.0
            assert figures["refusal_rate"] == 0.0 and figures["rejection_rate"] is None
            assert figures["turns"] == 2 * RUNS_PER_WEEK and figures["cost_per_turn"] > 0
        assert group["previous"]["tokens"] == group["current"]["tokens"] > 0

        await env.sleep(WEEK)
        scripted.play(BAD)
        stopped = await _week_of_runs(env, worker.task_queue)
        assert stopped == [StopReason.TOO_MANY_ERRORS] * RUNS_PER_WEEK
        third_week = await env.get_current_time()

    until = third_week + timedelta(hours=1)
    code, drift, err = await _report(cli, until, "--min-runs", "3", "--fail-on-drift")
    assert code == 3 and drift["flagged"] and "drift flagged in 1 of 1 groups" in err
    (group,) = drift["groups"]
    before, now = group["previous"], group["current"]
    assert before["answered"] == RUNS_PER_WEEK and now["answered"] == 0
    assert now["stopped"] == {"too_many_errors": RUNS_PER_WEEK} and now["answered_rate"] == 0.0
    # Three invalid calls in a row stop each task: every proposed call was invalid, none refused.
    assert now["tool_calls"] == now["invalid"] == 3 * RUNS_PER_WEEK and now["invalid_rate"] == 1.0
    assert now["refused"] == 0 and now["latency_p95_ms"] >= 250
    flagged = {flag["metric"]: flag for flag in group["flags"]}
    assert set(flagged) >= {"answered rate", "invalid-argument rate", "p95 latency per turn"}
    assert flagged["answered rate"]["change"] == "-100.0 points"
    assert flagged["invalid-argument rate"]["change"] == "+100.0 points"

    # Without --fail-on-drift the report itself is the outcome (the table below exits 0). The same
    # store read in-process (a CLI start costs seconds): with the default minimum of 5 runs a
    # window, four are too few to flag; by prompt version (the opening request is the same both
    # weeks) and by workflow type the regression shows as well.
    windows_now = windows(until, None, 7)
    async with await AuditStore.open(audit_url, migrate=False) as store:
        few = await drift_report(
            store.iter_records(), by=GroupBy.MODEL, thresholds=Thresholds(), **_w(windows_now)
        )
        by_prompt = await drift_report(
            store.iter_records(), by=GroupBy.PROMPT, thresholds=LOW, **_w(windows_now)
        )
        by_type = await drift_report(
            store.iter_records(), by=GroupBy.WORKFLOW_TYPE, thresholds=LOW, **_w(windows_now)
        )
    assert (
        not few.flagged and "too few runs to compare (4 before, 4 now; at least 5 each)" in few.groups[0].note
    )
    (prompt_group,) = by_prompt.groups
    decisions = [r for r in await audit_of_all(audit_url) if r.kind.value == "llm.decision" and r.step == 1]
    assert {d.data["prompt_hash"][:12] for d in decisions} == {prompt_group.group}
    assert prompt_group.flags and by_prompt.flagged
    assert [g.group for g in by_type.groups] == ["AgentTask"] and by_type.flagged

    # The table a person reads: the flags, and never the goal (nor what it redacted).
    code, table, err = await cli("eval", "report", "--until", until.isoformat(), "--min-runs", "3")
    assert code == 0, err
    assert "DRIFT retrofit-scripted: answered rate -100.0 points (threshold -10 points)" in table
    assert "too_many_errors 4" in table
    for text in (table, json.dumps(drift)):
        assert "INV-10008" not in text and "anna.becker" not in text and "[EMAIL]" not in text


async def test_people_rejecting_more_of_the_agents_writes_is_drift(
    weeks_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    env = weeks_env
    note = {"account_id": "A-2002", "body": "Overdue invoice chased by the collections agent."}
    scripted.play(Script(turns=[calls(("crm__add_note", note)), say("Done.")]))
    task = AgentTaskInput(goal=GOAL, allowed_actions=["crm.add_note"])

    async def week(decision: str, task_queue: str) -> list[str]:
        outcomes: list[str] = []
        with env.auto_time_skipping_disabled():
            for _ in range(3):
                handle = await start_agent(env.client, task_queue, task)
                result, approvals = await run_answering(handle, by_action({"crm.add_note": decision}))
                assert result.status is StopReason.ANSWERED and len(approvals) == 1
                outcomes.append(result.tools[0].outcome.value)
        return outcomes

    async with demo_worker(env.client, demo_systems, audit_url, llm_settings=scripted.settings()) as worker:
        assert await week("approve", worker.task_queue) == ["succeeded"] * 3
        await env.sleep(WEEK)
        assert await week("reject", worker.task_queue) == ["rejected"] * 3
        until = await env.get_current_time() + timedelta(hours=1)

    code, drift, err = await _report(_report_cli(audit_url), until, "--min-runs", "3", "--fail-on-drift")
    assert code == 3, err
    (group,) = drift["groups"]
    assert group["previous"]["rejection_rate"] == 0.0 and group["current"]["rejection_rate"] == 1.0
    assert group["current"]["approvals_requested"] == group["current"]["approvals_rejected"] == 3
    assert group["current"]["answered_rate"] == 1.0  # it still answers: only the rejections moved
    assert [(f["metric"], f["change"]) for f in group["flags"]] == [
        ("approval rejection rate", "+100.0 points")
    ]
