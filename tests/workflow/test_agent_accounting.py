"""Exact accounting and bounded turns, attacked by a hostile model server (the scripted server's
hostile knobs, through the real `openai` client) on the time-skipping Temporal server: lying
usage, oversize and garbage answers, a flood of tool calls in one turn, a run of refusals.

Every assertion is on what the audit trail and the task's result say."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from retrofit.agent.contracts import (
    AgentTaskInput,
    AgentTaskResult,
    Budget,
    ModelChoice,
    StopReason,
    ToolOutcome,
)
from retrofit.audit.events import AuditRecord
from retrofit.llm.scripted_server import ScriptedToolCall, ScriptedTurn
from retrofit.llm.settings import LlmSettings
from tests.support import DemoSystems, ScriptedModel, audit_of, demo_worker, priced
from tests.workflow.agent_helpers import (
    as_json,
    calls,
    history_text,
    run_answering,
    say,
    start_agent,
    tool_messages,
)
from tests.workflow.test_replay import replayer

READ = ("erp__get_invoice", {"invoice_id": "INV-10001"})


def _task(model: str, **fields: Any) -> AgentTaskInput:
    values: dict[str, Any] = {"goal": "Check invoice INV-10001", "allowed_actions": ["erp.get_invoice"]}
    return AgentTaskInput.model_validate({**values, "model": {"model": model}, **fields})


def _of(records: Sequence[AuditRecord], kind: str) -> list[AuditRecord]:
    return [r for r in records if r.kind.value == kind]


def _attempt_sums(records: Sequence[AuditRecord]) -> dict[str, float]:
    attempts = [r.data for r in _of(records, "llm.attempt")]
    return {
        "attempts": len(attempts),
        "prompt_tokens": sum(a["prompt_tokens"] for a in attempts),
        "completion_tokens": sum(a["completion_tokens"] for a in attempts),
        "cost_usd": sum(a["cost_usd"] or 0.0 for a in attempts),
    }


def _assert_totals_are_the_attempts(result: AgentTaskResult, records: Sequence[AuditRecord]) -> None:
    """The totals in `agent.finished` (and the result) are the sum over the `llm.attempt` records."""
    sums = _attempt_sums(records)
    finished = _of(records, "agent.finished")[-1].data["totals"]
    for totals in (finished, result.usage.model_dump()):
        assert totals["attempts"] == sums["attempts"]
        assert totals["prompt_tokens"] == sums["prompt_tokens"]
        assert totals["completion_tokens"] == sums["completion_tokens"]
        assert abs(totals["cost_usd"] - sums["cost_usd"]) < 1e-9


async def _run(
    env: WorkflowEnvironment,
    systems: DemoSystems,
    audit_url: str,
    task: AgentTaskInput,
    *,
    llm_settings: LlmSettings,
) -> tuple[AgentTaskResult, list[AuditRecord], str]:
    async with demo_worker(env.client, systems, audit_url, llm_settings=llm_settings) as worker:
        handle = await start_agent(env.client, worker.task_queue, task)
        result, _ = await run_answering(handle)
    return result, await audit_of(audit_url, handle.id), handle.id


async def test_totals_are_the_sum_of_every_attempt_failed_ones_included(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    model = scripted.add(calls(READ), say("INV-10001 is open."))
    settings = priced(scripted.settings(), model, 2.0, 8.0)
    scripted.fail_next(503)  # the first attempt is refused (not billed) and retried

    result, records, _ = await _run(
        time_skipping_env, demo_systems, audit_url, _task(model), llm_settings=settings
    )

    assert result.status is StopReason.ANSWERED
    attempts = [r.data for r in _of(records, "llm.attempt")]
    assert [(a["attempt"], a["outcome"], a["usage"]) for a in attempts] == [
        (1, "http_503", "none"),
        (2, "ok", "reported"),
        (1, "ok", "reported"),
    ]
    assert all(a["latency_ms"] is not None and a["requested_model"] == model for a in attempts)
    assert result.usage.attempts == 3 and result.usage.llm_calls == 2 and result.usage.cost_usd > 0
    _assert_totals_are_the_attempts(result, records)
    # The failed attempt is in the trail twice over: its accounting and its failure.
    assert [r.data["error_type"] for r in _of(records, "action.attempt_failed")] == ["Retryable"]


async def test_negative_usage_fails_the_task_instead_of_being_subtracted(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    lying = {"prompt_tokens": -30_000_000, "completion_tokens": -30_000_000, "total_tokens": -60_000_000}
    model = scripted.add(calls(READ), ScriptedTurn(content="Done.", usage=lying))
    settings = priced(scripted.settings(), model, 2.0, 8.0)

    result, records, _ = await _run(
        time_skipping_env, demo_systems, audit_url, _task(model), llm_settings=settings
    )

    assert result.status is StopReason.MODEL_FAILED
    assert result.detail and "usage is not believable" in result.detail
    assert result.usage.total_tokens > 0 and result.usage.cost_usd > 0
    assert result.usage.estimated_attempts == 1
    bad = _of(records, "llm.attempt")[-1].data
    assert (bad["outcome"], bad["usage"]) == ("bad_usage", "estimated")
    assert bad["prompt_tokens"] > 0 and "-30000000" in bad["reported_usage"]
    # Not retried: a lying provider is not paid twice. One request for each of the two turns.
    assert len(scripted.requests(model)) == 2
    assert _of(records, "action.attempt_failed")[-1].data["retryable"] is False
    _assert_totals_are_the_attempts(result, records)


async def test_huge_plausible_usage_stops_the_task_on_its_token_budget(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    greedy = {"prompt_tokens": 2_000, "completion_tokens": 30_000}
    turn = ScriptedTurn(tool_calls=[ScriptedToolCall(name=READ[0], arguments=READ[1])], usage=greedy)
    model = scripted.add(turn, repeat_last=True)

    task = _task(model, budget=Budget(max_tokens=60_000, max_steps=50))
    result, records, _ = await _run(
        time_skipping_env, demo_systems, audit_url, task, llm_settings=scripted.settings()
    )

    assert result.status is StopReason.MAX_TOKENS
    assert result.usage.total_tokens == 64_000 and result.usage.steps == 2
    # The turn that went over the budget proposed a call; it did not run.
    assert len(_of(records, "action.succeeded")) == 1
    _assert_totals_are_the_attempts(result, records)


async def test_huge_plausible_usage_stops_the_task_on_its_cost_budget(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    turn = ScriptedTurn(
        tool_calls=[ScriptedToolCall(name=READ[0], arguments=READ[1])],
        usage={"prompt_tokens": 1_000, "completion_tokens": 20_000},
    )
    model = scripted.add(turn, repeat_last=True)
    settings = priced(scripted.settings(), model, 10.0, 30.0)  # $0.61 a turn

    task = _task(model, budget=Budget(max_cost_usd=1.0, max_tokens=10**9, max_steps=50))
    result, records, _ = await _run(time_skipping_env, demo_systems, audit_url, task, llm_settings=settings)

    assert result.status is StopReason.MAX_COST
    assert result.usage.steps == 2 and abs(result.usage.cost_usd - 1.22) < 1e-9
    _assert_totals_are_the_attempts(result, records)


async def test_an_oversize_answer_is_asked_for_once_and_counted(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    model = scripted.add(ScriptedTurn(content="All done.", pad_to_bytes=3_000_000))
    settings = priced(scripted.settings(), model, 2.0, 8.0)

    result, records, _ = await _run(
        time_skipping_env, demo_systems, audit_url, _task(model), llm_settings=settings
    )

    assert result.status is StopReason.MODEL_FAILED and result.detail and "over" in result.detail
    assert len(scripted.requests(model)) == 1  # was: billed five times
    [oversize] = [r.data for r in _of(records, "llm.attempt")]
    assert (oversize["outcome"], oversize["usage"]) == ("oversize_answer", "estimated")
    assert oversize["completion_tokens"] == settings.max_completion_tokens  # was: counted 0
    assert result.usage.completion_tokens == settings.max_completion_tokens
    _assert_totals_are_the_attempts(result, records)


async def test_a_garbage_200_leaves_an_attempt_record_and_fails_the_task(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    model = scripted.add(calls(READ), ScriptedTurn(raw_body="<html>upstream hiccup</html>"))

    result, records, _ = await _run(
        time_skipping_env, demo_systems, audit_url, _task(model), llm_settings=scripted.settings()
    )

    assert result.status is StopReason.MODEL_FAILED and result.detail and "no JSON" in result.detail
    garbage = _of(records, "llm.attempt")[-1].data
    assert (garbage["outcome"], garbage["usage"]) == ("unusable_answer", "estimated")
    failed = _of(records, "action.attempt_failed")
    assert len(failed) == 1 and failed[0].data["error_type"] == "NonRetryable"
    _assert_totals_are_the_attempts(result, records)


async def test_missing_usage_is_estimated_and_counted(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    model = scripted.add(ScriptedTurn(content="Open.", omit_usage=True))

    result, records, _ = await _run(
        time_skipping_env, demo_systems, audit_url, _task(model), llm_settings=scripted.settings()
    )

    assert result.status is StopReason.ANSWERED
    assert result.usage.estimated_attempts == 1 and result.usage.total_tokens > 0
    assert _of(records, "llm.attempt")[0].data["usage"] == "estimated"
    assert _of(records, "llm.decision")[0].data["usage"] == "estimated"
    _assert_totals_are_the_attempts(result, records)


def _flood(count: int, call_id: str | None = None) -> ScriptedTurn:
    return ScriptedTurn(
        tool_calls=[
            ScriptedToolCall(name=READ[0], arguments={"invoice_id": f"INV-1{n % 9 + 1:04d}"}, call_id=call_id)
            for n in range(count)
        ]
    )


async def test_fifty_calls_in_one_turn_run_only_up_to_the_operators_cap(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    # Every call under one id, as a hostile model may send them: each refusal is still a record.
    model = scripted.add(_flood(50, call_id="call_same"), say("Checked."))
    settings = scripted.settings(max_tool_calls_per_turn=10)
    task = _task(model, budget=Budget(max_consecutive_errors=100))

    result, records, _ = await _run(time_skipping_env, demo_systems, audit_url, task, llm_settings=settings)

    assert result.status is StopReason.ANSWERED
    assert len(_of(records, "action.started")) == 10
    outcomes = [t.outcome for t in result.tools]
    assert outcomes == [ToolOutcome.SUCCEEDED] * 10 + [ToolOutcome.OVER_CAP] * 40
    refused = _of(records, "agent.tool_refused")
    assert len(refused) == 40
    assert all(r.data["reason"] == "over the cap of 10 tool calls per turn" for r in refused)
    # The model is told, for each call that did not run, why.
    told = tool_messages(scripted.requests(model)[1]["body"])
    assert len(told) == 50
    assert "only 10 tool calls run per turn" in as_json(told[10])["error"]
    assert as_json(told[9]).get("error") is None


async def test_a_task_budget_can_lower_the_cap_but_never_raise_it(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    lower = scripted.add(_flood(6), say("Checked."))
    task = _task(lower, budget=Budget(max_tool_calls_per_turn=2, max_consecutive_errors=100))
    result, records, _ = await _run(
        time_skipping_env,
        demo_systems,
        audit_url,
        task,
        llm_settings=scripted.settings(max_tool_calls_per_turn=4),
    )
    assert len(_of(records, "action.started")) == 2
    assert [t.outcome for t in result.tools].count(ToolOutcome.OVER_CAP) == 4

    higher = scripted.add(_flood(6), say("Checked."))
    task = _task(higher, budget=Budget(max_tool_calls_per_turn=50, max_consecutive_errors=100))
    result, records, _ = await _run(
        time_skipping_env,
        demo_systems,
        audit_url,
        task,
        llm_settings=scripted.settings(max_tool_calls_per_turn=4),
    )
    assert len(_of(records, "action.started")) == 4
    assert [t.outcome for t in result.tools].count(ToolOutcome.OVER_CAP) == 2


async def test_the_refusal_limit_stops_the_turn_at_the_call_that_reaches_it(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    forbidden = [("crm__delete_contact", {"contact_id": "K-1"})] * 3
    model = scripted.add(calls(*forbidden, ("erp__get_invoice", {"invoice_id": "INV-10001"}), *forbidden))
    task = _task(model, budget=Budget(max_consecutive_errors=3))

    result, records, workflow_id = await _run(
        time_skipping_env, demo_systems, audit_url, task, llm_settings=scripted.settings()
    )

    assert result.status is StopReason.TOO_MANY_ERRORS
    # Three refusals, then nothing: the valid read after them never ran, nor the rest.
    assert [t.outcome for t in result.tools] == [ToolOutcome.NOT_ALLOWED] * 3
    assert len(_of(records, "agent.tool_refused")) == 3
    assert _of(records, "action.started") == []
    assert _of(records, "agent.finished")[-1].data["calls_not_run"] == 4

    # The new rule is deterministic under replay (it is behind a patch marker).
    history = await time_skipping_env.client.get_workflow_handle(workflow_id).fetch_history()
    assert "agent-errors-call-by-call" in history_text(history.to_json())
    replayed = await replayer().replay_workflow(
        WorkflowHistory.from_json(workflow_id, history.to_json()), raise_on_replay_failure=False
    )
    assert replayed.replay_failure is None


async def test_the_cap_and_the_refusal_limit_together_bound_a_flood(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    model = scripted.add(_flood(50), say("Checked."))

    result, records, _ = await _run(
        time_skipping_env, demo_systems, audit_url, _task(model), llm_settings=scripted.settings()
    )

    # Operator's default cap (10) runs; three calls past it are refused; the rest never looked at.
    assert result.status is StopReason.TOO_MANY_ERRORS
    assert len(_of(records, "action.started")) == 10
    assert len(_of(records, "agent.tool_refused")) == 3
    assert _of(records, "agent.finished")[-1].data["calls_not_run"] == 37


async def test_an_attempt_whose_worker_died_is_recorded_lost_and_counted(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    # The provider is slow; the first worker dies while it waits (the provider may bill it).
    model = scripted.add(ScriptedTurn(content="INV-10001 is open.", delay_seconds=1.5))
    settings = priced(scripted.settings(), model, 2.0, 8.0)
    env = time_skipping_env
    # No workflow cache: the workflow's next task must not wait on the dead worker's sticky queue.
    async with demo_worker(
        env.client, demo_systems, audit_url, llm_settings=settings, max_cached_workflows=0
    ) as first:
        handle = await start_agent(env.client, first.task_queue, _task(model))
        for _ in range(200):  # until the first attempt is at the provider
            if scripted.requests(model):
                break
            await asyncio.sleep(0.05)
    # The first worker is gone, its attempt cancelled before it could record anything.
    assert _of(await audit_of(audit_url, handle.id), "llm.attempt") == []
    async with demo_worker(
        env.client, demo_systems, audit_url, llm_settings=settings, task_queue=first.task_queue
    ):
        result, _ = await run_answering(handle)

    assert result.status is StopReason.ANSWERED
    records = await audit_of(audit_url, handle.id)
    attempts = [r.data for r in _of(records, "llm.attempt")]
    assert [(a["attempt"], a["outcome"], a["usage"]) for a in attempts] == [
        (1, "lost", "estimated"),
        (2, "ok", "reported"),
    ]
    assert attempts[0]["prompt_tokens"] > 0 and attempts[0]["cost_usd"] > 0
    assert result.usage.attempts == 2 and result.usage.estimated_attempts == 1
    _assert_totals_are_the_attempts(result, records)


async def test_a_turn_whose_last_attempt_was_lost_says_its_cost_is_not_in_the_totals(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    # One attempt only (one endpoint, fallback after one): the worker dies during it.
    model = scripted.add(ScriptedTurn(content="INV-10001 is open.", delay_seconds=1.5))
    task = _task(model).model_copy(
        update={"model": ModelChoice(model=model, endpoint="primary", fallback_after=1)}
    )
    env = time_skipping_env
    settings = scripted.settings()
    async with demo_worker(
        env.client, demo_systems, audit_url, llm_settings=settings, max_cached_workflows=0
    ) as first:
        handle = await start_agent(env.client, first.task_queue, task)
        for _ in range(200):  # until the attempt is at the provider
            if scripted.requests(model):
                break
            await asyncio.sleep(0.05)
    async with demo_worker(
        env.client, demo_systems, audit_url, llm_settings=settings, task_queue=first.task_queue
    ):
        result, _ = await run_answering(handle)

    # Nothing could record what the attempt cost; the task says so instead of claiming zero.
    assert result.status is StopReason.MODEL_FAILED
    assert result.detail and "not in these totals" in result.detail
    records = await audit_of(audit_url, handle.id)
    assert _of(records, "llm.attempt") == []
    assert "not in these totals" in _of(records, "agent.finished")[-1].data["detail"]


async def test_cache_hits_are_attempts_that_cost_nothing(
    time_skipping_env: WorkflowEnvironment,
    demo_systems: DemoSystems,
    audit_url: str,
    scripted: ScriptedModel,
    tmp_path: object,
) -> None:
    model = scripted.add(calls(READ), say("INV-10001 is open."))
    settings = priced(scripted.settings(cache_url=f"sqlite:///{tmp_path}/llm-cache.db"), model, 2.0, 8.0)
    task = _task(model).model_copy(update={"model": ModelChoice(model=model, cache=True)})
    await _run(time_skipping_env, demo_systems, audit_url, task, llm_settings=settings)

    result, records, _ = await _run(time_skipping_env, demo_systems, audit_url, task, llm_settings=settings)

    assert [(a.data["outcome"], a.data["usage"]) for a in _of(records, "llm.attempt")] == [
        ("ok", "cached")
    ] * 2
    assert result.usage.total_tokens == 0 and result.usage.cost_usd == 0.0 and result.usage.attempts == 2
    _assert_totals_are_the_attempts(result, records)
