"""Approvals on the real time-skipping server: Update and Signal paths, the checks, deadlines."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from legacy.ledger.server import LedgerServer
from retrofit.audit.events import AuditRecord
from retrofit.gate.approval_models import ApprovalView, DecideResult
from retrofit.gate.policy import ApprovalRequirement, ArgumentRule, Outcome, Policy, Rule
from retrofit.sdk import Effect
from tests.identity_support import signed
from tests.support import audit_of, kinds, ledger_effects, ledger_worker
from workflows.single_action.workflow import SingleActionInput

FINANCE = ApprovalRequirement(approvers_needed=1, allowed_groups=("finance",), timeout=timedelta(hours=1))
POLICY = Policy(
    groups={"finance": ("alice", "bob"), "controllers": ("carol",)},
    by_effect={
        Effect.READ: Rule(outcome=Outcome.ALLOW),
        Effect.WRITE: Rule(outcome=Outcome.REQUIRE_APPROVAL, approval=FINANCE),
        Effect.DESTRUCTIVE: Rule(
            outcome=Outcome.REQUIRE_APPROVAL,
            approval=ApprovalRequirement(approvers_needed=2, allowed_groups=("finance",)),
        ),
    },
    by_action={
        "ledger.add_note": Rule(
            outcome=Outcome.REQUIRE_APPROVAL,
            approval=ApprovalRequirement(
                allowed_groups=("finance",),
                timeout=timedelta(hours=1),
                on_timeout="escalate",
                escalate_to=("controllers",),
                escalation_timeout=timedelta(hours=2),
            ),
        ),
        "ledger.get_customer": Rule(outcome=Outcome.ALLOW),
    },
    argument_rules=[
        ArgumentRule(
            action="ledger.set_credit_limit",
            field="credit_limit",
            op="gt",
            value=100000,
            then=Rule(
                outcome=Outcome.REQUIRE_APPROVAL,
                approval=ApprovalRequirement(approvers_needed=2, allowed_groups=("finance",)),
            ),
        ),
        ArgumentRule(
            action="ledger.set_credit_limit",
            field="customer_id",
            op="eq",
            value="C-1008",
            then=Rule(
                outcome=Outcome.REQUIRE_APPROVAL,
                approval=ApprovalRequirement(timeout=timedelta(minutes=30), on_timeout="fail"),
            ),
        ),
    ],
)


@dataclass
class Run:
    env: WorkflowEnvironment
    handle: WorkflowHandle[Any, Any]
    audit_url: str
    views: dict[str, ApprovalView] = field(default_factory=dict)

    async def pending(self, count: int = 1) -> list[ApprovalView]:
        """Poll the query until `count` requests wait (no time skipping while we poll)."""
        for _ in range(200):
            views = await self.handle.query("pending_approvals", result_type=list[ApprovalView])
            self.views.update({v.request_id: v for v in views})
            if len(views) >= count:
                return list(views)
            await asyncio.sleep(0.05)
        raise AssertionError(f"expected {count} pending approvals")

    async def answer(
        self, subject: str, decision: Any = "approve", request_id: str = "apr-1", **options: Any
    ) -> dict[str, Any]:
        """A signed answer from `subject` to a request this run has seen."""
        if request_id not in self.views:
            await self.pending()
        return await signed(self.env, self.handle.id, self.views[request_id], subject, decision, **options)

    async def decide(
        self, subject: str, decision: Any = "approve", request_id: str = "apr-1", **options: Any
    ) -> DecideResult:
        payload = await self.answer(subject, decision, request_id, **options)
        return await self.send(payload)

    async def send(self, payload: Any) -> DecideResult:
        result: DecideResult = await self.handle.execute_update("decide", payload, result_type=DecideResult)
        return result

    async def refused(self, payload: Any) -> str:
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await self.send(payload)
        cause = info.value.cause
        assert isinstance(cause, ApplicationError)
        assert cause.type == "ApprovalRefused"
        return cause.message

    async def failure(self) -> ApplicationError:
        with pytest.raises(WorkflowFailureError) as info:
            await self.handle.result()
        assert isinstance(info.value.cause, ApplicationError)
        return info.value.cause

    async def audit(self) -> list[AuditRecord]:
        return await audit_of(self.audit_url, self.handle.id)


@pytest.fixture
async def worker(
    time_skipping_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str
) -> AsyncIterator[Worker]:
    async with ledger_worker(time_skipping_env.client, ledger, audit_url, policy=POLICY) as w:
        yield w


async def start(env: WorkflowEnvironment, worker: Worker, audit_url: str, workflow: str, arg: Any) -> Run:
    handle = await env.client.start_workflow(
        workflow, arg, id=f"apr-{uuid.uuid4().hex[:8]}", task_queue=worker.task_queue
    )
    return Run(env, handle, audit_url)


def set_limit(customer: str, limit: str) -> SingleActionInput:
    return SingleActionInput(
        action="ledger.set_credit_limit", arguments={"customer_id": customer, "credit_limit": limit}
    )


async def test_approve_through_the_update_runs_the_action_once_and_audits_who(
    time_skipping_env: WorkflowEnvironment, worker: Worker, audit_url: str, ledger: LedgerServer
) -> None:
    run = await start(time_skipping_env, worker, audit_url, "SingleAction", set_limit("C-1001", "60000"))
    [view] = await run.pending()
    assert (view.request_id, view.action, view.approvers_needed) == ("apr-1", "ledger.set_credit_limit", 1)
    assert view.arguments == {"customer_id": "C-1001", "credit_limit": "60000"}
    assert view.may_approve == ["group:finance"]
    assert (view.identity, view.started_by, view.login_url) == (
        "verified",
        "unverified",
        "http://identity.test/login",
    )
    # What the Temporal UI shows as current details: what waits and exactly what to paste — the
    # full hash and the binding, no name to type — and where to log in.
    metadata = await run.handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    details = metadata.current_details
    assert "Waiting for approval: `ledger.set_credit_limit` (step 1, request `apr-1`)" in details
    assert "Effect: **WRITE**." in details
    example = {
        "workflow_id": run.handle.id,
        "request_id": "apr-1",
        "decision": "approve",
        "args_hash": view.args_hash,
        "reason": "why",
    }
    assert json.dumps(example) in details
    assert "Log in at http://identity.test/login first" in details
    assert "YOUR NAME" not in details and "--as" not in details
    assert f"retrofit approvals approve {run.handle.id} apr-1" in details
    assert ledger_effects(ledger)["credit_limit"] == {}

    result = await run.decide("alice", reason="ok", approver="typed label")
    assert result.status.value == "approved" and result.approved_by == ["alice"]
    assert result.answered_as == "alice"
    await run.handle.result()
    assert ledger_effects(ledger)["credit_limit"] == {"C-1001": 1}

    records = await run.audit()
    assert kinds(records) == [
        "action.proposed",
        "approval.requested",
        "approval.granted",
        "policy.allowed",
        "action.started",
        "action.succeeded",
    ]
    granted = records[2]
    assert granted.actor.kind.value == "human" and granted.actor.name == "alice"
    assert granted.actor.identity and granted.actor.identity != "(not found in history)"
    assert granted.data["via"] == "update:decide" and granted.data["reason"] == "ok"
    identity = granted.data["identity"]
    assert identity["verified"] is True and identity["subject"] == "alice"
    assert identity["claimed_approver"] == "typed label" and len(identity["jti_sha256"]) == 64
    assert records[1].data["started_by"] == {"subject": "unverified", "verified": False}
    assert records[3].data["approved_by"] == ["alice"]


async def test_approve_through_the_signal(
    time_skipping_env: WorkflowEnvironment, worker: Worker, audit_url: str, ledger: LedgerServer
) -> None:
    run = await start(time_skipping_env, worker, audit_url, "SingleAction", set_limit("C-1001", "60000"))
    await run.pending()
    await run.handle.signal("approve", await run.answer("bob", reason="fine"))
    await run.handle.result()
    granted = next(r for r in await run.audit() if r.kind.value == "approval.granted")
    assert granted.actor.name == "bob" and granted.data["via"] == "signal:approve"
    assert granted.data["identity"]["subject"] == "bob"
    assert granted.actor.identity and granted.actor.identity != "(not found in history)"
    assert ledger_effects(ledger)["credit_limit"] == {"C-1001": 1}


async def test_reject_with_a_reason_reaches_the_caller_and_nothing_runs(
    time_skipping_env: WorkflowEnvironment, worker: Worker, audit_url: str, ledger: LedgerServer
) -> None:
    run = await start(time_skipping_env, worker, audit_url, "SingleAction", set_limit("C-1001", "60000"))
    await run.pending()
    assert "a rejection needs a reason" in await run.refused(await run.answer("alice", "reject"))
    await run.handle.signal("reject", await run.answer("alice", "reject", reason="customer is in dunning"))
    failure = await run.failure()
    assert failure.type == "ApprovalRejected"
    assert "rejected by alice: customer is in dunning" in failure.message
    assert ledger_effects(ledger)["credit_limit"] == {}
    records = await run.audit()
    assert kinds(records)[-2:] == ["approval.refused", "approval.rejected"]
    assert records[-1].data["reason"] == "customer is in dunning"
    assert records[-2].data["problem"] == "a rejection needs a reason"
    assert "action.started" not in kinds(records)


async def test_two_approvers_needed_and_the_same_person_cannot_approve_twice(
    time_skipping_env: WorkflowEnvironment, worker: Worker, audit_url: str, ledger: LedgerServer
) -> None:
    run = await start(time_skipping_env, worker, audit_url, "SingleAction", set_limit("C-1001", "150000"))
    [view] = await run.pending()
    assert view.approvers_needed == 2
    first = await run.decide("alice")
    assert first.status.value == "pending" and first.approved_by == ["alice"]
    # A fresh assertion for the same person, in another spelling: the same subject.
    assert "'alice' has already approved request apr-1" in await run.refused(await run.answer("ALICE"))
    # The same refusal by signal is recorded and ignored.
    await run.handle.signal("approve", await run.answer("ａｌｉｃｅ"))
    [still] = await run.pending()
    assert still.approved_by == ["alice"]
    await run.decide("bob")
    await run.handle.result()
    assert ledger_effects(ledger)["credit_limit"] == {"C-1001": 1}
    records = await run.audit()
    assert [r.actor.name for r in records if r.kind.value == "approval.granted"] == ["alice", "bob"]
    refused = [r for r in records if r.kind.value == "approval.refused"]
    assert len(refused) == 2 and all("already approved" in r.data["problem"] for r in refused)
    assert [r.actor.name for r in refused] == ["alice", "alice"]


async def test_wrong_approver_unknown_request_and_changed_arguments_are_refused(
    time_skipping_env: WorkflowEnvironment, worker: Worker, audit_url: str, ledger: LedgerServer
) -> None:
    run = await start(time_skipping_env, worker, audit_url, "SingleAction", set_limit("C-1001", "60000"))
    [view] = await run.pending()
    assert "'mallory' may not answer request apr-1 (allowed: group:finance)" in await run.refused(
        await run.answer("mallory")
    )
    unknown = {**await run.answer("alice"), "request_id": "apr-9"}
    assert "unknown approval request 'apr-9'" in await run.refused(unknown)
    other_hash = "0123456789abcdef" * 4
    assert other_hash != view.args_hash
    changed = {**await run.answer("alice"), "args_hash": other_hash}
    assert "does not match request apr-1" in await run.refused(changed)
    await run.handle.signal("approve", await run.answer("mallory", reason="trust me"))
    [still] = await run.pending()
    assert still.approved_by == []
    await run.decide("alice")
    await run.handle.result()
    records = await run.audit()
    refused = [r for r in records if r.kind.value == "approval.refused"]
    # Every refusal is on record — the Updates' too — with the sender's claimed gRPC identity.
    assert [r.data.get("update") or r.data.get("signal") for r in refused] == [
        "decide",
        "decide",
        "decide",
        "approve",
    ]
    assert [r.actor.name for r in refused] == [
        "mallory",
        "(unverified)",
        "alice (claimed, unverified)",
        "mallory",
    ]
    assert all(r.actor.identity and r.actor.identity != "(not found in history)" for r in refused)
    assert all("assertion" not in r.data["payload"] or "withheld" in r.data["payload"] for r in refused)
    assert ledger_effects(ledger)["credit_limit"] == {"C-1001": 1}


async def test_an_answer_to_an_already_decided_request_is_refused(
    time_skipping_env: WorkflowEnvironment, worker: Worker, audit_url: str
) -> None:
    # CreditLimitReview of C-1003: set_credit_limit to 144,000 (apr-2, two approvers by the
    # argument rule), then add_note (apr-3): both wait.
    run = await start(time_skipping_env, worker, audit_url, "CreditLimitReview", {"customer_id": "C-1003"})
    await run.pending()
    await run.decide("alice", request_id="apr-2")
    await run.decide("bob", request_id="apr-2")
    [note] = await run.pending()
    assert note.request_id == "apr-3"
    assert "approval request apr-2 is already decided (approved)" in await run.refused(
        await run.answer("carol", request_id="apr-2")
    )
    await run.decide("bob", request_id="apr-3")
    result = await run.handle.result()
    assert result["changed"] is True


async def test_timeout_rejects_and_the_reason_says_so(
    time_skipping_env: WorkflowEnvironment, worker: Worker, audit_url: str, ledger: LedgerServer
) -> None:
    run = await start(time_skipping_env, worker, audit_url, "SingleAction", set_limit("C-1001", "60000"))
    failure = await run.failure()  # waiting on the result lets the test server skip to the deadline
    assert failure.type == "ApprovalRejected"
    assert "no approval within the deadline; policy on timeout: reject" in failure.message
    assert kinds(await run.audit())[-1] == "approval.expired"
    assert ledger_effects(ledger)["credit_limit"] == {}


async def test_timeout_escalates_to_another_group(
    time_skipping_env: WorkflowEnvironment, worker: Worker, audit_url: str, ledger: LedgerServer
) -> None:
    run = await start(
        time_skipping_env,
        worker,
        audit_url,
        "SingleAction",
        SingleActionInput(action="ledger.add_note", arguments={"customer_id": "C-1001", "text": "call back"}),
    )
    [view] = await run.pending()
    assert not view.escalated
    await time_skipping_env.sleep(timedelta(hours=1, minutes=1))
    for _ in range(100):
        [view] = await run.pending()
        if view.escalated:
            break
        await asyncio.sleep(0.05)
    assert view.escalated and view.may_approve == ["group:controllers"]
    run.views["apr-1"] = view
    assert "may not answer" in await run.refused(await run.answer("alice"))
    await run.decide("carol")
    await run.handle.result()
    assert kinds(await run.audit())[:5] == [
        "action.proposed",
        "approval.requested",
        "approval.escalated",
        "approval.refused",  # alice, no longer allowed after the escalation
        "approval.granted",
    ]
    assert ledger_effects(ledger)["notes"] == {"C-1001": 1}


async def test_timeout_can_fail_the_workflow(
    time_skipping_env: WorkflowEnvironment, worker: Worker, audit_url: str
) -> None:
    run = await start(time_skipping_env, worker, audit_url, "SingleAction", set_limit("C-1008", "100"))
    failure = await run.failure()
    assert failure.type == "ApprovalTimedOut"
    assert kinds(await run.audit())[-1] == "approval.expired"


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"request_id": "apr-1"},
        {"request_id": "apr-1", "approver": "alice"},
        {"request_id": "apr-1", "args_hash": "ab" * 32, "decision": "approve", "reason": "x" * 5000},
        {"request_id": "apr-1", "args_hash": "ab" * 32, "decision": "approve", "extra": "field"},
        {"request_id": ["apr-1"], "approver": {"name": "alice"}},
        "approve it",
        12345,
        None,
    ],
)
async def test_malformed_answers_are_refused_recorded_and_nothing_runs(
    time_skipping_env: WorkflowEnvironment,
    worker: Worker,
    audit_url: str,
    ledger: LedgerServer,
    payload: Any,
) -> None:
    run = await start(time_skipping_env, worker, audit_url, "SingleAction", set_limit("C-1001", "60000"))
    await run.pending()
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await run.handle.execute_update("decide", payload, result_type=DecideResult)
    assert isinstance(info.value.cause, ApplicationError)
    assert "malformed approval payload" in info.value.cause.message
    # One sentence for the UI, no Python stack trace under it.
    assert info.value.cause.failure is not None and info.value.cause.failure.stack_trace == ""
    await run.handle.signal("approve", payload)
    await run.handle.signal("reject", payload)
    [still] = await run.pending()
    assert still.approved_by == [] and ledger_effects(ledger)["credit_limit"] == {}
    # The workflow is unharmed: a proper answer still works, in unicode too.
    await run.decide("bob", "reject", reason="Kunde in Prüfung — 請稍候")
    failure = await run.failure()
    assert "Kunde in Prüfung — 請稍候" in failure.message
    refused = [r for r in await run.audit() if r.kind.value == "approval.refused"]
    # The Update (let through by its validator so that it is recorded) and both Signals.
    assert sorted(str(r.data.get("update") or r.data.get("signal")) for r in refused) == [
        "approve",
        "decide",
        "reject",
    ]
    assert all("malformed approval payload" in r.data["problem"] for r in refused)
    assert all(len(r.data["payload"]) <= 300 for r in refused)
