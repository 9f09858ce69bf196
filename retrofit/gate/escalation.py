"""Escalation of an action that failed past its retry budget: a person chooses retry, skip or abort.

The gate calls `escalate_failure` instead of raising `ActionFailedError` when the policy (or the
caller's `on_failure=`) says "escalate". The request is an approval-like wait: it shows in the
workflow's current details and in the `pending_approvals` Query (`kind = "failure"`), and is
answered with the `resolve_failure` Update, validated before Temporal accepts it (unknown or
already-resolved request, a choice not offered, a person the policy does not allow, skip/abort
without a reason are refused). The CLI sends the same Update (`retrofit resolve`).

    retry -> the gate runs the action again: same step and idempotency key (the legacy system
             never doubles the effect), a fresh attempt budget (round n+1)
    skip  -> `ActionSkippedError` (the workflow may go on without the result)
    abort -> `ActionFailedError`, as without escalation

Deadline: the policy's `failure_escalation.timeout`, then its `on_timeout` (abort or skip).
Every request, answer and outcome lands in the audit trail.

Deterministic: stdlib, pydantic and `temporalio.workflow` only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from temporalio import workflow
from temporalio.exceptions import ApplicationError

from retrofit.audit.events import Actor, ActorKind, AuditEvent, AuditKind
from retrofit.gate.approval_models import ApprovalStatus, ApprovalView, arguments_hash
from retrofit.gate.audit_calls import record_answer, record_events, system_event, workflow_event
from retrofit.gate.failure_models import (
    ALL_CHOICES,
    RESOLVE_FAILURE_UPDATE,
    FailureChoice,
    ResolveFailureRequest,
    ResolveFailureResult,
)
from retrofit.gate.policy import Policy
from retrofit.redaction import redact, summarize
from retrofit.sdk.spec import ActionSpec

#: The `workflow.patched` id that guards escalation: a run that failed before this feature existed
#: replays as it ran (ActionFailedError), new runs escalate.
PATCH_ID = "retrofit-failure-escalation-1"


@dataclass(frozen=True)
class Resolution:
    choice: FailureChoice
    by: str
    reason: str
    request_id: str


@dataclass
class _FailureRequest:
    view: ApprovalView
    policy: Policy
    round: int
    resolution: Resolution | None = None
    # Set the moment an answer is accepted, before its audit record is written, so a second
    # answer racing in is refused and the deadline cannot overrule it.
    closing: bool = False


@dataclass
class FailureBook:
    requests: dict[str, _FailureRequest] = field(default_factory=dict)

    def pending(self) -> list[ApprovalView]:
        return [r.view for r in self.requests.values() if r.view.status is ApprovalStatus.PENDING]

    def refusal(self, answer: ResolveFailureRequest) -> str | None:
        """Why this answer cannot be accepted, or None."""
        request = self.requests.get(answer.request_id)
        if request is None:
            known = ", ".join(self.requests) or "none"
            return (
                f"unknown failure request {answer.request_id!r} (failure requests in this workflow: {known})"
            )
        view = request.view
        if view.status is not ApprovalStatus.PENDING or request.closing:
            return f"failure request {answer.request_id} is already resolved ({view.status.value})"
        if answer.choice not in view.choices:
            return (
                f"{answer.choice!r} is not offered for request {answer.request_id} "
                f"(choices: {', '.join(view.choices)})"
            )
        if not request.policy.may_resolve(answer.approver):
            allowed = ", ".join(view.may_approve) or "anyone"
            return f"{answer.approver!r} may not resolve request {answer.request_id} (allowed: {allowed})"
        if answer.choice != "retry" and not answer.reason:
            return f"{answer.choice} needs a reason (it goes to the audit trail and the caller)"
        return None


def failure_book() -> FailureBook:
    from retrofit.gate.state import gate_state

    return gate_state().failures


# --- the handler (installed on every workflow) ---------------------------------------------


def install_failure_handlers() -> None:
    workflow.set_update_handler(RESOLVE_FAILURE_UPDATE, _resolve, validator=_validate_resolve)


def _validate_resolve(payload: Any) -> None:
    answer = _parse(payload)
    problem = failure_book().refusal(answer)
    if problem is not None:
        raise ApplicationError(problem, type="ResolutionRefused", non_retryable=True)


async def _resolve(payload: Any) -> ResolveFailureResult:
    answer = ResolveFailureRequest.model_validate(payload)
    book = failure_book()
    problem = book.refusal(answer)  # again: another answer may have won since validation
    if problem is not None:
        raise ApplicationError(problem, type="ResolutionRefused", non_retryable=True)
    request = book.requests[answer.request_id]
    request.closing = True
    view = request.view
    update = workflow.current_update_info()
    event = workflow_event(
        AuditKind.FAILURE_RESOLVED,
        f"failure_resolved/{request.round}",
        actor=Actor(kind=ActorKind.HUMAN, name=answer.approver),
        step=view.step,
        action=view.action,
        effect=view.effect,
        data={
            "request_id": view.request_id,
            "choice": answer.choice,
            "reason": answer.reason,
            "round": request.round,
            "via": f"update:{RESOLVE_FAILURE_UPDATE}",
        },
    )
    await record_answer(
        event,
        "update",
        RESOLVE_FAILURE_UPDATE,
        update_id=update.id if update else None,
        request_id=view.request_id,
        approver=answer.approver,
    )
    request.resolution = Resolution(answer.choice, answer.approver, answer.reason, view.request_id)
    view.status = ApprovalStatus.RESOLVED
    view.reason = answer.reason
    return ResolveFailureResult(request_id=view.request_id, choice=answer.choice, resolved_by=answer.approver)


def _parse(payload: Any) -> ResolveFailureRequest:
    try:
        return ResolveFailureRequest.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(payload)'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise ApplicationError(
            f"malformed resolve_failure payload: {problems}", type="ResolutionRefused", non_retryable=True
        ) from None


# --- the wait, from the gate ---------------------------------------------------------------


async def escalate_failure(
    spec: ActionSpec,
    step: int,
    args: dict[str, Any],
    round_: int,
    error: str,
    policy: Policy,
    failed: AuditEvent,
) -> Resolution:
    """Record `failed` and the request, wait for a person (or the deadline), return the choice."""
    escalation = policy.failure_escalation
    now = workflow.now()
    request_id = f"fail-{step}-{round_}"
    # Each "retry" answered starts a new round; after max_retries only skip and abort remain.
    choices = [c for c in ALL_CHOICES if c != "retry" or round_ <= escalation.max_retries]
    view = ApprovalView(
        request_id=request_id,
        action=spec.name,
        effect=spec.effect.value,
        step=step,
        arguments=redact(args),
        args_hash=arguments_hash(spec.name, args),
        approvers_needed=1,
        may_approve=[*escalation.allowed_approvers, *(f"group:{g}" for g in escalation.allowed_groups)],
        approved_by=[],
        requested_at=now,
        deadline=now + escalation.timeout,
        kind="failure",
        choices=list(choices),
        error=error,
    )
    request = _FailureRequest(view=view, policy=policy, round=round_)
    escalated = system_event(
        AuditKind.FAILURE_ESCALATED,
        view,
        f"failure_escalated/{round_}",
        {
            "request_id": request_id,
            "round": round_,
            "error": error,
            "choices": view.choices,
            "may_resolve": view.may_approve,
            "deadline": view.deadline.isoformat(),
            "idempotency_key": failed.idempotency_key,
        },
    )
    await record_events([failed, escalated])
    # Answerable (and visible) only once the request is on record, so no answer can land in the
    # audit trail before the request it answers.
    failure_book().requests[request_id] = request
    refresh_details()
    try:
        await workflow.wait_condition(
            lambda: request.resolution is not None, timeout=escalation.timeout.total_seconds()
        )
    except TimeoutError:
        if request.closing:
            # An answer was accepted just before the deadline; let its audit record land.
            await workflow.wait_condition(lambda: request.resolution is not None)
        else:
            request.closing = True
            choice: FailureChoice = escalation.on_timeout
            reason = f"no answer within the deadline; policy on timeout: {choice}"
            await record_events(
                [
                    system_event(
                        AuditKind.FAILURE_RESOLVED,
                        view,
                        f"failure_resolved/{round_}",
                        {"request_id": request_id, "choice": choice, "reason": reason, "round": round_},
                    )
                ]
            )
            request.resolution = Resolution(choice, "(deadline)", reason, request_id)
            view.status = ApprovalStatus.EXPIRED
            view.reason = reason
    resolution = request.resolution
    assert resolution is not None
    refresh_details(
        note=f"Failure request {request_id} for {spec.name}: {resolution.choice} ({resolution.by})."
    )
    return resolution


def outcome_event(
    kind: AuditKind, resolution: Resolution, spec: ActionSpec, step: int, failed: AuditEvent
) -> AuditEvent:
    """The final record of a skipped or aborted call."""
    return workflow_event(
        kind,
        kind.value,
        actor=Actor(kind=ActorKind.HUMAN, name=resolution.by)
        if resolution.by != "(deadline)"
        else Actor(kind=ActorKind.SYSTEM, name="retrofit"),
        step=step,
        action=spec.name,
        effect=spec.effect.value,
        idempotency_key=failed.idempotency_key,
        data={
            "request_id": resolution.request_id,
            "reason": resolution.reason,
            "error": failed.data.get("error", ""),
            "kind": failed.data.get("kind", ""),
        },
    )


# --- current details ---------------------------------------------------------------------


def failure_detail_lines(workflow_id: str) -> list[str]:
    """What waits in this workflow for a failure decision, and exactly how to answer it."""
    lines: list[str] = []
    for view in failure_book().pending():
        example = {
            "request_id": view.request_id,
            "approver": "YOUR NAME",
            "choice": view.choices[0],
            "reason": "why",
        }
        lines += [
            f"### Failed, waiting for a decision: `{view.action}` (step {view.step}, request `{view.request_id}`)",
            f"Error: `{summarize(view.error, 300)}`",
            f"Arguments: `{summarize(view.arguments, 300)}`",
            f"Choices: {' / '.join(view.choices)}; who may answer: {', '.join(view.may_approve) or 'anyone'}. "
            f"Deadline: {view.deadline.strftime('%Y-%m-%d %H:%M:%S')} UTC.",
            f"**Answer in this UI**: Update `{RESOLVE_FAILURE_UPDATE}` with input `{json.dumps(example)}` "
            "(skip and abort need a reason).",
            f"**CLI**: `retrofit resolve {workflow_id} {view.request_id} {'|'.join(view.choices)} "
            "--as YOUR_NAME [--reason TEXT]`",
        ]
    return lines


def refresh_details(note: str = "") -> None:
    # The approvals module renders current details for everything that waits (approvals and
    # failures) so one request never hides another; imported here to keep the import graph flat.
    from retrofit.gate.approvals import show_state

    show_state(note)
