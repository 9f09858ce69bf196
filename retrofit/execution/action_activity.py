"""One Temporal activity per action, named `<connector>.<action>`.

The activity writes the audit records of its own execution (proposed, policy decision, started,
attempt failed, succeeded) so an allowed call costs one activity, not three. Event ids are
deterministic, so a retried attempt never duplicates the proposal, and each attempt is recorded once.

A retry first reads what the trail knows about the call's earlier attempts: one that started and
never reported (its worker was killed, it timed out) is recorded `action.attempt_lost`, and while
an earlier write attempt may have landed, every failure carries `outcome: "unknown"` to the
workflow, so nobody is told "not called" about a write that may have happened.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from temporalio import activity

from retrofit.audit.events import AuditEvent, AuditKind
from retrofit.execution.attempt_outcomes import AttemptId, PastAttempts, describe_attempts, past_attempts
from retrofit.execution.circuit_breaker import Snapshot, hold_off_while_open, outage_signal
from retrofit.execution.error_mapping import ClassifiedError, classify
from retrofit.execution.resources import WorkerResources
from retrofit.gate.contracts import ActionInvocation, ActionOutcome, event_id
from retrofit.gate.policy import Outcome
from retrofit.observability.actions import observe_action
from retrofit.redaction.boundary import redact, redact_with
from retrofit.sdk.context import running_call
from retrofit.sdk.effect import Effect
from retrofit.sdk.spec import ActionSpec

ActionActivity = Callable[[ActionInvocation], Awaitable[ActionOutcome]]


def build_action_activity(spec: ActionSpec, resources: WorkerResources) -> ActionActivity:
    async def run(invocation: ActionInvocation) -> ActionOutcome:
        info = activity.info()
        if info.workflow_id is None or info.workflow_run_id is None:
            # Standalone activities have no workflow: no step, no idempotency, no audit context.
            raise RuntimeError(f"{spec.name} must be called from a workflow, through the gate")
        workflow_id, run_id = info.workflow_id, info.workflow_run_id
        events = _Events(spec, invocation, workflow_id, run_id, info.attempt)
        past = PastAttempts()
        if info.attempt > 1 or invocation.round > 1:
            past = await read_past_attempts(resources, workflow_id, run_id, invocation)
        lost = [events.attempt_lost(a, found_by=f"attempt {info.attempt}") for a in past.lost]
        breaker = resources.breaker(spec.connector)
        admission = breaker.admit()
        if not admission.allowed:
            # Fail fast: the legacy system is not touched (no `started`), and the record says so.
            refused = _with_past(spec, admission.circuit_open_error(), past)
            await resources.record(
                [
                    events.proposed(),
                    events.decided(),
                    *lost,
                    events.attempt_failed(refused, [], admission.snapshot),
                ]
            )
            raise refused.to_application_error()

        settled = False
        try:
            # Every attempt writes the proposal and decision again: if attempt 1 died before
            # writing them they still land, and otherwise their deterministic ids make the store
            # skip them.
            await resources.record([events.proposed(), events.decided(), *lost, events.started()])
            with (
                running_call(
                    spec.name,
                    invocation.idempotency_key,
                    workflow_id=workflow_id,
                    run_id=run_id,
                    step=invocation.step,
                    attempt=info.attempt,
                ) as context,
                observe_action(
                    spec, step=invocation.step, attempt=info.attempt, workflow_id=workflow_id
                ) as observed,
            ):
                try:
                    request = spec.input_model.model_validate(invocation.arguments)
                    method = getattr(resources.connector(spec.connector), spec.method)
                    result = await method(request)
                    output = spec.output_model.model_validate(
                        result.model_dump() if isinstance(result, BaseModel) else result
                    )
                except Exception as exc:
                    error = classify(exc)
                    snapshot = breaker.record(admission, outage_signal(error))
                    settled = True
                    error = _with_past(spec, hold_off_while_open(error, snapshot), past)
                    observed.failed(error.type, error.message, error.retryable, context.exchanges)
                    await resources.record([events.attempt_failed(error, context.exchanges, snapshot)])
                    raise error.to_application_error() from exc
                observed.succeeded(context.exchanges)
            snapshot = breaker.record(admission, "success")
            settled = True
        finally:
            if not settled:
                breaker.release(admission)  # cancelled mid-call: let another call be the trial

        dumped = output.model_dump(mode="json")
        await resources.record([events.succeeded(dumped, context.exchanges, snapshot)])
        if invocation.output_view == "model":
            view = redact_with(dumped, invocation.model_redactions)
            return ActionOutcome(output=view, attempt=info.attempt)
        return ActionOutcome(output=dumped, attempt=info.attempt)

    return activity.defn(name=spec.name)(run)


async def read_past_attempts(
    resources: WorkerResources, workflow_id: str, run_id: str, invocation: ActionInvocation
) -> PastAttempts:
    records = await resources.store.for_workflow(workflow_id)
    return past_attempts(records, run_id=run_id, step=invocation.step, key=invocation.idempotency_key)


def _with_past(spec: ActionSpec, error: ClassifiedError, past: PastAttempts) -> ClassifiedError:
    """Mark a write's failure "outcome unknown" when this attempt or an earlier one may have landed."""
    if spec.effect is Effect.READ:
        return error  # a read changes nothing: a lost answer is only a lost answer
    if past.succeeded is not None:
        return replace(error, landed_earlier=True)
    if error.may_have_landed or past.unknown:
        return replace(error, outcome_unknown=True)
    return error


