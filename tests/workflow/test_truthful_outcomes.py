"""Truthful outcomes (issue 12, item 7), on the real time-skipping server and the real demo ledger.

The issue's scenario: the ledger applies a credit-limit write and the connection drops before the
answer (fault `drop_after_apply`); the next attempt meets a 503, the breaker opens, the remaining
attempts fail fast ("this attempt was not sent"), and the call escalates. Without a lookup the
trail, the request and the skip all say "outcome unknown: the write may have landed" — the
ledger's own state proves it did. With the ledger's lookup the framework records the effect and
the call returns it. A connection that is refused is the opposite case: known, no effect.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from connectors.ledger.connector import LedgerConnector
from connectors.ledger.models import Customer, SetCreditLimit
from legacy.ledger.server import LedgerServer
from retrofit.audit.events import AuditRecord
from retrofit.audit.store import AuditStore
from retrofit.gate.approval_models import ApprovalView
from retrofit.gate.failure_models import ResolveFailureResult
from retrofit.gate.policy import allow_all
from retrofit.plugin import RetrofitPlugin
from retrofit.registry import connectors_from_classes
from retrofit.sdk import Connector, Effect, LookupResult, RetrySettings, action
from tests.identity_support import PIN, signed
from tests.support import SHIPPED_WORKFLOWS, audit_of, inject_fault, kinds, ledger_effects
from workflows.single_action.workflow import SingleActionInput, SingleActionResult

LIMIT = {"customer_id": "C-1001", "credit_limit": "61000.00"}
# The ledger actions' retry budget is 5 attempts; the breaker opens after 2 outage failures and
# stays open (real time) for the rest of the test.
BUDGET = 5


class LedgerWithoutLookup(LedgerConnector):
    """The demo ledger as a connector that cannot look its writes up (the SDK's default hook).
    Its own name: the process-wide catalog holds one definition per action name."""

    name = "plain_ledger"
    lookup = Connector.lookup


def _worker(
    env: WorkflowEnvironment,
    ledger: LedgerServer,
    audit_url: str,
    cls: type[LedgerConnector],
    **settings: Any,
) -> Worker:
    options: dict[str, Any] = {
        "base_url": ledger.url,
        "api_key": ledger.api_key,
        "breaker_threshold": 2,
        "breaker_open_seconds": 600,
        **settings,
    }
    plugin = RetrofitPlugin(
        connectors=connectors_from_classes([cls]),
        workflows=SHIPPED_WORKFLOWS,
        audit_url=audit_url,
        policy=allow_all(),
        settings_overrides={cls.name: cls.load_settings(**options)},
        identity=PIN,
    )
    return Worker(env.client, task_queue=f"test-{uuid.uuid4()}", plugins=[plugin])


async def _start(
    env: WorkflowEnvironment, worker: Worker, connector: str = "ledger"
) -> WorkflowHandle[Any, Any]:
    return await env.client.start_workflow(
        "SingleAction",
        SingleActionInput(action=f"{connector}.set_credit_limit", arguments=LIMIT),
        id=f"truth-{uuid.uuid4().hex[:8]}",
        task_queue=worker.task_queue,
    )


async def _failure_request(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]) -> ApprovalView:
    for _ in range(200):
        views: list[ApprovalView] = await handle.query("pending_approvals", result_type=list[ApprovalView])
        failures = [v for v in views if v.kind == "failure"]
        if failures:
            return failures[0]
        await env.sleep(timedelta(seconds=30))
        await asyncio.sleep(0.02)
    raise AssertionError("no failure request")


async def _resolve(
    env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any], view: ApprovalView, choice: str, reason: str
) -> ResolveFailureResult:
    payload = await signed(env, handle.id, view, "olga", choice, reason=reason)
    result: ResolveFailureResult = await handle.execute_update(
        "resolve_failure", payload, result_type=ResolveFailureResult
    )
    return result


def _ledger_customer(ledger: LedgerServer, customer_id: str) -> dict[str, Any]:
    response = httpx.get(
        f"{ledger.url}/customers/{customer_id}", headers={"X-Api-Key": ledger.api_key}, timeout=5
    )
    response.raise_for_status()
    return dict(response.json())


def _one(records: list[AuditRecord], kind: str) -> AuditRecord:
    found = [r for r in records if r.kind.value == kind]
    assert len(found) == 1, (kind, kinds(records))
    return found[0]


@pytest.fixture
async def verify_after(audit_url: str) -> AsyncIterator[None]:
    yield
    async with await AuditStore.open(audit_url) as store:
        assert (await store.verify()).ok


async def test_lost_answer_then_breaker_then_skip_says_outcome_unknown_and_the_write_had_landed(
    time_skipping_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str, verify_after: None
) -> None:
    env = time_skipping_env
    inject_fault(ledger, drop_next=1, drop_after_apply=True, fail_next=1, status=503)
    async with _worker(env, ledger, audit_url, LedgerWithoutLookup) as worker:
        handle = await _start(env, worker, LedgerWithoutLookup.name)
        view = await _failure_request(env, handle)
        # The last attempt was refused by the open breaker, but the request must not read "not called".
        assert "CircuitOpen" in view.error
        assert "outcome unknown: the write may have landed" in view.error
        assert "attempt 1's answer was lost" in view.error
        assert view.outcome == "unknown"  # the pending_approvals view the CLI lists
        assert view.outcome_note.startswith("outcome unknown: the write may have landed")
        metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
        assert "**Outcome**: outcome unknown: the write may have landed" in metadata.current_details
        resolved = await _resolve(env, handle, view, "skip", "ledger is down, will check by hand")
        # What `retrofit resolve` gets back says it too.
        assert resolved.outcome_note.startswith("outcome unknown: the write may have landed")
        with pytest.raises(WorkflowFailureError) as info:
            await handle.result()

    failure = info.value.cause
    assert isinstance(failure, ApplicationError) and failure.type == "ActionSkipped"
    assert "outcome unknown: the write may have landed" in failure.message

    # The legacy system's real state: the write landed, once.
    assert _ledger_customer(ledger, "C-1001")["credit_limit"] == "61000.00"
    assert ledger_effects(ledger)["credit_limit"] == {"C-1001": 1}

    records = await audit_of(audit_url, handle.id)
    attempts = [r for r in records if r.kind.value == "action.attempt_failed"]
    assert [r.data["delivery"] for r in attempts] == [
        "unknown",
        "answered",
        "not_sent",
        "not_sent",
        "not_sent",
    ]
    assert all(r.data.get("outcome") == "unknown" for r in attempts)  # once unknown, unknown after
    assert "may have landed" in attempts[0].data["error"]
    assert "this attempt was not sent" in attempts[-1].data["error"]
    failed = _one(records, "action.failed")
    assert failed.data["outcome"] == "unknown"
    escalated = _one(records, "failure.escalated")
    assert escalated.data["outcome"] == "unknown"
    assert "may have landed" in escalated.data["error"]
    skipped = _one(records, "action.skipped")
    assert skipped.data["outcome"] == "unknown"
    assert "the write may have landed" in skipped.data["outcome_message"]
    assert "not called" not in str(skipped.data)
    assert "action.reconciled" not in kinds(records)  # no lookup: nothing claims to know
    assert "action.succeeded" not in kinds(records)


async def test_with_the_ledgers_lookup_the_effect_is_recorded_and_returned(
    time_skipping_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str, verify_after: None
) -> None:
    env = time_skipping_env
    inject_fault(ledger, drop_next=1, drop_after_apply=True, fail_next=1, status=503)
    async with _worker(env, ledger, audit_url, LedgerConnector) as worker:
        handle = await _start(env, worker)
        result = SingleActionResult.model_validate(await handle.result())

    assert result.output["credit_limit"] == "61000.00"
    assert _ledger_customer(ledger, "C-1001")["credit_limit"] == "61000.00"
    effects = ledger_effects(ledger)
    assert effects["credit_limit"] == {"C-1001": 1}  # found, not written again

    records = await audit_of(audit_url, handle.id)
    assert "failure.escalated" not in kinds(records)  # nobody was asked about a write that landed
    assert "action.failed" not in kinds(records)
    assert kinds(records)[-2:] == ["action.reconciled", "action.succeeded"]
    reconciled = _one(records, "action.reconciled")
    assert reconciled.data["status"] == "landed"
    assert reconciled.data["uncertain"] == "attempt 1"
    assert reconciled.idempotency_key == f"{handle.id}#1"
    succeeded = _one(records, "action.succeeded")
    assert succeeded.data["reconciled"] is True
    assert succeeded.data["output"]["credit_limit"] == "61000.00"


async def test_a_lookup_that_cannot_answer_stays_unknown_until_a_person_answers_then_records_the_effect(
    time_skipping_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str, verify_after: None
) -> None:
    env = time_skipping_env
    # The second 503 meets the lookup before the escalation: the ledger cannot tell yet.
    inject_fault(ledger, drop_next=1, drop_after_apply=True, fail_next=2, status=503)
    async with _worker(env, ledger, audit_url, LedgerConnector) as worker:
        handle = await _start(env, worker)
        view = await _failure_request(env, handle)
        assert "outcome unknown: the write may have landed" in view.error
        assert "the lookup failed" in view.error
        await _resolve(env, handle, view, "skip", "check later")
        # Asked again when the person answered: it landed, so the call has its result after all.
        result = SingleActionResult.model_validate(await handle.result())

    assert result.output["credit_limit"] == "61000.00"
    assert ledger_effects(ledger)["credit_limit"] == {"C-1001": 1}
    records = await audit_of(audit_url, handle.id)
    reconciled = [r for r in records if r.kind.value == "action.reconciled"]
    assert [(r.data["status"], r.data["when"]) for r in reconciled] == [
        ("unknown", "failed"),
        ("landed", "answered"),
    ]
    assert kinds(records)[-4:] == [
        "failure.escalated",
        "failure.resolved",
        "action.reconciled",
        "action.succeeded",
    ]
    assert "action.skipped" not in kinds(records)


async def test_abort_after_a_lost_answer_records_that_the_write_landed(
    time_skipping_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str, verify_after: None
) -> None:
    env = time_skipping_env
    inject_fault(ledger, drop_next=1, drop_after_apply=True, fail_next=2, status=503)
    async with _worker(env, ledger, audit_url, LedgerConnector) as worker:
        handle = await _start(env, worker)
        view = await _failure_request(env, handle)
        await _resolve(env, handle, view, "abort", "stop the review")
        with pytest.raises(WorkflowFailureError) as info:
            await handle.result()
    failure = info.value.cause
    assert isinstance(failure, ApplicationError) and failure.type == "ActionFailed"
    assert "aborted by olga" in failure.message and "the write landed" in failure.message
    records = await audit_of(audit_url, handle.id)
    assert kinds(records)[-3:] == ["action.reconciled", "action.succeeded", "action.aborted"]
    aborted = _one(records, "action.aborted")
    assert aborted.data["outcome"] == "landed"


async def test_a_refused_connection_is_known_not_called(
    time_skipping_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str, verify_after: None
) -> None:
    env = time_skipping_env
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with _worker(
        env, ledger, audit_url, LedgerConnector, base_url=f"http://127.0.0.1:{port}", breaker_threshold=0
    ) as worker:
        handle = await _start(env, worker)
        view = await _failure_request(env, handle)
        assert "ConnectError" in view.error
        assert "may have landed" not in view.error
        assert view.outcome == "no_effect" and "never sent" in view.outcome_note
        await _resolve(env, handle, view, "skip", "ledger unreachable")
        with pytest.raises(WorkflowFailureError) as info:
            await handle.result()
    assert isinstance(info.value.cause, ApplicationError)
    assert "may have landed" not in info.value.cause.message
    assert ledger_effects(ledger)["credit_limit"] == {}
    records = await audit_of(audit_url, handle.id)
    attempts = [r for r in records if r.kind.value == "action.attempt_failed"]
    assert len(attempts) == BUDGET and {r.data["delivery"] for r in attempts} == {"not_sent"}
    assert all("outcome" not in r.data for r in attempts)
    skipped = _one(records, "action.skipped")
    assert skipped.data["outcome"] == "no_effect"
    assert "may have landed" not in skipped.data["outcome_message"]
    assert "action.reconciled" not in kinds(records)  # nothing to reconcile: nothing was sent


class QuickLedger(LedgerConnector):
    """The demo ledger with a write whose attempts time out after 2 s, so a held answer makes an
    attempt that never reports (as a worker killed mid-call does) without a minute of waiting."""

    name = "quick_ledger"

    @action(
        effect=Effect.WRITE,
        timeout=timedelta(seconds=2),
        retry=RetrySettings(initial_interval=timedelta(seconds=1), maximum_attempts=2),
    )
    async def set_credit_limit(self, req: SetCreditLimit) -> Customer:
        """Set a customer's credit limit; returns the updated customer."""
        return await LedgerConnector.set_credit_limit(self, req)


async def test_attempts_that_never_report_are_recorded_lost_and_the_lookup_settles_them(
    time_skipping_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str, verify_after: None
) -> None:
    """Both attempts apply (or replay) the write and hold their answer past the attempt's timeout:
    the second records the first as lost, the reconciliation records the second, and the ledger's
    lookup finds the write."""
    env = time_skipping_env
    inject_fault(ledger, hold_next=2, hold_ms=3_000)
    async with _worker(env, ledger, audit_url, QuickLedger, read_timeout=30, breaker_threshold=0) as worker:
        handle = await _start(env, worker, QuickLedger.name)
        result = SingleActionResult.model_validate(await asyncio.wait_for(handle.result(), timeout=60))
    assert result.output["credit_limit"] == "61000.00"
    assert ledger_effects(ledger)["credit_limit"] == {"C-1001": 1}
    records = await audit_of(audit_url, handle.id)
    lost = [r for r in records if r.kind.value == "action.attempt_lost"]
    assert [(r.attempt, r.data["found_by"]) for r in lost] == [(1, "attempt 2"), (2, "the reconciliation")]
    assert all("the write may have landed" in r.data["message"] for r in lost)
    reconciled = _one(records, "action.reconciled")
    assert reconciled.data["status"] == "landed"
    # Attempt 1's answer came after its timeout, so its success is on record as well: one success.
    assert len([r for r in records if r.kind.value == "action.succeeded"]) == 1
    assert "action.failed" not in kinds(records) and "failure.escalated" not in kinds(records)


class QuickPlainLedger(QuickLedger):
    """`QuickLedger` without a lookup."""

    name = "quick_plain_ledger"
    lookup = Connector.lookup


async def test_a_late_success_on_record_is_reported_as_landed_even_without_a_lookup(
    time_skipping_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str, verify_after: None
) -> None:
    env = time_skipping_env
    inject_fault(ledger, hold_next=2, hold_ms=3_000)
    async with _worker(
        env, ledger, audit_url, QuickPlainLedger, read_timeout=30, breaker_threshold=0
    ) as worker:
        handle = await _start(env, worker, QuickPlainLedger.name)
        view = await _failure_request(env, handle)
        assert view.outcome == "landed"
        assert "answered after its attempt had timed out" in view.error
        await _resolve(env, handle, view, "skip", "done already")
        with pytest.raises(WorkflowFailureError) as info:
            await handle.result()
    assert isinstance(info.value.cause, ApplicationError)
    assert "the write landed" in info.value.cause.message
    assert ledger_effects(ledger)["credit_limit"] == {"C-1001": 1}
    records = await audit_of(audit_url, handle.id)
    skipped = _one(records, "action.skipped")
    assert skipped.data["outcome"] == "landed"
    assert _one(records, "action.failed").data["outcome"] == "landed"


class BogusLookupLedger(LedgerConnector):
    """A ledger connector whose lookup claims "landed" with an output that is no Customer."""

    name = "bogus_ledger"

    async def lookup(self, idempotency_key: str) -> LookupResult:
        return LookupResult.landed({"id": "C-1001", "credit_limit": "not money"}, "trust me")


async def test_a_lookup_that_answers_garbage_is_not_believed(
    time_skipping_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str, verify_after: None
) -> None:
    env = time_skipping_env
    inject_fault(ledger, drop_next=1, drop_after_apply=True, fail_next=1, status=503)
    async with _worker(env, ledger, audit_url, BogusLookupLedger) as worker:
        handle = await _start(env, worker, BogusLookupLedger.name)
        view = await _failure_request(env, handle)
        assert view.outcome == "unknown" and "does not fit" in view.error
        await _resolve(env, handle, view, "skip", "check by hand")
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    records = await audit_of(audit_url, handle.id)
    assert [r.data["status"] for r in records if r.kind.value == "action.reconciled"] == [
        "unknown",
        "unknown",
    ]
    assert "action.succeeded" not in kinds(records)  # nothing recorded as the call's output
    assert _one(records, "action.skipped").data["outcome"] == "unknown"
