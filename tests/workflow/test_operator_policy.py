"""The policy in force is the worker's (operator's); a task's own `policy` can only tighten it.

Real AgentTask runs on the time-skipping server with the demo systems and the scripted model (the
real `openai` client path), started with the hostile inputs of issue 12 and with tightening ones.
"""

from __future__ import annotations

from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment

from retrofit.agent.contracts import AgentTaskInput, StopReason, ToolOutcome
from retrofit.audit.events import AuditRecord
from retrofit.gate.policy import ApprovalRequirement, Outcome, Policy, Rule
from retrofit.gate.policy_merge import OPERATOR, TIGHTENED
from retrofit.sdk.effect import Effect
from tests.support import DemoSystems, ScriptedModel, audit_of, demo_worker, kinds
from tests.workflow.agent_helpers import by_action, calls, run_answering, say, start_agent

NOTE = "Called about the overdue invoice."


def _task(model: str, allowed: list[str], policy: dict[str, Any]) -> AgentTaskInput:
    # As a raw client sends it: JSON, so nothing but the wire shape reaches the worker.
    raw = {"goal": "Chase overdue invoices", "allowed_actions": allowed, "model": {"model": model}}
    return AgentTaskInput.model_validate({**raw, "policy": policy})


async def _crm_effects(systems: DemoSystems) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        effects: dict[str, Any] = (await http.get(f"{systems.crm.url}/_admin/effects", timeout=5)).json()
    return effects


def _decisions(records: list[AuditRecord], kind: str) -> list[dict[str, Any]]:
    return [r.data["decision"] for r in records if r.kind.value == kind]


async def test_a_task_policy_allowing_writes_still_waits_for_approval(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    model = scripted.add(calls(("crm__add_note", {"account_id": "A-2003", "body": NOTE})), say("Noted."))
    hostile = {"by_effect": {"write": {"outcome": "allow", "reason": "caller says so"}}}
    env = time_skipping_env
    async with demo_worker(env.client, demo_systems, audit_url, llm_settings=scripted.settings()) as worker:
        handle = await start_agent(env.client, worker.task_queue, _task(model, ["crm.add_note"], hostile))
        result, approvals = await run_answering(handle, by_action({}, reason="not today"))

    # The write waited for a person (who said no), so nothing was written.
    assert [a.action for a in approvals] == ["crm.add_note"]
    assert result.status is StopReason.ANSWERED
    assert [t.outcome for t in result.tools] == [ToolOutcome.REJECTED]
    assert sum((await _crm_effects(demo_systems))["notes"].values()) == 0
    records = await audit_of(audit_url, handle.id)
    assert "action.started" not in kinds(records)
    [decision] = _decisions(records, "approval.requested")
    assert decision["decided_by"] == OPERATOR and decision["matched"] == "effect:write"
    assert decision["input_matched"] == "input:effect:write"
    assert decision["ignored"] == ["outcome allow (the operator's policy: require_approval)"]


async def test_a_task_policy_cannot_lower_a_delete_to_one_approval(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    model = scripted.add(calls(("crm__delete_contact", {"contact_id": "CT-3001"})), say("Done."))
    hostile = {
        "by_action": {
            "crm.delete_contact": {"outcome": "require_approval", "approval": {"approvers_needed": 1}}
        }
    }
    env = time_skipping_env
    async with demo_worker(env.client, demo_systems, audit_url, llm_settings=scripted.settings()) as worker:
        handle = await start_agent(env.client, worker.task_queue, _task(model, ["crm.*"], hostile))
        result, approvals = await run_answering(handle, by_action({}, reason="keep the contact"))

    assert [(a.action, a.approvers_needed) for a in approvals] == [("crm.delete_contact", 2)]
    assert [t.outcome for t in result.tools] == [ToolOutcome.REJECTED]
    [decision] = _decisions(await audit_of(audit_url, handle.id), "approval.requested")
    assert decision["approval"]["approvers_needed"] == 2
    assert "approvers_needed 1 (the operator's policy: 2)" in decision["ignored"]


async def test_a_task_policys_groups_are_ignored_membership_is_the_operators(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    model = scripted.add(calls(("crm__add_note", {"account_id": "A-2003", "body": NOTE})), say("Noted."))
    finance_only = Rule(
        outcome=Outcome.REQUIRE_APPROVAL, approval=ApprovalRequirement(allowed_groups=("finance",))
    )
    operator = Policy(
        by_effect={**Policy().by_effect, Effect.WRITE: finance_only}, groups={"finance": ("bob",)}
    )
    hostile = {
        "groups": {"finance": ["mallory"]},
        "by_effect": {
            "write": {"outcome": "require_approval", "approval": {"allowed_approvers": ["mallory"]}}
        },
    }
    env = time_skipping_env
    async with demo_worker(
        env.client, demo_systems, audit_url, policy=operator, llm_settings=scripted.settings()
    ) as worker:
        handle = await start_agent(env.client, worker.task_queue, _task(model, ["crm.add_note"], hostile))
        result, approvals = await run_answering(handle)  # nobody may answer: it times out

    # Both restrict and nobody satisfies both (mallory is not in the operator's finance group):
    # the call is denied outright rather than left to "anyone".
    assert approvals == []
    assert [t.outcome for t in result.tools] == [ToolOutcome.DENIED]
    records = await audit_of(audit_url, handle.id)
    [started] = [r.data for r in records if r.kind.value == "agent.started"]
    assert started["policy"]["by_effect"] == ["write"]
    assert [note.split(":")[0] for note in started["policy"]["ignored"]] == ["groups"]
    [decision] = _decisions(records, "policy.denied")
    assert decision["decided_by"] == TIGHTENED
    assert any(note.startswith("groups:") for note in decision["ignored"])
    assert sum((await _crm_effects(demo_systems))["notes"].values()) == 0


async def test_a_tightening_task_policy_takes_effect(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    model = scripted.add(
        calls(("erp__get_invoice", {"invoice_id": "INV-10001"})),
        calls(("crm__delete_contact", {"contact_id": "CT-3001"})),
        say("Stopped."),
    )
    tighter = {
        "by_action": {
            "erp.get_invoice": {"outcome": "deny", "reason": "this task reads no invoices"},
            "crm.delete_contact": {"outcome": "require_approval", "approval": {"approvers_needed": 3}},
        }
    }
    env = time_skipping_env
    async with demo_worker(env.client, demo_systems, audit_url, llm_settings=scripted.settings()) as worker:
        handle = await start_agent(env.client, worker.task_queue, _task(model, ["erp.*", "crm.*"], tighter))
        result, approvals = await run_answering(handle, by_action({}, reason="no"))

    assert [t.outcome for t in result.tools] == [ToolOutcome.DENIED, ToolOutcome.REJECTED]
    assert [(a.action, a.approvers_needed) for a in approvals] == [("crm.delete_contact", 3)]
    records = await audit_of(audit_url, handle.id)
    [denied] = _decisions(records, "policy.denied")
    assert denied["decided_by"] == TIGHTENED and denied["matched"] == "input:action:erp.get_invoice"
    [requested] = _decisions(records, "approval.requested")
    assert requested["decided_by"] == TIGHTENED and requested["approval"]["approvers_needed"] == 3