def action_events(
    spec: ActionSpec, invocation: ActionInvocation, workflow_id: str, run_id: str, *, attempt: int
) -> _Events:
    """The audit events of one call, for the reconciliation (which settles the same call)."""
    return _Events(spec, invocation, workflow_id, run_id, attempt)


class _Events:
    """Builds this execution's audit events with deterministic ids."""

    def __init__(
        self, spec: ActionSpec, invocation: ActionInvocation, workflow_id: str, run_id: str, attempt: int
    ) -> None:
        self._spec = spec
        self._inv = invocation
        self._workflow_id = workflow_id
        self._run_id = run_id
        self._attempt = attempt

    def _event(
        self, kind: AuditKind, suffix: str, data: dict[str, Any], *, attempt: int | None, at: datetime
    ) -> AuditEvent:
        return AuditEvent(
            event_id=event_id(self._workflow_id, self._run_id, self._inv.step, suffix),
            kind=kind,
            actor=self._inv.actor,
            workflow_id=self._workflow_id,
            run_id=self._run_id,
            workflow_type=self._inv.workflow_type,
            step=self._inv.step,
            action=self._spec.name,
            effect=self._spec.effect.value,
            idempotency_key=self._inv.idempotency_key,
            attempt=attempt,
            data=data,
            occurred_at=at,
        )

    def proposed(self) -> AuditEvent:
        return self._event(
            AuditKind.PROPOSED,
            "proposed",
            {"arguments": redact(self._inv.arguments)},
            attempt=None,
            at=self._inv.proposed_at,
        )

    def decided(self) -> AuditEvent:
        decision = self._inv.decision
        data: dict[str, Any] = {"decision": decision.model_dump(mode="json")}
        if decision.outcome is Outcome.REQUIRE_APPROVAL:
            data["approved_by"] = self._inv.approved_by
        return self._event(AuditKind.ALLOWED, "decided", data, attempt=None, at=self._inv.proposed_at)

    def _per_attempt(self, name: str) -> str:
        # Round 1 keeps the ids it always had; a round a person asked for after an escalation
        # starts counting attempts at 1 again, so its ids name the round too.
        rnd = self._inv.round
        return f"{name}/{self._attempt}" if rnd == 1 else f"{name}/r{rnd}.{self._attempt}"

    def _round(self, data: dict[str, Any]) -> dict[str, Any]:
        if self._inv.round > 1:
            data["round"] = self._inv.round
        return data

    def started(self) -> AuditEvent:
        return self._event(
            AuditKind.STARTED,
            self._per_attempt("started"),
            self._round({}),
            attempt=self._attempt,
            at=_now(),
        )

    def attempt_lost(self, attempt: AttemptId, *, found_by: str) -> AuditEvent:
        """A record for an earlier attempt that started and never reported."""
        rnd, number = attempt
        name = f"attempt_lost/{number}" if rnd == 1 else f"attempt_lost/r{rnd}.{number}"
        what = describe_attempts([attempt])
        if self._spec.effect is Effect.READ:
            message = f"{what} started and never reported; its answer was lost"
        else:
            message = (
                f"{what} started and never reported (worker killed or timed out): "
                "outcome unknown, the write may have landed"
            )
        data: dict[str, Any] = {
            "outcome": "unknown",
            "message": message,
            "found_by": found_by,
        }
        if rnd > 1:
            data["round"] = rnd
        return self._event(AuditKind.ATTEMPT_LOST, name, data, attempt=number, at=_now())

    def reconciled(self, status: str, detail: str, uncertain: str, when: str) -> AuditEvent:
        """What the connector's lookup said about a call whose answer was lost."""
        messages = {
            "landed": "the legacy system has the write: it landed",
            "not_landed": "the legacy system has no write under this key: it did not land",
            "unknown": "the legacy system cannot tell: outcome unknown, the write may have landed",
        }
        data: dict[str, Any] = {
            "status": status,
            "message": messages.get(status, status),
            "detail": detail,
            "uncertain": uncertain,
            "when": when,
        }
        rnd = self._inv.round
        return self._event(
            AuditKind.RECONCILED, f"reconciled/r{rnd}.{when}", self._round(data), attempt=None, at=_now()
        )

    def attempt_failed(
        self,
        error: ClassifiedError,
        exchanges: list[dict[str, Any]],
        breaker: Snapshot | None = None,
    ) -> AuditEvent:
        data: dict[str, Any] = {
            "error_type": error.type,
            "error": error.message,
            "retryable": error.retryable,
            "delivery": error.delivery.value,
        }
        if error.landed_earlier:
            data["outcome"] = "landed"
        elif error.outcome_unknown:
            data["outcome"] = "unknown"
        if exchanges:
            data["exchanges"] = exchanges
        if breaker is not None:
            data["breaker"] = breaker.to_json()
        return self._event(
            AuditKind.ATTEMPT_FAILED,
            self._per_attempt("attempt_failed"),
            self._round(data),
            attempt=self._attempt,
            at=_now(),
        )

    def succeeded(
        self,
        output: dict[str, Any],
        exchanges: list[dict[str, Any]],
        breaker: Snapshot | None = None,
        *,
        reconciled: bool = False,
    ) -> AuditEvent:
        data: dict[str, Any] = {"output": redact(output)}
        if reconciled:
            # No attempt heard the answer; the legacy system's lookup reported the write.
            data["reconciled"] = True
        if exchanges:
            data["exchanges"] = exchanges
        if breaker is not None:
            data["breaker"] = breaker.to_json()
        return self._event(
            AuditKind.SUCCEEDED,
            "succeeded",
            self._round(data),
            attempt=None if reconciled else self._attempt,
            at=_now(),
        )


def _now() -> datetime:
    return datetime.now(UTC)
