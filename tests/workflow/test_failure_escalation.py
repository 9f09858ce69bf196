"""Escalation of an action that failed past its retry budget, on the real time-skipping server with
the real ledger: retry (then success), skip, abort, refused answers, and the audit trail of each."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from connectors.ledger.connector import LedgerConnector
from legacy.ledger.server import LedgerServer
from retrofit.audit.events import AuditRecord
from retrofit.audit.store import AuditStore
from retrofit.gate.approval_models import ApprovalView
from retrofit.gate.failure_models import ResolveFailureResult
from retrofit.gate.policy import FailureEscalation, Outcome, Policy, Rule, allow_all
from retrofit.plugin import RetrofitPlugin
from retrofit.registry import connectors_from_classes
from retrofit.sdk import Effect
from tests.identity_support import PIN, signed
from tests.support import SHIPPED_WORKFLOWS, audit_of, inject_fault, kinds, ledger_effects
from tests.workflow.escalation_workflows import NoteInput, NoteOrSkip, NoteResult
from workflows.single_action.workflow import SingleActionInput, SingleActionResult

# The ledger actions' default retry budget is 5 attempts: 5 injected 503s exhaust it.
BUDGET = 5
LIMIT = {"customer_id": "C-1001", "credit_limit": "61000.00"}
ATTEMPT_KINDS = ["action.started", "action.attempt_failed"] * BUDGET


def _worker(env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str, policy: Policy) -> Worker:
    # Breaker off: it measures real time, which the time-skipping server does not; the breaker has
    # its own unit tests and the outage tests on a real-time server.
    settings = LedgerConnector.load_settings(base_url=ledger.url, api_key=ledger.api_key, breaker_threshold=0)
    plugin = RetrofitPlugin(
        connectors=connectors_from_classes([LedgerConnector]),
        workflows=[*SHIPPED_WORKFLOWS, NoteOrSkip],
        audit_url=audit_url,
        policy=policy,
        settings_overrides={"ledger": settings},
        identity=PIN,
    )
    return Worker(env.client, task_queue=f"test-{uuid.uuid4()}", plugins=[plugin])


@dataclass
class Run:
    env: WorkflowEnvironment
    handle: WorkflowHandle[Any, Any]
    audit_url: str

    async def failure_request(self) -> ApprovalView:
        """Let time pass (retries back off) until the failure request shows in the query."""
        for _ in range(200):
            views: list[ApprovalView] = await self.handle.query(
                "pending_approvals", result_type=list[ApprovalView]
            )
            failures = [v for v in views if v.kind == "failure"]
            if failures:
                return failures[0]
            await self.env.sleep(timedelta(seconds=5))
            await asyncio.sleep(0.02)
        raise AssertionError("no failure request")

    async def answer(self, subject: str, choice: str, view: ApprovalView, reason: str = "") -> dict[str, Any]:
        """`subject`'s signed answer to failure request `view`."""
        return await signed(self.env, self.handle.id, view, subject, choice, reason=reason)

    async def resolve(
        self, subject: str, choice: str, view: ApprovalView, reason: str = ""
    ) -> ResolveFailureResult:
        return await self.send(await self.answer(subject, choice, view, reason))

    async def send(self, payload: Any) -> ResolveFailureResult:
        result: ResolveFailureResult = await self.handle.execute_update(
            "resolve_failure", payload, result_type=ResolveFailureResult
        )
        return result

    async def refused(self, payload: Any) -> str:
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await self.send(payload)
        cause = info.value.cause
        assert isinstance(cause, ApplicationError)
        assert cause.type == "ResolutionRefused"
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
    async with _worker(time_skipping_env, ledger, audit_url, allow_all()) as w:
        yield w


async def _start(env: WorkflowEnvironment, worker: Worker, audit_url: str, workflow: str, arg: Any) -> Run:
    handle = await env.client.start_workflow(
        workflow, arg, id=f"esc-{uuid.uuid4().hex[:8]}", task_queue=worker.task_queue
    )
    return Run(env, handle, audit_url)


