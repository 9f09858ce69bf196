"""The gate: the one way workflow code calls a legacy system.

    validate arguments -> policy -> (approval) -> action activity (audits proposed/started/outcome)
    -> validate output

Deterministic: only stdlib, pydantic and `temporalio.workflow` here; every write to the audit
store and every connector call happens in an activity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, overload

from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, RetryState, TimeoutError

from retrofit.audit.events import AuditEvent, AuditKind
from retrofit.gate import catalog
from retrofit.gate.approvals import await_approval
from retrofit.gate.audit_calls import record_events, workflow_event
from retrofit.gate.contracts import ActionInvocation, ActionOutcome
from retrofit.gate.details import record_decision, show_details
from retrofit.gate.errors import (
    ActionDeniedError,
    ActionFailedError,
    ActionSkippedError,
    InvalidArgumentsError,
    UnknownActionError,
)
from retrofit.gate.escalation import PATCH_ID, escalate_failure, outcome_event
from retrofit.gate.outcomes import NO_EFFECT, CallOutcome, settle, suspected_unknown
from retrofit.gate.policy import Decision, OnFailure, Outcome, Policy, ProposedCall
from retrofit.gate.policy_merge import PolicyRequest, as_request
from retrofit.gate.policy_merge import decide as decide_in_force
from retrofit.gate.state import action_task_queue, gate_state, pinned_policy
from retrofit.redaction import redact, summarize
from retrofit.sdk.effect import Effect
from retrofit.sdk.spec import ActionSpec

M = TypeVar("M", bound=BaseModel)


@overload
async def run_action(
    name: str,
    arguments: BaseModel | Mapping[str, Any],
    *,
    returns: type[M],
    summary: str | None = None,
    policy: Policy | PolicyRequest | None = None,
    on_failure: OnFailure | None = None,
) -> M: ...


@overload
async def run_action(
    name: str,
    arguments: BaseModel | Mapping[str, Any],
    *,
    returns: None = None,
    summary: str | None = None,
    policy: Policy | PolicyRequest | None = None,
    on_failure: OnFailure | None = None,
) -> BaseModel: ...


async def run_action(
    name: str,
    arguments: BaseModel | Mapping[str, Any],
    *,
    returns: type[BaseModel] | None = None,
    summary: str | None = None,
    policy: Policy | PolicyRequest | None = None,
    on_failure: OnFailure | None = None,
) -> BaseModel:
    """Call action `name` (`connector.action`) through validation, policy, approval and audit.

    Raises (all `ApplicationError`s): `UnknownActionError`, `InvalidArgumentsError`,
    `ActionDeniedError`, `ActionRejectedError`, `ActionFailedError` (and its subclass
    `ActionSkippedError`). Returns the action's output model (or `returns`).

    `on_failure` — when the action fails past its retry budget: `"raise"` (ActionFailedError at
    once) or `"escalate"` (a person answers retry / skip / abort, see `retrofit.gate.escalation`).
    None: the policy decides (default: reads raise, writes and destructive calls escalate).

    `policy` — stricter rules for this call: the worker's (operator's) policy is always in force,
    and this can only tighten it (`retrofit.gate.policy_merge`).
    """
    spec, outcome = await _through_gate(name, arguments, summary, policy, _FULL_VIEW, on_failure=on_failure)
    output = spec.output_model.model_validate(outcome.output)
    if returns is not None and not isinstance(output, returns):
        return returns.model_validate(outcome.output)
    return output


async def run_action_for_model(
    name: str,
    arguments: Mapping[str, Any],
    *,
    policy: Policy | PolicyRequest | None = None,
    redactions: Mapping[str, str] | None = None,
    summary: str | None = None,
    on_failure: OnFailure | None = None,
) -> dict[str, Any]:
    """`run_action` for a call an LLM proposed: the same validation, policy, approval and audit,
    but the output comes back redacted (secrets, PII and the extra `redactions` patterns replaced
    inside the activity), as plain JSON for the model. The plain output never enters history.
    """
    view = _ModelView("model", dict(redactions or {}))
    _, outcome = await _through_gate(name, arguments, summary, policy, view, on_failure=on_failure)
    return outcome.output


@dataclass(frozen=True)
class _ModelView:
    output_view: Literal["full", "model"]
    redactions: dict[str, str]


_FULL_VIEW = _ModelView("full", {})


async def _through_gate(
    name: str,
    arguments: BaseModel | Mapping[str, Any],
    summary: str | None,
    policy: Policy | PolicyRequest | None,
    view: _ModelView,
    *,
    on_failure: OnFailure | None = None,
) -> tuple[ActionSpec, ActionOutcome]:
    state = gate_state()
    step = state.next_step()
    raw = arguments.model_dump(mode="json") if isinstance(arguments, BaseModel) else dict(arguments)

    spec = catalog.lookup(name)
    if spec is None:
        known = ", ".join(catalog.names()) or "none"
        await _record(step, AuditKind.UNKNOWN, name, None, {"arguments": redact(raw), "known": known})
        raise UnknownActionError(
            f"unknown action {name!r} (this worker serves: {known})", action=name, step=step
        )

    try:
        validated = spec.input_model.model_validate(raw)
    except ValidationError as exc:
        problems = _validation_problems(exc)
        await _record(step, AuditKind.INVALID, name, spec, {"arguments": redact(raw), "errors": problems})
        raise InvalidArgumentsError(
            f"invalid arguments for {name}: " + "; ".join(problems), action=name, step=step, errors=problems
        ) from None
    args = validated.model_dump(mode="json")

    # The operator's policy is in force; the caller's can only make this call stricter.
    active = await pinned_policy()
    call = ProposedCall(action=name, effect=spec.effect, arguments=args)
    decision = decide_in_force(active, as_request(policy), call)
    if decision.outcome is Outcome.DENY:
        await _record(
            step,
            AuditKind.DENIED,
            name,
            spec,
            {"arguments": redact(args), "decision": decision.model_dump(mode="json")},
        )
        raise ActionDeniedError(f"{name} denied by policy: {decision.reason}", action=name, step=step)
    approved_by: list[str] = []
    if decision.outcome is Outcome.REQUIRE_APPROVAL:
        proposed = _event(
            step, AuditKind.PROPOSED, name, spec, {"arguments": redact(args)}, suffix="proposed"
        )
        approved_by = await await_approval(spec, step, args, decision, active, proposed)

    handling = on_failure or active.failure_handling(spec.effect, decision)
    return spec, await _execute(
        spec, step, args, decision, approved_by, summary, view, _FailurePlan(handling, active)
    )


@dataclass(frozen=True)
class _FailurePlan:
    """What `_execute` does when the action fails past its retry budget."""

    handling: OnFailure
    policy: Policy  # who may resolve an escalation, by when, how many retries


async def _execute(
    spec: ActionSpec,
    step: int,
    args: dict[str, Any],
    decision: Decision,
    approved_by: list[str],
    summary: str | None,
    view: _ModelView,
    plan: _FailurePlan,
) -> ActionOutcome:
    info = workflow.info()
    state = gate_state()
    invocation = ActionInvocation(
        action=spec.name,
        arguments=args,
        step=step,
        idempotency_key=f"{info.workflow_id}#{step}",
        workflow_type=info.workflow_type,
        actor=state.actor,
        decision=decision,
        approved_by=approved_by,
        proposed_at=workflow.now(),
        output_view=view.output_view,
        model_redactions=view.redactions,
    )
    task_queue = await action_task_queue(spec.connector)
    show_details(f"Step {step}: running **{spec.name}** ({spec.effect.value})")
    while True:
        # Round 1 is the call; each "retry" a person answers after an escalation is one more round
        # of the same invocation (same step and idempotency key) with a fresh attempt budget.
        described = summary or f"step {step}: {spec.name} {summarize(args, 80)}"
        try:
            outcome: ActionOutcome = await workflow.execute_activity(
                spec.name,
                invocation,
                result_type=ActionOutcome,
                task_queue=task_queue,
                start_to_close_timeout=spec.timeout,
                retry_policy=RetryPolicy(
                    initial_interval=spec.retry.initial_interval,
                    backoff_coefficient=spec.retry.backoff,
                    maximum_interval=spec.retry.maximum_interval,
                    maximum_attempts=spec.retry.maximum_attempts,
                ),
                summary=described if invocation.round == 1 else f"{described} (round {invocation.round})",
            )
            break
        except ActivityError as exc:
            after = await _after_failure(exc, spec, args, invocation, plan)
            if isinstance(after, ActionOutcome):
                outcome = after  # the write had landed: the legacy system's lookup said so
                break
            invocation = after
    show_details(f"Step {step}: **{spec.name}** done")
    return outcome


async def _after_failure(
    exc: ActivityError,
    spec: ActionSpec,
    args: dict[str, Any],
    invocation: ActionInvocation,
    plan: _FailurePlan,
) -> ActionInvocation | ActionOutcome:
    """Record a round that failed for good; raise, or escalate and return the next round's
    invocation when a person answers "retry". A write whose answer was lost is reconciled first
    (`retrofit.gate.outcomes`): when it had landed, its outcome is returned instead."""
    step, rnd = invocation.step, invocation.round
    kind, message = _failure_kind(exc)
    outcome = NO_EFFECT
    if suspected_unknown(exc, spec):
        outcome = await settle(spec, invocation, "failed")
        if outcome.returnable:
            return _landed(spec, step, outcome)
    data: dict[str, Any] = {"arguments": redact(args), "kind": kind, "error": message}
    if spec.effect is not Effect.READ:
        data.update(outcome.record())
    # Every message about this failure says so when the write may have landed (or did).
    note = f"; {outcome.message()}" if outcome.open else ""
    if rnd > 1:
        data["round"] = rnd
    failed = _event(
        step,
        AuditKind.FAILED,
        spec.name,
        spec,
        data,
        idempotency_key=invocation.idempotency_key,
        # Round 1 keeps the id it always had, so recorded histories and stores stay valid.
        suffix=None if rnd == 1 else f"{AuditKind.FAILED.value}/r{rnd}",
    )
    # Only failures past the retry budget escalate: a non-retryable answer (bad input, auth)
    # would fail the same way again. The patch keeps runs from before escalation replaying.
    escalate = (
        plan.handling == "escalate"
        and exc.retry_state in (RetryState.MAXIMUM_ATTEMPTS_REACHED, RetryState.TIMEOUT)
        and workflow.patched(PATCH_ID)
    )
    if not escalate:
        await record_events([failed])
        show_details(f"Step {step}: **{spec.name}** failed ({kind})")
        raise ActionFailedError(
            f"{spec.name} failed ({kind}): {message}{note}", action=spec.name, step=step, kind=kind
        ) from None
    error = f"{kind}: {message}" + (f" — {outcome.message()}" if outcome.open else "")
    resolution = await escalate_failure(spec, step, args, rnd, error, plan.policy, failed)
    if outcome.open:
        # Ask again: the system may answer now (the breaker that made the lookup wait has closed).
        outcome = await settle(spec, invocation, "answered")
        failed = failed.model_copy(update={"data": {**failed.data, **outcome.record()}})
        note = f"; {outcome.message()}"  # what is known now, whichever way it went
        if outcome.returnable and resolution.choice != "abort":
            return _landed(spec, step, outcome)
    if resolution.choice == "retry":
        show_details(
            f"Step {step}: running **{spec.name}** again (round {rnd + 1}, asked by {resolution.by})"
        )
        return invocation.model_copy(update={"round": rnd + 1})
    if resolution.choice == "skip":
        await record_events([outcome_event(AuditKind.SKIPPED, resolution, spec, step, failed)])
        record_decision(f"`{spec.name}` (step {step}): failed, skipped by {resolution.by}")
        show_details(f"Step {step}: **{spec.name}** skipped by {resolution.by}")
        raise ActionSkippedError(
            f"{spec.name} failed ({kind}) and was skipped by {resolution.by}: {resolution.reason}{note}",
            action=spec.name,
            step=step,
            kind=kind,
            skipped_by=resolution.by,
            reason=resolution.reason,
        ) from None
    await record_events([outcome_event(AuditKind.ABORTED, resolution, spec, step, failed)])
    record_decision(f"`{spec.name}` (step {step}): failed, aborted by {resolution.by}")
    show_details(f"Step {step}: **{spec.name}** failed ({kind}); aborted by {resolution.by}")
    raise ActionFailedError(
        f"{spec.name} failed ({kind}): {message}; aborted by {resolution.by}: {resolution.reason}{note}",
        action=spec.name,
        step=step,
        kind=kind,
        aborted_by=resolution.by,
        request_id=resolution.request_id,
    ) from None


def _landed(spec: ActionSpec, step: int, outcome: CallOutcome) -> ActionOutcome:
    """The outcome of a write whose answer was lost and which the legacy system says landed."""
    show_details(f"Step {step}: **{spec.name}** done ({outcome.message()})")
    return ActionOutcome(output=outcome.output or {}, attempt=outcome.attempt)


def _failure_kind(exc: ActivityError) -> tuple[str, str]:
    cause = exc.cause
    if isinstance(cause, ApplicationError):
        return (cause.type or "ApplicationError"), cause.message
    if isinstance(cause, TimeoutError):
        return "Timeout", f"{cause.type.name if cause.type else 'timeout'}: {cause.message}"
    return type(cause).__name__ if cause else "Unknown", str(cause or exc)


def _validation_problems(exc: ValidationError) -> list[str]:
    # Only locations and messages: the offending input values may be sensitive.
    return [f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()]


async def _record(
    step: int,
    kind: AuditKind,
    action: str,
    spec: ActionSpec | None,
    data: dict[str, Any],
    *,
    idempotency_key: str | None = None,
) -> None:
    await record_events([_event(step, kind, action, spec, data, idempotency_key=idempotency_key)])


def _event(
    step: int,
    kind: AuditKind,
    action: str,
    spec: ActionSpec | None,
    data: dict[str, Any],
    *,
    idempotency_key: str | None = None,
    suffix: str | None = None,
) -> AuditEvent:
    return workflow_event(
        kind,
        suffix or kind.value,
        actor=gate_state().actor,
        step=step,
        action=action,
        effect=spec.effect.value if spec else None,
        idempotency_key=idempotency_key,
        data=data,
    )
