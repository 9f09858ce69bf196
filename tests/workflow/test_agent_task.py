"""AgentTask on the time-skipping server, with the real demo systems and the scripted model server
(the real `openai` client path): every stop reason, feedback to the model, guardrails, totals."""

from __future__ import annotations

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from retrofit.agent.contracts import AgentTaskInput, Budget, ModelChoice, StopReason, ToolOutcome
from retrofit.agent.stopped import stopped_result
from retrofit.gate.policy import Outcome, Policy, Rule
from retrofit.llm.scripted_server import ScriptedToolCall, ScriptedTurn
from retrofit.sdk.effect import Effect
from tests.support import DemoSystems, ScriptedModel, audit_of, demo_worker, kinds, priced
from tests.workflow.agent_helpers import (
    as_json,
    by_action,
    calls,
    history_text,
    llm_totals,
    run_answering,
    say,
    start_agent,
    tool_messages,
)

NOTE = "Overdue invoice chased by the collections agent."


def _task(script_model: str, allowed: list[str], **fields: object) -> AgentTaskInput:
    values: dict[str, object] = {"goal": "Chase overdue invoices", "allowed_actions": allowed}
    values["model"] = {"model": script_model}
    return AgentTaskInput.model_validate({**values, **fields})


async def _crm_notes(systems: DemoSystems) -> int:
    async with httpx.AsyncClient() as http:
        effects = (await http.get(f"{systems.crm.url}/_admin/effects", timeout=5)).json()
    return int(sum(effects["notes"].values()))