async def test_retry_runs_the_action_again_with_the_same_key_and_one_effect(
    time_skipping_env: WorkflowEnvironment, worker: Worker, ledger: LedgerServer, audit_url: str
) -> None:
    inject_fault(ledger, fail_next=BUDGET, status=503)
    run = await _start(
        time_skipping_env,
        worker,
        audit_url,
        "SingleAction",
        SingleActionInput(action="ledger.set_credit_limit", arguments=LIMIT),
    )
    view = await run.failure_request()
    assert (view.request_id, view.kind, view.action, view.step) == (
        "fail-1-1",
        "failure",
        "ledger.set_credit_limit",
        1,
    )
    assert view.choices == ["retry", "skip", "abort"]
    assert "Retryable" in view.error and "503" in view.error
    metadata = await run.handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    details = metadata.current_details
    assert "Failed, waiting for a decision: `ledger.set_credit_limit` (step 1, request `fail-1-1`)" in details
    assert f"retrofit resolve {run.handle.id} fail-1-1 retry|skip|abort" in details
    assert f'"args_hash": "{view.args_hash}"' in details and '"choice": "retry"' in details
    assert "YOUR NAME" not in details and "--as" not in details
    assert ledger_effects(ledger)["credit_limit"] == {}

    # The system is back (the injected faults are used up); ops ask for another round.
    result = await run.resolve("olga", "retry", view)
    assert (result.choice, result.resolved_by) == ("retry", "olga")
    outcome = SingleActionResult.model_validate(await run.handle.result())
    assert outcome.output["credit_limit"] == "61000.00"
    assert ledger_effects(ledger)["credit_limit"] == {"C-1001": 1}

    records = await run.audit()
    assert kinds(records) == [
        "action.proposed",
        "policy.allowed",
        *ATTEMPT_KINDS,
        "action.failed",
        "failure.escalated",
        "failure.resolved",
        "action.started",
        "action.succeeded",
    ]
    assert len({r.event_id for r in records}) == len(records)  # nothing written twice
    assert {r.idempotency_key for r in records if r.step == 1 and r.idempotency_key} == {f"{run.handle.id}#1"}
    escalated = next(r for r in records if r.kind.value == "failure.escalated")
    assert escalated.data["request_id"] == "fail-1-1"
    assert escalated.data["choices"] == ["retry", "skip", "abort"]
    resolved = next(r for r in records if r.kind.value == "failure.resolved")
    assert resolved.actor.name == "olga" and resolved.data["choice"] == "retry"
    assert resolved.data["identity"]["verified"] is True and resolved.data["identity"]["subject"] == "olga"
    assert resolved.actor.identity and resolved.actor.identity != "(not found in history)"
    second = [r for r in records if r.data.get("round") == 2]
    assert [r.kind.value for r in second] == ["action.started", "action.succeeded"]
    assert second[0].attempt == 1  # a fresh attempt budget
    async with await AuditStore.open(audit_url) as store:
        assert (await store.verify()).ok


async def test_skip_raises_a_typed_error_the_workflow_handles(
    time_skipping_env: WorkflowEnvironment, worker: Worker, ledger: LedgerServer, audit_url: str
) -> None:
    inject_fault(ledger, fail_next=BUDGET, status=503)
    run = await _start(
        time_skipping_env,
        worker,
        audit_url,
        "NoteOrSkip",
        NoteInput(customer_id="C-1002", text="Dunning letter sent."),
    )
    view = await run.failure_request()
    message = await run.refused(await run.answer("olga", "skip", view))
    assert "skip needs a reason" in message
    await run.resolve("olga", "skip", view, reason="note added by phone")
    result = NoteResult.model_validate(await run.handle.result())
    assert result == NoteResult(status="skipped", skipped_by="olga")
    assert ledger_effects(ledger)["notes"] == {}
    records = await run.audit()
    assert kinds(records)[-5:] == [
        "action.failed",
        "failure.escalated",
        "approval.refused",  # the skip without a reason, on record
        "failure.resolved",
        "action.skipped",
    ]
    skipped = records[-1]
    assert skipped.actor.name == "olga" and skipped.data["reason"] == "note added by phone"
    assert skipped.data["kind"] == "Retryable"


async def test_abort_fails_the_call_as_before(
    time_skipping_env: WorkflowEnvironment, worker: Worker, ledger: LedgerServer, audit_url: str
) -> None:
    inject_fault(ledger, fail_next=BUDGET, status=503)
    run = await _start(
        time_skipping_env,
        worker,
        audit_url,
        "SingleAction",
        SingleActionInput(action="ledger.set_credit_limit", arguments=LIMIT),
    )
    view = await run.failure_request()
    await run.resolve("olga", "abort", view, reason="do it next week")
    failure = await run.failure()
    assert failure.type == "ActionFailed"
    assert "aborted by olga: do it next week" in failure.message
    assert ledger_effects(ledger)["credit_limit"] == {}
    records = await run.audit()
    assert kinds(records)[-4:] == ["action.failed", "failure.escalated", "failure.resolved", "action.aborted"]
    assert (await run.handle.query("pending_approvals", result_type=list[ApprovalView])) == []


