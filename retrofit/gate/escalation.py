"""Escalation of an action that failed past its retry budget: a person chooses retry, skip or abort.

The gate calls `escalate_failure` instead of raising `ActionFailedError` when the policy (or the
caller's `on_failure=`) says "escalate". The request is an approval-like wait: it shows in the
workflow's current details and in the `pending_approvals` Query (`kind = "failure"`), and is
answered with the `resolve_failure` Update, signed like an approval (`retrofit.gate.answer_identity`:
the assertion binds workflow, request, argument hash and the choice). Unknown or already-resolved
requests, a choice not offered, an unverified, replayed or wrongly-bound answer, a person the policy
does not allow, skip/abort without a reason are refused — recorded as `approval.refused` and the
Update fails with `ResolutionRefused`. The CLI sends the same Update (`retrofit resolve`).

    retry -> the gate runs the action again: same step and idempotency key (the legacy system
             never doubles the effect), a fresh attempt budget (round n+1)
    skip  -> `ActionSkippedError` (the workflow may go on without the result)
    abort -> `ActionFailedError`, as without escalation

Deadline: the policy's `failure_escalation.timeout`, then its `on_timeout` (abort or skip).
Every request, answer and outcome lands in the audit trail.

Deterministic: stdlib, pydantic and `temporalio.workflow` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from retrofit.audit.events import Actor, ActorKind, AuditEvent, AuditKind
from retrofit.gate.answer_identity import (
    Answerer,
    AnswerRefused,
    accept,
    answer_context,
    identify,
    may_answer,
    verified_identity_in_force,
    within_cap,
)
from retrofit.gate.approval_models import ApprovalStatus, ApprovalView, arguments_hash
from retrofit.gate.audit_calls import record_answer, record_events, system_event, workflow_event
from retrofit.gate.failure_models import (
    ALL_CHOICES,
    RESOLVE_FAILURE_UPDATE,
    FailureChoice,
    LegacyResolveFailureRequest,
    ResolveFailureRequest,
    ResolveFailureResult,
)
from retrofit.gate.policy import Policy
from retrofit.gate.refusal import refusal
from retrofit.redaction import redact, summarize
from retrofit.sdk.spec import ActionSpec

#: The `workflow.patched` id that guards escalation: a run that failed before this feature existed
#: replays as it ran (ActionFailedError), new runs escalate.
PATCH_ID = "retrofit-failure-escalation-1"
_REFUSED = "ResolutionRefused"


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

    def check(self, answer: ResolveFailureRequest) -> Answerer:
        """The person this answer counts for, or `AnswerRefused` saying why it does not count."""
        request = self.requests.get(answer.request_id)
        if request is None:
            known = ", ".join(self.requests) or "none"
            raise AnswerRefused(
                f"unknown failure request {answer.request_id!r} (failure requests in this workflow: {known})"
            )
        view = request.view
        if view.status is not ApprovalStatus.PENDING or request.closing:
            raise AnswerRefused(
                f"failure request {answer.request_id} is already resolved ({view.status.value})"
            )
        if answer.choice not in view.choices:
            raise AnswerRefused(
                f"{answer.choice!r} is not offered for request {answer.request_id} "
                f"(choices: {', '.join(view.choices)})"
            )
        context = answer_context()
        answerer = identify(
            answer, answer.choice, request_id=view.request_id, args_hash=view.args_hash, context=context
        )
        escalation = request.policy.failure_escalation
        if not may_answer(
            answerer, escalation.allowed_approvers, escalation.allowed_groups, context.operator_groups
        ):
            allowed = ", ".join(view.may_approve) or "anyone"
            raise AnswerRefused(
                f"{answerer.display!r} may not resolve request {answer.request_id} (allowed: {allowed})",
                answerer,
            )
        if answer.choice != "retry" and not answer.reason:
            raise AnswerRefused(
                f"{answer.choice} needs a reason (it goes to the audit trail and the caller)", answerer
            )
        return answerer

    def legacy_refusal(self, answer: LegacyResolveFailureRequest) -> bool:
        """Whether the checks before verified identity refused it (replaying old histories)."""
        request = self.requests.get(answer.request_id)
        return request is None or request.view.status is not ApprovalStatus.PENDING or request.closing


def identity_fields() -> dict[str, str]:
    from retrofit.gate.approvals import view_identity_fields

    return view_identity_fields()


def failure_book() -> FailureBook:
    from retrofit.gate.state import gate_state

    return gate_state().failures


# --- the handler (installed on every workflow) ---------------------------------------------


def install_failure_handlers() -> None:
    workflow.set_update_handler(RESOLVE_FAILURE_UPDATE, _resolve, validator=_validate_resolve)


def _validate_resolve(payload: Any) -> None:
    """Reject what does not parse (and, past the refusal cap, any refused answer); a well-formed
    answer that is refused is accepted, so the handler records the refusal before failing it."""
    from retrofit.gate.approvals import parse_answer

    try:
        answer = parse_answer(ResolveFailureRequest, payload, _REFUSED, RESOLVE_FAILURE_UPDATE)
    except ApplicationError as malformed:
        if within_cap():
            return  # accepted, so the handler records the refusal (a rejected Update leaves none)
        raise refusal(
            f"{malformed.message} (too many refused answers in this run: no longer recorded)", _REFUSED
        ) from None
    if within_cap():
        return
    try:
        failure_book().check(answer)
    except AnswerRefused as refused:
        raise refusal(
            f"{refused.message} (too many refused answers in this run: no longer recorded)", _REFUSED
        ) from None


async def _resolve(payload: Any) -> ResolveFailureResult:
    from retrofit.gate.approvals import parse_answer, payload_digest, record_refusal

    update = workflow.current_update_info()
    update_id = update.id if update else None
    book = failure_book()
    if not verified_identity_in_force():
        legacy = LegacyResolveFailureRequest.model_validate(payload)
        if book.legacy_refusal(legacy):
            raise refusal("already resolved", _REFUSED)
        who = Answerer(subject=legacy.approver, verified=False, claimed=legacy.approver, legacy=True)
        return await _accept(book, legacy.request_id, legacy.choice, legacy.reason, who, update_id, "")
    try:
        answer = parse_answer(ResolveFailureRequest, payload, _REFUSED, RESOLVE_FAILURE_UPDATE)
    except ApplicationError as malformed:  # let through by the validator to be recorded here
        raw = payload.get("request_id") if isinstance(payload, dict) else None
        request_id = raw.strip()[:64] if isinstance(raw, str) else ""
        refused = AnswerRefused(malformed.message)
        await record_refusal(refused, payload, "update", RESOLVE_FAILURE_UPDATE, request_id, update_id)
        raise refusal(malformed.message, _REFUSED) from None
    try:
        answerer = book.check(answer)
    except AnswerRefused as refused:
        await record_refusal(refused, payload, "update", RESOLVE_FAILURE_UPDATE, answer.request_id, update_id)
        raise refusal(refused.message, _REFUSED) from None
    return await _accept(
        book, answer.request_id, answer.choice, answer.reason, answerer, update_id, payload_digest(payload)
    )


async def _accept(
    book: FailureBook,
    request_id: str,
    choice: FailureChoice,
    reason: str,
    answerer: Answerer,
    update_id: str | None,
    digest: str,
) -> ResolveFailureResult:
    request = book.requests[request_id]
    request.closing = True
    accept(answerer)
    view = request.view
    event = workflow_event(
        AuditKind.FAILURE_RESOLVED,
        f"failure_resolved/{request.round}",
        actor=Actor(kind=ActorKind.HUMAN, name=answerer.display),
        step=view.step,
        action=view.action,
        effect=view.effect,
        data={
            "request_id": view.request_id,
            "choice": choice,
            "reason": reason,
            "round": request.round,
            "via": f"update:{RESOLVE_FAILURE_UPDATE}",
            "identity": answerer.record(),
        },
    )
    await record_answer(
        event,
        "update",
        RESOLVE_FAILURE_UPDATE,
        update_id=update_id,
        request_id=view.request_id,
        approver=answerer.claimed,
        payload_sha256=digest,
    )
    request.resolution = Resolution(choice, answerer.display, reason, view.request_id)
    view.status = ApprovalStatus.RESOLVED
    view.reason = reason
    return ResolveFailureResult(
        request_id=view.request_id,
        choice=choice,
        resolved_by=answerer.display,
        outcome_note=view.outcome_note,
    )


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
        outcome=str(failed.data.get("outcome", "")),
        outcome_note=str(failed.data.get("outcome_message", "")),
        **identity_fields(),
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
            # "unknown" when an attempt's answer was lost: the write may have landed.
            **_outcome_of(failed),
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
            # What is known about the effect: a skip or abort after a lost answer is not "nothing
            # happened" (retrofit.gate.outcomes).
            **_outcome_of(failed),
        },
    )


def _outcome_of(failed: AuditEvent) -> dict[str, Any]:
    return {k: failed.data[k] for k in ("outcome", "outcome_message") if k in failed.data}


# --- current details ---------------------------------------------------------------------


def failure_detail_lines(workflow_id: str) -> list[str]:
    """What waits in this workflow for a failure decision, and exactly how to answer it."""
    lines: list[str] = []
    from retrofit.gate.approvals import answer_lines

    for view in failure_book().pending():
        lines += [
            f"### Failed, waiting for a decision: `{view.action}` (step {view.step}, request `{view.request_id}`)",
            f"Error: `{summarize(view.error, 300)}`",
            # On its own line, so a long error cannot push "the write may have landed" out of view.
            *([f"**Outcome**: {view.outcome_note}"] if view.outcome_note else []),
            f"Arguments: `{summarize(view.arguments, 300)}`",
            f"Choices: {' / '.join(view.choices)}; who may answer: {', '.join(view.may_approve) or 'anyone'}. "
            f"Deadline: {view.deadline.strftime('%Y-%m-%d %H:%M:%S')} UTC.",
            f"Argument hash: `{view.args_hash}`",
            *answer_lines(view, workflow_id),
        ]
    return lines


def refresh_details(note: str = "") -> None:
    # The approvals module renders current details for everything that waits (approvals and
    # failures) so one request never hides another; imported here to keep the import graph flat.
    from retrofit.gate.approvals import show_state

    show_state(note)