async def test_goal_planned_with_tools_read_then_approved_write_then_answer(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    model = scripted.add(
        calls(("erp__list_invoices", {"overdue_only": True, "page_size": 5})),
        calls(("crm__add_note", {"account_id": "A-2003", "body": NOTE})),
        say("Noted the largest overdue invoice on account A-2003."),
    )
    env = time_skipping_env
    async with demo_worker(env.client, demo_systems, audit_url, llm_settings=scripted.settings()) as worker:
        handle = await start_agent(env.client, worker.task_queue, _task(model, ["erp.*", "crm.add_note"]))
        result, approvals = await run_answering(handle, by_action({"crm.add_note": "approve"}))

    assert result.status is StopReason.ANSWERED
    assert result.answer == "Noted the largest overdue invoice on account A-2003."
    assert result.scripted and result.model == model
    assert [(t.action, t.outcome) for t in result.tools] == [
        ("erp.list_invoices", ToolOutcome.SUCCEEDED),
        ("crm.add_note", ToolOutcome.SUCCEEDED),
    ]
    assert [a.action for a in approvals] == ["crm.add_note"]
    assert await _crm_notes(demo_systems) == 1

    sent = scripted.requests(model)
    assert len(sent) == 3
    offered = {tool["function"]["name"] for tool in sent[0]["body"]["tools"]}
    assert "crm__add_note" in offered and "erp__record_payment" in offered
    assert "crm__delete_contact" not in offered and "crm__list_contacts" not in offered
    # The invoices went back to the model as delimited data.
    invoices = tool_messages(sent[1]["body"])[0]
    assert invoices.startswith('<tool_output action="erp.list_invoices" status="ok">')
    assert invoices.endswith("</tool_output>")
    assert as_json(invoices)["invoices"]

    records = await audit_of(audit_url, handle.id)
    assert kinds(records)[0] == "agent.started" and kinds(records)[-1] == "agent.finished"
    decisions = [r for r in records if r.kind.value == "llm.decision"]
    assert len(decisions) == 3 and all(d.data["scripted"] and d.data["prompt_hash"] for d in decisions)
    assert decisions[0].data["tool_calls"][0]["name"] == "erp__list_invoices"
    # Exact sums: the workflow's totals are the recorded calls' totals.
    totals = llm_totals(records)
    assert result.usage.llm_calls == totals["calls"] == 3
    assert result.usage.prompt_tokens == totals["prompt_tokens"] > 0
    assert result.usage.completion_tokens == totals["completion_tokens"] > 0
    finished = records[-1].data
    assert finished["status"] == "answered" and finished["totals"]["prompt_tokens"] == totals["prompt_tokens"]
    note = next(r for r in records if r.kind.value == "action.succeeded" and r.action == "crm.add_note")
    assert note.actor.kind.value == "agent"


async def test_pii_from_legacy_systems_never_reaches_model_or_history(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    model = scripted.add(calls(("crm__list_contacts", {"account_id": "A-2001"})), say("Two contacts."))
    env = time_skipping_env
    task = _task(model, ["crm.list_contacts"], redact_patterns={"CONTACT_ID": r"\bCT-\d+\b"})
    async with demo_worker(env.client, demo_systems, audit_url, llm_settings=scripted.settings()) as worker:
        handle = await start_agent(env.client, worker.task_queue, task)
        result, _ = await run_answering(handle)
        history = await handle.fetch_history()

    assert result.status is StopReason.ANSWERED
    contacts = tool_messages(scripted.requests(model)[1]["body"])[0]
    people = as_json(contacts)["items"]
    assert people and all(p["email"] == "[EMAIL]" and p["phone"] == "[PHONE]" for p in people)
    assert all(p["id"] == "[CONTACT_ID]" for p in people)  # the configured pattern applied too
    everything = history_text(history.to_json())
    assert "@" not in "".join(str(r["body"]) for r in scripted.requests(model))
    assert "+49 40 3190 2210" not in everything and "becker@" not in everything.lower()


async def test_invalid_arguments_go_back_to_the_model_and_nothing_runs(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    model = scripted.add(
        ScriptedTurn(
            tool_calls=[ScriptedToolCall(name="crm__add_note", raw_arguments='{"account_id": "A-20')]
        ),
        calls(("crm__add_note", {"account_id": "nope", "body": ""})),
        say("I could not add the note."),
    )
    env = time_skipping_env
    async with demo_worker(env.client, demo_systems, audit_url, llm_settings=scripted.settings()) as worker:
        handle = await start_agent(env.client, worker.task_queue, _task(model, ["crm.add_note"]))
        result, _ = await run_answering(handle)  # no approval: nothing valid was proposed

    assert result.status is StopReason.ANSWERED
    assert [t.outcome for t in result.tools] == [ToolOutcome.INVALID, ToolOutcome.INVALID]
    sent = scripted.requests(model)
    broken = as_json(tool_messages(sent[1]["body"])[0])
    assert "not valid JSON" in broken["error"]
    schema = as_json(tool_messages(sent[2]["body"])[1])
    assert any(p.startswith("account_id") for p in schema["problems"])
    assert any(p.startswith("body") for p in schema["problems"])
    assert await _crm_notes(demo_systems) == 0
    recorded = kinds(await audit_of(audit_url, handle.id))
    assert "agent.tool_refused" in recorded and "action.invalid" in recorded
    assert "action.started" not in recorded


async def test_rejection_reason_goes_back_to_the_model(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    model = scripted.add(
        calls(("crm__add_note", {"account_id": "A-2002", "body": NOTE})),
        say("The note was rejected; nothing was written."),
    )
    env = time_skipping_env
    async with demo_worker(env.client, demo_systems, audit_url, llm_settings=scripted.settings()) as worker:
        handle = await start_agent(env.client, worker.task_queue, _task(model, ["crm.add_note"]))
        result, approvals = await run_answering(handle, by_action({}, reason="wrong account"))

    assert len(approvals) == 1 and result.tools[0].outcome is ToolOutcome.REJECTED
    fed_back = as_json(tool_messages(scripted.requests(model)[1]["body"])[0])
    assert fed_back["reason"] == "wrong account"
    assert await _crm_notes(demo_systems) == 0


async def test_action_outside_the_allowed_list_never_runs_whatever_the_model_says(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    model = scripted.add(
        calls(("crm__delete_contact", {"contact_id": "CT-3001"}), ("ledger__set_credit_limit", {"x": 1})),
        calls(("no_such_tool", {})),
        say("done"),
    )
    env = time_skipping_env
    async with demo_worker(env.client, demo_systems, audit_url, llm_settings=scripted.settings()) as worker:
        handle = await start_agent(env.client, worker.task_queue, _task(model, ["crm.list_notes"]))
        result, _ = await run_answering(handle)

    assert [t.outcome for t in result.tools] == [ToolOutcome.NOT_ALLOWED] * 3
    answer = as_json(tool_messages(scripted.requests(model)[1]["body"])[0])
    assert answer["your_tools"] == ["crm.list_notes"]
    records = await audit_of(audit_url, handle.id)
    refused = [r for r in records if r.kind.value == "agent.tool_refused"]
    assert [r.data["tool"] for r in refused] == [
        "crm__delete_contact",
        "ledger__set_credit_limit",
        "no_such_tool",
    ]
    assert not [r for r in records if r.kind.value in ("action.proposed", "action.started")]


async def test_destructive_action_needs_approval_even_when_policy_says_allow(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    model = scripted.add(
        calls(("crm__delete_contact", {"contact_id": "CT-3001"})),
        say("Deleted, as I am sure it is approved."),
    )
    allow = Rule(outcome=Outcome.ALLOW, reason="the model says it is safe")
    lax = Policy(by_effect={Effect.DESTRUCTIVE: allow}, by_action={"crm.delete_contact": allow})
    env = time_skipping_env
    async with demo_worker(env.client, demo_systems, audit_url, llm_settings=scripted.settings()) as worker:
        handle = await start_agent(env.client, worker.task_queue, _task(model, ["crm.*"], policy=lax))
        result, approvals = await run_answering(handle, by_action({}, reason="never delete contacts"))

    assert [a.action for a in approvals] == ["crm.delete_contact"]
    assert approvals[0].approvers_needed == 2  # the destructive floor, whatever the rule said
    assert result.tools[0].outcome is ToolOutcome.REJECTED
    recorded = kinds(await audit_of(audit_url, handle.id))
    assert "approval.rejected" in recorded and "action.started" not in recorded


async def test_budget_stops_are_clear_and_recorded(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    looping = scripted.add(calls(("erp__get_invoice", {"invoice_id": "INV-10001"})), repeat_last=True)
    env = time_skipping_env
    settings = priced(scripted.settings(), looping, 2000.0, 8000.0)  # pricey enough to hit the cost cap
    budgets = {
        StopReason.MAX_STEPS: Budget(max_steps=3, max_cost_usd=1000),
        StopReason.MAX_TOKENS: Budget(max_steps=50, max_tokens=2500, max_cost_usd=1000),
        StopReason.MAX_COST: Budget(max_steps=50, max_tokens=10**6, max_cost_usd=3.0),
    }
    async with demo_worker(env.client, demo_systems, audit_url, llm_settings=settings) as worker:
        for expected, budget in budgets.items():
            handle = await start_agent(
                env.client, worker.task_queue, _task(looping, ["erp.*"], budget=budget)
            )
            result, _ = await run_answering(handle)
            records = await audit_of(audit_url, handle.id)
            assert result.status is expected, (expected, result.usage)
            assert records[-1].data["status"] == expected.value
            totals = llm_totals(records)
            assert result.usage.prompt_tokens + result.usage.completion_tokens == (
                totals["prompt_tokens"] + totals["completion_tokens"]
            )
            assert abs(result.usage.cost_usd - totals["cost_usd"]) < 1e-9
            if expected is StopReason.MAX_STEPS:
                assert result.usage.steps == 3
            if expected is StopReason.MAX_TOKENS:
                assert (
                    result.usage.total_tokens
                    > 2500
                    >= result.usage.total_tokens - totals["prompt_tokens"] / 2
                )
            if expected is StopReason.MAX_COST:
                assert result.usage.cost_usd > 3.0


async def test_too_many_consecutive_errors_stop_the_loop(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    stubborn = scripted.add(calls(("erp__get_invoice", {"invoice_id": "???"})), repeat_last=True)
    env = time_skipping_env
    async with demo_worker(env.client, demo_systems, audit_url, llm_settings=scripted.settings()) as worker:
        task = _task(stubborn, ["erp.*"], budget=Budget(max_consecutive_errors=3))
        handle = await start_agent(env.client, worker.task_queue, task)
        result, _ = await run_answering(handle)
        # Not a green COMPLETED in the UI: the workflow failed, with the result in the failure.
        with pytest.raises(WorkflowFailureError) as failed:
            await handle.result()
    assert result.status is StopReason.TOO_MANY_ERRORS
    assert len(result.tools) == 3 and result.detail
    assert (await handle.describe()).status == WorkflowExecutionStatus.FAILED
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "AgentStopped" and cause.non_retryable
    assert cause.message == f"stopped: too_many_errors: {result.detail}"
    assert stopped_result(failed.value) == result
    assert stopped_result(ApplicationError("x", {"status": "nonsense"}, type="AgentStopped")) is None


async def test_model_that_fails_for_good_stops_with_model_failed(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    short = scripted.add(
        calls(("erp__get_invoice", {"invoice_id": "INV-10001"}))
    )  # then: script exhausted (400)
    env = time_skipping_env
    async with demo_worker(env.client, demo_systems, audit_url, llm_settings=scripted.settings()) as worker:
        handle = await start_agent(env.client, worker.task_queue, _task(short, ["erp.*"]))
        result, _ = await run_answering(handle)
    assert result.status is StopReason.MODEL_FAILED
    assert result.detail and "400" in result.detail
    records = await audit_of(audit_url, handle.id)
    assert [r.data["error_type"] for r in records if r.kind.value == "action.attempt_failed"] == [
        "NonRetryable"
    ]


async def test_structured_output_is_checked_and_corrected(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    model = scripted.add(say("All good!"), say('{"followed_up": "three"}'), say('{"followed_up": 3}'))
    schema = {
        "type": "object",
        "properties": {"followed_up": {"type": "integer"}},
        "required": ["followed_up"],
    }
    env = time_skipping_env
    async with demo_worker(env.client, demo_systems, audit_url, llm_settings=scripted.settings()) as worker:
        task = _task(model, ["erp.*"], output_schema=schema)
        result, _ = await run_answering(await start_agent(env.client, worker.task_queue, task))
    assert result.status is StopReason.ANSWERED and result.output == {"followed_up": 3}
    corrections = [
        m["content"] for m in scripted.requests(model)[2]["body"]["messages"] if m["role"] == "user"
    ]
    assert "expected integer" in corrections[-1]


async def test_continue_as_new_carries_the_conversation_and_totals(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    reads = [calls(("erp__get_invoice", {"invoice_id": f"INV-1000{n}"})) for n in range(1, 9)]
    model = scripted.add(*reads, say("Read eight invoices."))
    env = time_skipping_env
    async with demo_worker(env.client, demo_systems, audit_url, llm_settings=scripted.settings()) as worker:
        task = _task(model, ["erp.get_invoice"], history_limit=50, budget=Budget(max_steps=20))
        handle = await start_agent(env.client, worker.task_queue, task)
        result, _ = await run_answering(handle)

    assert result.status is StopReason.ANSWERED and result.answer == "Read eight invoices."
    assert result.runs >= 2
    assert result.usage.steps == 9 and len(result.tools) == 8
    last = scripted.requests(model)[-1]["body"]["messages"]
    assert sum(1 for m in last if m["role"] == "assistant") == 8  # every turn carried over
    records = await audit_of(audit_url, handle.id)
    assert len({r.run_id for r in records}) == result.runs
    assert llm_totals(records)["prompt_tokens"] == result.usage.prompt_tokens
    keys = [r.idempotency_key for r in records if r.kind.value == "action.succeeded"]
    assert len(keys) == len(set(keys)) == 8  # step numbering continued across runs


async def test_identical_request_is_a_cache_hit_with_zero_tokens(
    time_skipping_env: WorkflowEnvironment,
    demo_systems: DemoSystems,
    audit_url: str,
    scripted: ScriptedModel,
    tmp_path: object,
) -> None:
    model = scripted.add(calls(("erp__get_invoice", {"invoice_id": "INV-10001"})), say("Read it."))
    settings = scripted.settings(cache_url=f"sqlite:///{tmp_path}/llm-cache.db")
    env = time_skipping_env
    async with demo_worker(env.client, demo_systems, audit_url, llm_settings=settings) as worker:
        task = _task(model, ["erp.get_invoice"], model=ModelChoice(model=model, cache=True))
        first, _ = await run_answering(await start_agent(env.client, worker.task_queue, task))
        handle = await start_agent(env.client, worker.task_queue, task)
        second, _ = await run_answering(handle)

    assert first.usage.cache_hits == 0 and first.usage.total_tokens > 0
    assert second.usage.cache_hits == 2 and second.usage.total_tokens == 0 and second.usage.llm_calls == 0
    assert second.answer == first.answer
    assert len(scripted.requests(model)) == 2  # the second task never reached the server
    decisions = [r.data for r in await audit_of(audit_url, handle.id) if r.kind.value == "llm.decision"]
    assert [d["cache_hit"] for d in decisions] == [True, True]


async def test_fallback_model_answers_when_the_primary_keeps_failing(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    primary = scripted.add(say("from the primary"))
    fallback = scripted.add(say("from the fallback"))
    scripted.fail_next(503, times=2)
    env = time_skipping_env
    async with demo_worker(env.client, demo_systems, audit_url, llm_settings=scripted.settings()) as worker:
        choice = ModelChoice(model=primary, fallbacks=[{"model": fallback}], fallback_after=2)
        handle = await start_agent(env.client, worker.task_queue, _task(primary, ["erp.*"], model=choice))
        result, _ = await run_answering(handle)

    assert result.status is StopReason.ANSWERED and result.answer == "from the fallback"
    records = await audit_of(audit_url, handle.id)
    failed = [r.data for r in records if r.kind.value == "action.attempt_failed"]
    assert [f["endpoint"] for f in failed] == [0, 0] and all(f["retryable"] for f in failed)
    [decision] = [r.data for r in records if r.kind.value == "llm.decision"]
    assert decision["endpoint"] == 1 and decision["model"] == fallback


async def test_the_cache_never_answers_for_an_endpoint_that_reads_answers_differently(
    time_skipping_env: WorkflowEnvironment,
    demo_systems: DemoSystems,
    audit_url: str,
    scripted: ScriptedModel,
    tmp_path: object,
) -> None:
    """Same model name, same prompt, one endpoint reading tool calls from text: no shared answers."""
    model = scripted.add(calls(("erp__get_invoice", {"invoice_id": "INV-10001"})), say("Read it."))
    cache_url = f"sqlite:///{tmp_path}/llm-cache.db"
    task = _task(model, ["erp.get_invoice"], model=ModelChoice(model=model, cache=True))
    env = time_skipping_env
    results = []
    for text_tool_calls in (False, True):
        settings = scripted.settings(cache_url=cache_url, text_tool_calls=text_tool_calls)
        async with demo_worker(env.client, demo_systems, audit_url, llm_settings=settings) as worker:
            result, _ = await run_answering(await start_agent(env.client, worker.task_queue, task))
            results.append(result)
    assert [r.usage.cache_hits for r in results] == [0, 0]
    assert len(scripted.requests(model)) == 4  # both runs reached the server
