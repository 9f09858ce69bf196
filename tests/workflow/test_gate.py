"""The gate on the real Temporal time-skipping server, with the real ledger over HTTP."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from legacy.ledger.server import LedgerServer
from retrofit.audit.store import AuditStore
from retrofit.gate.policy import Outcome, Policy, Rule, allow_all
from tests.support import audit_of, inject_fault, kinds, ledger_effects, ledger_worker
from workflows.credit_limit_review.models import CreditReviewInput, CreditReviewResult
from workflows.single_action.workflow import SingleActionInput, SingleActionResult


async def _single(
    env: WorkflowEnvironment,
    ledger: LedgerServer,
    audit_url: str,
    action: str,
    arguments: dict[str, object],
    policy: Policy | None = None,
) -> tuple[str, SingleActionResult | ApplicationError]:
    wf_id = f"single-{uuid.uuid4().hex[:8]}"
    async with ledger_worker(env.client, ledger, audit_url, policy=policy or allow_all()) as worker:
        try:
            result = await env.client.execute_workflow(
                "SingleAction",
                SingleActionInput(action=action, arguments=arguments),
                id=wf_id,
                task_queue=worker.task_queue,
                result_type=SingleActionResult,
            )
        except WorkflowFailureError as exc:
            assert isinstance(exc.cause, ApplicationError), exc.cause
            return wf_id, exc.cause
    return wf_id, result


async def test_credit_review_reads_writes_and_audits_every_step(
    time_skipping_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str
) -> None:
    wf_id = f"review-{uuid.uuid4().hex[:8]}"
    async with ledger_worker(time_skipping_env.client, ledger, audit_url, policy=allow_all()) as worker:
        result = await time_skipping_env.client.execute_workflow(
            "CreditLimitReview",
            CreditReviewInput(customer_id="C-1003"),
            id=wf_id,
            task_queue=worker.task_queue,
            result_type=CreditReviewResult,
        )
    assert result.changed
    assert result.old_limit == Decimal("120000.00")
    assert result.new_limit == Decimal("144000.00")
    assert ledger.state.get_customer("C-1003").credit_limit == Decimal("144000.00")
    assert ledger_effects(ledger)["credit_limit"] == {"C-1003": 1}

    records = await audit_of(audit_url, wf_id)
    per_step = {step: [r.kind.value for r in records if r.step == step] for step in (1, 2, 3)}
    expected = ["action.proposed", "policy.allowed", "action.started", "action.succeeded"]
    assert per_step == {1: expected, 2: expected, 3: expected}
    write = [r for r in records if r.step == 2]
    assert {r.action for r in write} == {"ledger.set_credit_limit"}
    assert {r.idempotency_key for r in write} == {f"{wf_id}#2"}
    assert write[0].data["arguments"] == {"customer_id": "C-1003", "credit_limit": "144000.00"}
    assert write[-1].data["output"]["credit_limit"] == "144000.00"
    assert all(
        r.workflow_type == "CreditLimitReview" and r.actor.name == "CreditLimitReview" for r in records
    )
    async with await AuditStore.open(audit_url) as store:
        assert (await store.verify()).ok


async def test_invalid_arguments_are_refused_recorded_and_nothing_runs(
    time_skipping_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str
) -> None:
    wf_id, outcome = await _single(
        time_skipping_env,
        ledger,
        audit_url,
        "ledger.set_credit_limit",
        {"customer_id": "C-1003", "credit_limit": -5},
    )
    assert isinstance(outcome, ApplicationError)
    assert outcome.type == "InvalidArguments"
    assert "credit_limit" in outcome.message and "greater than or equal to 0" in outcome.message
    assert ledger_effects(ledger)["credit_limit"] == {}
    records = await audit_of(audit_url, wf_id)
    assert kinds(records) == ["action.invalid"]
    assert records[0].data["errors"] == ["credit_limit: Input should be greater than or equal to 0"]


async def test_unknown_action_is_a_clear_error(
    time_skipping_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str
) -> None:
    wf_id, outcome = await _single(time_skipping_env, ledger, audit_url, "ledger.transfer_everything", {})
    assert isinstance(outcome, ApplicationError)
    assert outcome.type == "UnknownAction"
    assert "ledger.transfer_everything" in outcome.message and "ledger.get_customer" in outcome.message
    assert kinds(await audit_of(audit_url, wf_id)) == ["action.unknown"]


async def test_retryable_failures_then_success_make_one_effect_and_audit_each_attempt(
    time_skipping_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str
) -> None:
    inject_fault(ledger, fail_next=2, status=503, retry_after=1)
    wf_id, outcome = await _single(
        time_skipping_env,
        ledger,
        audit_url,
        "ledger.set_credit_limit",
        {"customer_id": "C-1001", "credit_limit": "60000.00"},
    )
    assert isinstance(outcome, SingleActionResult), outcome
    assert outcome.output["credit_limit"] == "60000.00"
    assert ledger_effects(ledger)["credit_limit"] == {"C-1001": 1}
    records = await audit_of(audit_url, wf_id)
    assert kinds(records) == [
        "action.proposed",
        "policy.allowed",
        "action.started",
        "action.attempt_failed",
        "action.started",
        "action.attempt_failed",
        "action.started",
        "action.succeeded",
    ]
    assert [r.attempt for r in records if r.kind.value == "action.started"] == [1, 2, 3]
    failed = [r for r in records if r.kind.value == "action.attempt_failed"]
    assert all(r.data["retryable"] and r.data["error_type"] == "Retryable" for r in failed)
    # A retried activity never duplicates what it already wrote.
    assert len({r.event_id for r in records}) == len(records)


async def test_non_retryable_error_fails_at_once_with_a_typed_failure(
    time_skipping_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str
) -> None:
    wf_id, outcome = await _single(
        time_skipping_env, ledger, audit_url, "ledger.get_customer", {"customer_id": "C-9999"}
    )
    assert isinstance(outcome, ApplicationError)
    assert outcome.type == "ActionFailed"
    assert "ActionInputError" in outcome.message and "C-9999" in outcome.message
    records = await audit_of(audit_url, wf_id)
    assert kinds(records) == [
        "action.proposed",
        "policy.allowed",
        "action.started",
        "action.attempt_failed",
        "action.failed",
    ]
    assert records[-1].data["kind"] == "ActionInputError"
    assert records[3].data["retryable"] is False


async def test_a_denying_policy_rule_stops_the_call(
    time_skipping_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str
) -> None:
    wf_id, outcome = await _single(
        time_skipping_env,
        ledger,
        audit_url,
        "ledger.delete_customer",
        {"customer_id": "C-1004"},
        policy=Policy(by_action={"ledger.delete_customer": Rule(outcome=Outcome.DENY, reason="no deletes")}),
    )
    assert isinstance(outcome, ApplicationError)
    assert outcome.type == "PolicyDenied" and "no deletes" in outcome.message
    assert ledger.state.get_customer("C-1004").name == "Fratelli Rossi S.p.A."
    records = await audit_of(audit_url, wf_id)
    assert kinds(records) == ["policy.denied"]
    assert records[0].data["decision"]["matched"] == "action:ledger.delete_customer"


@pytest.mark.parametrize("status", [401])
async def test_auth_error_is_not_retried(
    time_skipping_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str, status: int
) -> None:
    inject_fault(ledger, fail_next=1, status=status)
    wf_id, outcome = await _single(
        time_skipping_env, ledger, audit_url, "ledger.get_customer", {"customer_id": "C-1001"}
    )
    assert isinstance(outcome, ApplicationError)
    assert "AuthError" in outcome.message
    records = await audit_of(audit_url, wf_id)
    assert [r.attempt for r in records if r.kind.value == "action.started"] == [1]


async def test_pii_reaches_the_legacy_system_but_not_the_audit_trail(
    time_skipping_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str
) -> None:
    text = "Spoke to anna.becker@nordwind.example, call back on +49 40 3190 2210."
    wf_id, outcome = await _single(
        time_skipping_env, ledger, audit_url, "ledger.add_note", {"customer_id": "C-1001", "text": text}
    )
    assert isinstance(outcome, SingleActionResult), outcome
    assert [n.text for n in ledger.state.notes_of("C-1001")] == [text]
    records = await audit_of(audit_url, wf_id)
    stored = " ".join(r.model_dump_json() for r in records)
    assert "anna.becker" not in stored and "3190" not in stored
    assert records[0].data["arguments"]["text"] == "Spoke to [EMAIL], call back on [PHONE]."
