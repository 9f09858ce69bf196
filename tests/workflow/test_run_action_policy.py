"""`run_action(..., policy=...)` in an integrator's workflow: the worker's (operator's) policy stays
in force; the workflow's own policy can only tighten it (real Temporal, the real ledger)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from legacy.ledger.server import LedgerServer
from retrofit.gate.approval_models import ApprovalView
from retrofit.gate.policy import allow_all
from retrofit.gate.policy_merge import OPERATOR, TIGHTENED
from tests.support import SHIPPED_WORKFLOWS, audit_of, ledger_effects, ledger_worker
from tests.workflow.policy_workflows import NoteWithOwnPolicy, OwnPolicyInput


async def _pending(handle: WorkflowHandle[Any, Any]) -> list[ApprovalView]:
    for _ in range(200):
        views: list[ApprovalView] = await handle.query("pending_approvals", result_type=list[ApprovalView])
        if views:
            return views
        await asyncio.sleep(0.05)
    raise AssertionError("no approval request appeared")


async def _start(env: WorkflowEnvironment, task_queue: str, req: OwnPolicyInput) -> WorkflowHandle[Any, Any]:
    return await env.client.start_workflow(
        "NoteWithOwnPolicy",
        req,
        id=f"own-policy-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
        result_type=int,
    )


async def test_a_workflow_passing_allow_all_still_waits_for_approval(
    time_skipping_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str
) -> None:
    env = time_skipping_env
    notes_before = ledger_effects(ledger)
    async with ledger_worker(
        env.client, ledger, audit_url, workflows=[*SHIPPED_WORKFLOWS, NoteWithOwnPolicy]
    ) as w:
        handle = await _start(
            env, w.task_queue, OwnPolicyInput(customer_id="C-1001", text="x", allow_everything=True)
        )
        [view] = await _pending(handle)
        assert view.action == "ledger.add_note" and view.approvers_needed == 1
        assert ledger_effects(ledger) == notes_before  # nothing written while it waits
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()  # nobody answers: time skips to the deadline
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.type in ("ApprovalRejected", "ApprovalTimedOut")
    assert ledger_effects(ledger) == notes_before
    records = await audit_of(audit_url, handle.id)
    [requested] = [r.data["decision"] for r in records if r.kind.value == "approval.requested"]
    assert requested["decided_by"] == OPERATOR
    assert requested["ignored"] == ["outcome allow (the operator's policy: require_approval)"]


async def test_a_workflows_own_policy_tightens_the_operators(
    time_skipping_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str
) -> None:
    env = time_skipping_env
    # The operator allows writes; the starter's request makes this one need two people in an hour.
    two = {"outcome": "require_approval", "approval": {"approvers_needed": 2, "timeout": "PT1H"}}
    req = OwnPolicyInput.model_validate(
        {"customer_id": "C-1001", "text": "x", "policy": {"by_action": {"ledger.add_note": two}}}
    )
    async with ledger_worker(
        env.client, ledger, audit_url, workflows=[*SHIPPED_WORKFLOWS, NoteWithOwnPolicy], policy=allow_all()
    ) as w:
        handle = await _start(env, w.task_queue, req)
        [view] = await _pending(handle)
        assert view.approvers_needed == 2
        assert view.deadline - view.requested_at == timedelta(hours=1)
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    records = await audit_of(audit_url, handle.id)
    [requested] = [r.data["decision"] for r in records if r.kind.value == "approval.requested"]
    assert requested["decided_by"] == TIGHTENED and requested["matched"] == "input:action:ledger.add_note"