async def test_bad_answers_are_refused_and_each_refusal_is_recorded(
    time_skipping_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str
) -> None:
    policy = Policy(
        groups={"ops": ("olga", "oskar")},
        by_effect={
            Effect.READ: Rule(outcome=Outcome.ALLOW),
            Effect.WRITE: Rule(outcome=Outcome.ALLOW),
        },
        failure_escalation=FailureEscalation(allowed_groups=("ops",), max_retries=1),
    )
    inject_fault(ledger, fail_next=BUDGET * 2, status=503)
    async with _worker(time_skipping_env, ledger, audit_url, policy) as worker:
        run = await _start(
            time_skipping_env,
            worker,
            audit_url,
            "SingleAction",
            SingleActionInput(action="ledger.set_credit_limit", arguments=LIMIT),
        )
        view = await run.failure_request()
        assert view.may_approve == ["group:ops"]
        unknown = {**await run.answer("olga", "retry", view), "request_id": "fail-9-1"}
        assert "unknown failure request 'fail-9-1'" in await run.refused(unknown)
        assert "may not resolve" in await run.refused(await run.answer("mallory", "retry", view))
        maybe = {**await run.answer("olga", "retry", view), "choice": "maybe"}
        assert "malformed resolve_failure payload" in await run.refused(maybe)
        unsigned = {"request_id": view.request_id, "args_hash": view.args_hash, "choice": "retry"}
        assert "no signed identity" in await run.refused({**unsigned, "approver": "olga"})
        # An approval answer cannot resolve a failure request.
        with pytest.raises(WorkflowUpdateFailedError):
            await run.handle.execute_update("decide", await run.answer("olga", "approve", view))
        await run.resolve("oskar", "retry", view)
        assert "already resolved" in await run.refused(await run.answer("olga", "abort", view, "x"))

        # The second round fails too; one retry was allowed, so only skip and abort remain.
        second = await run.failure_request()
        assert (second.request_id, second.choices) == ("fail-1-2", ["skip", "abort"])
        assert "'retry' is not offered" in await run.refused(await run.answer("olga", "retry", second))
        await run.resolve("olga", "abort", second, reason="ledger still down")
        failure = await run.failure()
    assert failure.type == "ActionFailed"
    records = await run.audit()
    resolved = [r for r in records if r.kind.value == "failure.resolved"]
    assert [(r.actor.name, r.data["choice"]) for r in resolved] == [("oskar", "retry"), ("olga", "abort")]
    refused = [r for r in records if r.kind.value == "approval.refused"]
    # Every refused answer is on record, the malformed one too (its validator lets it through to be
    # recorded); the `decide` to a failure request is refused by the approvals and recorded there.
    assert [r.data["problem"].split(" (")[0] for r in refused] == [
        "unknown failure request 'fail-9-1'",
        "'mallory' may not resolve request fail-1-1",
        "malformed resolve_failure payload: choice: Input should be 'retry', 'skip' or 'abort'",
        "no signed identity: log in at the identity service and answer again",
        "unknown approval request 'fail-1-1'",
        "failure request fail-1-1 is already resolved",
        "'retry' is not offered for request fail-1-2",
    ]
    failed = [r for r in records if r.kind.value == "action.failed"]
    assert [r.data.get("round", 1) for r in failed] == [1, 2]
    assert ledger_effects(ledger)["credit_limit"] == {}


async def test_reads_raise_by_default_and_a_caller_can_ask_writes_to_raise(
    time_skipping_env: WorkflowEnvironment, worker: Worker, ledger: LedgerServer, audit_url: str
) -> None:
    inject_fault(ledger, fail_next=BUDGET, status=503)
    run = await _start(
        time_skipping_env,
        worker,
        audit_url,
        "NoteOrSkip",
        NoteInput(customer_id="C-1002", text="x", on_failure="raise"),
    )
    failure = await run.failure()
    assert failure.type == "ActionFailed"
    assert "failure.escalated" not in kinds(await run.audit())

    inject_fault(ledger, fail_next=BUDGET, status=503)
    run = await _start(
        time_skipping_env,
        worker,
        audit_url,
        "SingleAction",
        SingleActionInput(action="ledger.get_customer", arguments={"customer_id": "C-1001"}),
    )
    failure = await run.failure()
    assert failure.type == "ActionFailed"
    assert kinds(await run.audit())[-1] == "action.failed"


async def test_deadline_applies_the_policy_on_timeout(
    time_skipping_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str
) -> None:
    policy = allow_all().model_copy(
        update={"failure_escalation": FailureEscalation(timeout=timedelta(hours=1), on_timeout="skip")}
    )
    inject_fault(ledger, fail_next=BUDGET, status=503)
    async with _worker(time_skipping_env, ledger, audit_url, policy) as worker:
        run = await _start(
            time_skipping_env,
            worker,
            audit_url,
            "NoteOrSkip",
            NoteInput(customer_id="C-1003", text="x"),
        )
        await run.failure_request()
        result = NoteResult.model_validate(await run.handle.result())  # time skips past the deadline
    assert result == NoteResult(status="skipped", skipped_by="(deadline)")
    records = await run.audit()
    resolved = next(r for r in records if r.kind.value == "failure.resolved")
    assert resolved.actor.kind.value == "system" and resolved.data["choice"] == "skip"
    assert kinds(records)[-1] == "action.skipped"
