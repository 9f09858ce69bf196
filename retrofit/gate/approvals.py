"""The approval step: a durable wait for people, bound to the exact arguments, with deadlines.

Answers arrive as the `decide` Update (validated before it is accepted) or the `approve` / `reject`
Signals (checked the same way; a refused signal is recorded and ignored). The `pending_approvals`
Query lists what waits. Handlers are installed on every workflow by `RetrofitInterceptor`.

Deterministic: stdlib, pydantic and `temporalio.workflow` only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError
from temporalio import workflow
from temporalio.exceptions import ApplicationError

from retrofit.audit.events import Actor, ActorKind, AuditEvent, AuditKind
from retrofit.gate.approval_metrics import approval_requested, approval_resolved
from retrofit.gate.approval_models import (
    APPROVE_SIGNAL,
    DECIDE_UPDATE,
    PENDING_QUERY,
    REJECT_SIGNAL,
    ApprovalAnswer,
    ApprovalStatus,
    ApprovalView,
    DecideRequest,
    DecideResult,
    arguments_hash,
)
from retrofit.gate.audit_calls import record_answer, record_events, system_event, workflow_event
from retrofit.gate.details import show_details
from retrofit.gate.errors import ActionRejectedError, ApprovalTimedOutError
from retrofit.gate.escalation import failure_book, failure_detail_lines
from retrofit.gate.policy import ApprovalRequirement, Decision, Policy
from retrofit.redaction import redact, summarize
from retrofit.sdk.spec import ActionSpec

Decision_ = Literal["approve", "reject"]


@dataclass
class _Request:
    view: ApprovalView
    requirement: ApprovalRequirement
    policy: Policy  # whose groups say who may answer
    # Set the moment a final answer is accepted, before its audit record is written, so a second
    # answer racing in is refused and the deadline cannot expire a request already decided.
    closing: bool = False
    rejected_by: str = ""


@dataclass
class ApprovalBook:
    requests: dict[str, _Request] = field(default_factory=dict)

    def pending(self) -> list[ApprovalView]:
        return [r.view for r in self.requests.values() if r.view.status is ApprovalStatus.PENDING]

    def refusal(self, answer: ApprovalAnswer, decision: Decision_) -> str | None:
        """Why this answer cannot be accepted, or None."""
        request = self.requests.get(answer.request_id)
        if request is None:
            known = ", ".join(self.requests) or "none"
            return f"unknown approval request {answer.request_id!r} (requests in this workflow: {known})"
        view = request.view
        if view.status is not ApprovalStatus.PENDING or request.closing:
            return f"approval request {answer.request_id} is already decided ({view.status.value})"
        if not request.policy.may_approve(request.requirement, answer.approver, escalated=view.escalated):
            allowed = ", ".join(view.may_approve) or "anyone"
            return f"{answer.approver!r} may not answer request {answer.request_id} (allowed: {allowed})"
        if answer.approver in view.approved_by:
            return (
                f"{answer.approver!r} has already approved request {answer.request_id}; another person must"
            )
        if answer.args_hash is not None and not view.args_hash.startswith(answer.args_hash):
            return (
                f"argument hash {answer.args_hash!r} does not match request {answer.request_id} "
                f"({view.args_hash[:12]}…): the arguments are not the ones you reviewed"
            )
        if decision == "reject" and not answer.reason:
            return "a rejection needs a reason"
        return None


def book() -> ApprovalBook:
    from retrofit.gate.state import gate_state

    return gate_state().approvals


# --- handlers (installed on every workflow) --------------------------------------------------


def install_approval_handlers() -> None:
    workflow.set_query_handler(PENDING_QUERY, _pending)
    workflow.set_update_handler(DECIDE_UPDATE, _decide, validator=_validate_decide)
    workflow.set_signal_handler(APPROVE_SIGNAL, _approve_signal)
    workflow.set_signal_handler(REJECT_SIGNAL, _reject_signal)


def _pending() -> list[ApprovalView]:
    # Failed actions waiting for retry/skip/abort too (kind "failure"): one list of what waits.
    return [*book().pending(), *failure_book().pending()]


def _validate_decide(payload: Any) -> None:
    request = _parse(DecideRequest, payload)
    problem = book().refusal(request, request.decision)
    if problem is not None:
        raise ApplicationError(problem, type="ApprovalRefused", non_retryable=True)


async def _decide(payload: Any) -> DecideResult:
    request = DecideRequest.model_validate(payload)
    update = workflow.current_update_info()
    return await _apply(request, request.decision, "update", DECIDE_UPDATE, update.id if update else None)


async def _approve_signal(payload: Any) -> None:
    await _on_signal(payload, "approve", APPROVE_SIGNAL)


async def _reject_signal(payload: Any) -> None:
    await _on_signal(payload, "reject", REJECT_SIGNAL)


async def _on_signal(payload: Any, decision: Decision_, name: str) -> None:
    try:
        answer = _parse(ApprovalAnswer, payload)
        problem = book().refusal(answer, decision)
    except ApplicationError as exc:
        answer, problem = None, exc.message
    if problem is None and answer is not None:
        await _apply(answer, decision, "signal", name, None)
        return
    # Refused signals cannot be answered to their sender: record them so ops can see them.
    step = _step_of(answer.request_id if answer else "")
    refused = workflow_event(
        AuditKind.APPROVAL_REFUSED,
        f"refused/{_signal_seq()}",
        actor=Actor(kind=ActorKind.HUMAN, name=answer.approver if answer else "(unparseable)"),
        step=step or None,
        data={"signal": name, "problem": problem, "payload": _payload_excerpt(payload)},
    )
    await record_answer(
        refused,
        "signal",
        name,
        request_id=answer.request_id if answer else "",
        approver=answer.approver if answer else "",
    )


async def _apply(
    answer: ApprovalAnswer,
    decision: Decision_,
    via: Literal["update", "signal"],
    name: str,
    update_id: str | None,
) -> DecideResult:
    request = book().requests[answer.request_id]
    view = request.view
    if decision == "approve":
        view.approved_by.append(answer.approver)
        final = len(view.approved_by) >= view.approvers_needed
        kind = AuditKind.APPROVAL_GRANTED
        suffix = f"approved/{len(view.approved_by)}"
    else:
        final = True
        kind = AuditKind.APPROVAL_REJECTED
        suffix = "rejected"
    request.closing = final
    event = workflow_event(
        kind,
        suffix,
        actor=Actor(kind=ActorKind.HUMAN, name=answer.approver),
        step=view.step,
        action=view.action,
        effect=view.effect,
        data={
            "request_id": view.request_id,
            "decision": decision,
            "reason": answer.reason,
            "args_hash": view.args_hash,
            "approved_by": list(view.approved_by),
            "approvers_needed": view.approvers_needed,
            "via": f"{via}:{name}",
        },
    )
    await record_answer(
        event, via, name, update_id=update_id, request_id=view.request_id, approver=answer.approver
    )
    if final:
        view.status = ApprovalStatus.APPROVED if decision == "approve" else ApprovalStatus.REJECTED
        view.reason = answer.reason
        request.rejected_by = answer.approver if decision == "reject" else ""
    _show_state()
    return DecideResult(
        request_id=view.request_id,
        status=view.status,
        approved_by=list(view.approved_by),
        approvers_needed=view.approvers_needed,
    )


# --- the wait, from run_action --------------------------------------------------------------


async def await_approval(
    spec: ActionSpec,
    step: int,
    args: dict[str, Any],
    decision: Decision,
    policy: Policy,
    proposed: AuditEvent,
) -> list[str]:
    """Wait for the approvals `decision` asks for; return the approvers, or raise on rejection."""
    requirement = decision.approval or ApprovalRequirement()
    now = workflow.now()
    request_id = f"apr-{step}"
    view = ApprovalView(
        request_id=request_id,
        action=spec.name,
        effect=spec.effect.value,
        step=step,
        arguments=redact(args),
        args_hash=arguments_hash(spec.name, args),
        approvers_needed=requirement.approvers_needed,
        may_approve=_who(requirement.allowed_approvers, requirement.allowed_groups),
        approved_by=[],
        requested_at=now,
        deadline=now + requirement.timeout,
    )
    request = _Request(view=view, requirement=requirement, policy=policy)
    await record_events(
        [
            proposed,
            system_event(
                AuditKind.APPROVAL_REQUESTED,
                view,
                "approval_requested",
                {
                    "request_id": request_id,
                    "args_hash": view.args_hash,
                    "decision": decision.model_dump(mode="json"),
                    "deadline": view.deadline.isoformat(),
                },
            ),
        ]
    )
    # Answerable (and visible to the query and the UI) only once the request is on record, so
    # no answer can land in the audit trail before the request it answers.
    book().requests[request_id] = request
    approval_requested(spec.name)
    _show_state()

    while True:
        remaining = view.deadline - workflow.now()
        try:
            await workflow.wait_condition(
                lambda: view.status is not ApprovalStatus.PENDING,
                timeout=max(remaining.total_seconds(), 0.001),
            )
            break
        except TimeoutError:
            if request.closing:
                # An answer was accepted just before the deadline; let its audit record land.
                await workflow.wait_condition(lambda: view.status is not ApprovalStatus.PENDING)
                break
            if requirement.on_timeout == "escalate" and not view.escalated:
                view.escalated = True
                view.may_approve = _who((), requirement.escalate_to)
                view.deadline = workflow.now() + requirement.escalation_timeout
                await record_events(
                    [
                        system_event(
                            AuditKind.APPROVAL_ESCALATED,
                            view,
                            "escalated",
                            {
                                "request_id": request_id,
                                "escalated_to": view.may_approve,
                                "deadline": view.deadline.isoformat(),
                            },
                        )
                    ]
                )
                _show_state()
                continue
            view.status = ApprovalStatus.EXPIRED
            approval_resolved(spec.name, view.status.value, workflow.now() - view.requested_at)
            outcome = "fail" if requirement.on_timeout == "fail" else "reject"
            view.reason = f"no approval within the deadline; policy on timeout: {outcome}"
            await record_events(
                [
                    system_event(
                        AuditKind.APPROVAL_EXPIRED,
                        view,
                        "expired",
                        {"request_id": request_id, "outcome": outcome},
                    )
                ]
            )
            _show_state(note=f"Request {request_id} for {spec.name} expired ({outcome}).")
            if outcome == "fail":
                raise ApprovalTimedOutError(
                    f"{spec.name}: {view.reason}", action=spec.name, step=step, request_id=request_id
                ) from None
            raise ActionRejectedError(
                f"{spec.name} not approved: {view.reason}",
                action=spec.name,
                step=step,
                reason=view.reason,
                rejected_by="(deadline)",
            ) from None

    approval_resolved(spec.name, view.status.value, workflow.now() - view.requested_at)
    if view.status is ApprovalStatus.REJECTED:
        _show_state(
            note=f"Request {request_id} for {spec.name} rejected by {request.rejected_by}: {view.reason}"
        )
        raise ActionRejectedError(
            f"{spec.name} rejected by {request.rejected_by}: {view.reason}",
            action=spec.name,
            step=step,
            reason=view.reason,
            rejected_by=request.rejected_by,
        )
    _show_state(note=f"Request {request_id} for {spec.name} approved by {', '.join(view.approved_by)}.")
    return list(view.approved_by)


def _show_state(note: str = "") -> None:
    """Current details: what waits, and exactly how to answer it (markdown, shown by the UI)."""
    info = workflow.info()
    pending = book().pending()
    lines = [note] if note else []
    failures = failure_detail_lines(info.workflow_id)
    if not pending and not failures:
        if lines:
            show_details("\n\n".join(lines))
        return
    for view in pending:
        example = {
            "request_id": view.request_id,
            "approver": "YOUR NAME",
            "reason": "why",
            "args_hash": view.args_hash[:12],
        }
        lines += [
            f"### Waiting for approval: `{view.action}` (step {view.step}, request `{view.request_id}`)",
            f"Arguments: `{summarize(view.arguments, 300)}`",
            f"Needs {view.approvers_needed} approval(s) from {', '.join(view.may_approve) or 'anyone'}"
            f"{' (escalated)' if view.escalated else ''}; approved so far: {', '.join(view.approved_by) or 'nobody'}.",
            f"Deadline: {view.deadline.strftime('%Y-%m-%d %H:%M:%S')} UTC. Argument hash: `{view.args_hash[:12]}`",
            "**Answer in this UI**: Send Signal `approve` or `reject` with input "
            f"`{json.dumps(example)}` (a rejection needs a reason), "
            f'or Update `decide` with the same plus `"decision": "approve"` or `"reject"`.',
            f"**CLI**: `retrofit approvals approve {info.workflow_id} {view.request_id} --as YOUR_NAME` "
            f"or `retrofit approvals reject {info.workflow_id} {view.request_id} --as YOUR_NAME --reason TEXT`",
        ]
    show_details("\n\n".join([*lines, *failures]))


def show_state(note: str = "") -> None:
    """Current details for everything that waits (approvals and failed actions)."""
    _show_state(note)


def _who(names: tuple[str, ...], groups: tuple[str, ...]) -> list[str]:
    return [*names, *(f"group:{g}" for g in groups)]


def _parse(model: type[ApprovalAnswer], payload: Any) -> Any:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(payload)'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise ApplicationError(f"malformed approval payload: {problems}", type="ApprovalRefused") from None


def _payload_excerpt(payload: Any) -> Any:
    text = summarize(
        payload if isinstance(payload, dict | list | str | int | float | bool) else str(payload), 300
    )
    return text


def _step_of(request_id: str) -> int:
    request = book().requests.get(request_id)
    return request.view.step if request else 0


def _signal_seq() -> int:
    from retrofit.gate.state import gate_state

    state = gate_state()
    state.refused_signals += 1
    return state.refused_signals
