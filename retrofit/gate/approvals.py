"""The approval step: a durable wait for people, bound to the exact arguments, with deadlines.

Answers arrive as the `decide` Update or the `approve` / `reject` Signals. Each counts only for
the verified person who signed it (`retrofit.gate.answer_identity`): a signed assertion bound to
this workflow, request, full argument hash and decision. The `pending_approvals` Query lists what
waits. Handlers are installed on every workflow by `RetrofitInterceptor`.

Refused answers are audited on both paths. The Update validator rejects only payloads that do
not parse (and, past `REFUSAL_CAP` recorded refusals in a run, any refused answer): a well-formed
answer that is refused is accepted as an Update, recorded as `approval.refused`, and fails with
`ApplicationError(type="ApprovalRefused")`, so the sender sees why. A refused Signal is recorded
and ignored.

Deterministic: stdlib, pydantic and `temporalio.workflow` only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.exceptions import ApplicationError

from retrofit.audit.events import Actor, ActorKind, AuditEvent, AuditKind
from retrofit.gate.answer_identity import (
    AnswerContext,
    Answerer,
    AnswerRefused,
    accept,
    answer_context,
    count_refusal,
    identify,
    may_answer,
    requests_verified,
    started_by,
    verified_identity_in_force,
    within_cap,
)
from retrofit.gate.approval_metrics import approval_requested, approval_resolved
from retrofit.gate.approval_models import (
    APPROVE_SIGNAL,
    DECIDE_UPDATE,
    PENDING_QUERY,
    REJECT_SIGNAL,
    UNVERIFIED_LABEL,
    ApprovalAnswer,
    ApprovalStatus,
    ApprovalView,
    DecideRequest,
    DecideResult,
    LegacyApprovalAnswer,
    LegacyDecideRequest,
    SignedAnswer,
    arguments_hash,
)
from retrofit.gate.audit_calls import record_answer, record_events, system_event, workflow_event
from retrofit.gate.details import record_decision, show_details
from retrofit.gate.errors import ActionRejectedError, ApprovalTimedOutError
from retrofit.gate.escalation import failure_book, failure_detail_lines
from retrofit.gate.policy import ApprovalRequirement, Decision, Policy
from retrofit.gate.refusal import refusal
from retrofit.gate.search_attributes import publish
from retrofit.identity.pin import IdentityMode
from retrofit.redaction import redact, summarize
from retrofit.sdk.spec import ActionSpec

Decision_ = Literal["approve", "reject"]
SignedAnswerT = TypeVar("SignedAnswerT", bound=BaseModel)


@dataclass
class _Request:
    view: ApprovalView
    requirement: ApprovalRequirement
    policy: Policy  # the requirement's policy (legacy replay only: who may answer by name)
    # Set the moment a final answer is accepted, before its audit record is written, so a second
    # answer racing in is refused and the deadline cannot expire a request already decided.
    closing: bool = False
    rejected_by: str = ""
    # The normalised subjects that approved: the two-person rule and "already approved" compare
    # these (view.approved_by holds how they are shown).
    approved_subjects: list[str] = field(default_factory=list)


@dataclass
class ApprovalBook:
    requests: dict[str, _Request] = field(default_factory=dict)

    def pending(self) -> list[ApprovalView]:
        return [r.view for r in self.requests.values() if r.view.status is ApprovalStatus.PENDING]

    def check(
        self, answer: SignedAnswer, decision: Decision_, context: AnswerContext | None = None
    ) -> Answerer:
        """The person this answer counts for, or `AnswerRefused` saying why it does not count.
        Pure given `context` (default: this workflow's)."""
        request = self._open(answer.request_id)
        view = request.view
        context = context or answer_context()
        answerer = identify(
            answer, decision, request_id=view.request_id, args_hash=view.args_hash, context=context
        )
        names, groups = (
            ((), request.requirement.escalate_to)
            if view.escalated
            else (request.requirement.allowed_approvers, request.requirement.allowed_groups)
        )
        if not may_answer(answerer, names, groups, context.operator_groups):
            allowed = ", ".join(view.may_approve) or "anyone"
            raise AnswerRefused(
                f"{answerer.display!r} may not answer request {view.request_id} (allowed: {allowed})",
                answerer,
            )
        starter = context.starter
        if starter.verified and starter.subject == answerer.subject:
            raise AnswerRefused(
                f"{answerer.display!r} started this workflow and may not answer its own request "
                f"{view.request_id}; another person must",
                answerer,
            )
        if answerer.subject in request.approved_subjects:
            raise AnswerRefused(
                f"{answerer.display!r} has already approved request {view.request_id}; another person must",
                answerer,
            )
        if decision == "reject" and not answer.reason:
            raise AnswerRefused("a rejection needs a reason", answerer)
        return answerer

    def _open(self, request_id: str) -> _Request:
        request = self.requests.get(request_id)
        if request is None:
            known = ", ".join(self.requests) or "none"
            raise AnswerRefused(
                f"unknown approval request {request_id!r} (requests in this workflow: {known})"
            )
        if request.view.status is not ApprovalStatus.PENDING or request.closing:
            raise AnswerRefused(
                f"approval request {request_id} is already decided ({request.view.status.value})"
            )
        return request

    def legacy_refusal(self, answer: LegacyApprovalAnswer, decision: Decision_) -> str | None:
        """The checks as they were before verified identity: replaying old histories only."""
        request = self.requests.get(answer.request_id)
        if request is None:
            return "unknown approval request"
        view = request.view
        if view.status is not ApprovalStatus.PENDING or request.closing:
            return "already decided"
        if not request.policy.may_approve(request.requirement, answer.approver, escalated=view.escalated):
            return "may not answer"
        if answer.approver in request.approved_subjects:
            return "already approved"
        if answer.args_hash is not None and not view.args_hash.startswith(answer.args_hash):
            return "argument hash does not match"
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
    """Reject what does not parse; accept every well-formed answer, so that a refusal is
    recorded by the handler (a rejected Update never reaches history). Past the cap, a refused
    answer is rejected here, unrecorded."""
    try:
        request = parse_answer(DecideRequest, payload, "ApprovalRefused")
    except ApplicationError as malformed:
        if within_cap():
            return  # accepted, so the handler records the refusal (a rejected Update leaves none)
        raise refusal(
            f"{malformed.message} (too many refused answers in this run: no longer recorded)",
            "ApprovalRefused",
        ) from None
    if within_cap():
        return
    try:
        book().check(request, request.decision)
    except AnswerRefused as refused:
        raise refusal(
            f"{refused.message} (too many refused answers in this run: no longer recorded)", "ApprovalRefused"
        ) from None


async def _decide(payload: Any) -> DecideResult:
    update = workflow.current_update_info()
    update_id = update.id if update else None
    if not verified_identity_in_force():
        legacy = LegacyDecideRequest.model_validate(payload)
        who = _legacy_answerer(legacy.approver)
        return await _apply(
            legacy.request_id, legacy.reason, who, legacy.decision, "update", DECIDE_UPDATE, update_id, ""
        )
    try:
        request = parse_answer(DecideRequest, payload, "ApprovalRefused")
    except ApplicationError as malformed:  # let through by the validator to be recorded here
        # (after the legacy branch: a run replaying a pre-identity answer never gets here)
        refused = AnswerRefused(malformed.message)
        await record_refusal(refused, payload, "update", DECIDE_UPDATE, _request_id_in(payload), update_id)
        raise refusal(malformed.message, "ApprovalRefused") from None
    await _pin_for(request.request_id)
    try:
        answerer = book().check(request, request.decision)
    except AnswerRefused as refused:
        await record_refusal(refused, payload, "update", DECIDE_UPDATE, request.request_id, update_id)
        raise refusal(refused.message, "ApprovalRefused") from None
    return await _apply(
        request.request_id,
        request.reason,
        answerer,
        request.decision,
        "update",
        DECIDE_UPDATE,
        update_id,
        payload_digest(payload),
    )


async def _approve_signal(payload: Any) -> None:
    await _on_signal(payload, "approve", APPROVE_SIGNAL)


async def _reject_signal(payload: Any) -> None:
    await _on_signal(payload, "reject", REJECT_SIGNAL)


async def _on_signal(payload: Any, decision: Decision_, name: str) -> None:
    if not verified_identity_in_force():
        await _legacy_signal(payload, decision, name)
        return
    request_id = payload.get("request_id") if isinstance(payload, dict) else None
    if isinstance(request_id, str):
        await _pin_for(request_id.strip())
    answer: ApprovalAnswer | None = None
    try:
        answer = parse_answer(ApprovalAnswer, payload, "ApprovalRefused")
        if answer.decision is not None and answer.decision != decision:
            raise AnswerRefused(f"the `{name}` signal cannot carry decision {answer.decision!r}")
        answerer = book().check(answer, decision)
    except ApplicationError as exc:
        refused = AnswerRefused(exc.message)
    except AnswerRefused as exc:
        refused = exc
    else:
        digest = payload_digest(payload)
        await _apply(answer.request_id, answer.reason, answerer, decision, "signal", name, None, digest)
        return
    # A refused signal cannot be answered to its sender: recorded (up to the cap) and ignored.
    if within_cap():
        await record_refusal(refused, payload, "signal", name, answer.request_id if answer else "", None)


async def _pin_for(request_id: str) -> None:
    """A request created before this run pinned anything (a run that began before verified
    identity) gets the pin now; every newer request pinned it when it became answerable."""
    from retrofit.gate.state import gate_state, pinned_policy

    if gate_state().policy is None and request_id in book().requests:
        await pinned_policy()


async def record_refusal(
    refused: AnswerRefused,
    payload: Any,
    via: Literal["update", "signal"],
    name: str,
    request_id: str,
    update_id: str | None,
) -> None:
    """`approval.refused`: who claimed what, the verified subject if any, why — never the token."""
    seq = count_refusal()
    who = refused.answerer
    if who is None:
        actor_name = "(unverified)"
    elif who.verified:
        actor_name = who.subject
    else:
        actor_name = f"{who.claimed or who.subject} (claimed, unverified)"
    data: dict[str, Any] = {
        "update" if via == "update" else "signal": name,
        "request_id": request_id,
        "problem": refused.message,
        "identity": who.record() if who else {"verified": False},
        "payload": _payload_excerpt(payload),
    }
    event = workflow_event(
        AuditKind.APPROVAL_REFUSED,
        f"refused-answer/{seq}",
        actor=Actor(kind=ActorKind.HUMAN, name=actor_name),
        step=_step_of(request_id) or None,
        data=data,
    )
    # The last refusal and why, where the person looks (the current details).
    setattr(
        workflow.instance(),
        _LAST_REFUSAL,
        f"**Last refused answer** ({via} `{name}`, {actor_name}): {refused.message}",
    )
    _show_state()
    await record_answer(
        event,
        via,
        name,
        update_id=update_id,
        request_id=request_id,
        approver=who.claimed if who else "",
        payload_sha256=payload_digest(payload),
    )


async def _legacy_signal(payload: Any, decision: Decision_, name: str) -> None:
    """A signal in a history recorded before verified identity: decided as it was then."""
    try:
        answer: LegacyApprovalAnswer | None = LegacyApprovalAnswer.model_validate(payload)
    except ValidationError:
        answer = None
    problem = "malformed approval payload" if answer is None else book().legacy_refusal(answer, decision)
    if problem is None and answer is not None:
        who = _legacy_answerer(answer.approver)
        await _apply(answer.request_id, answer.reason, who, decision, "signal", name, None, "")
        return
    refused = workflow_event(
        AuditKind.APPROVAL_REFUSED,
        f"refused/{_signal_seq()}",
        actor=Actor(kind=ActorKind.HUMAN, name=answer.approver if answer else "(unparseable)"),
        step=_step_of(answer.request_id if answer else "") or None,
        data={"signal": name, "problem": problem, "payload": _payload_excerpt(payload)},
    )
    await record_answer(
        refused,
        "signal",
        name,
        request_id=answer.request_id if answer else "",
        approver=answer.approver if answer else "",
    )


def _legacy_answerer(name: str) -> Answerer:
    # Compared exactly as typed, as the checks then did.
    return Answerer(subject=name, verified=False, claimed=name, legacy=True)


async def _apply(
    request_id: str,
    reason: str,
    answerer: Answerer,
    decision: Decision_,
    via: Literal["update", "signal"],
    name: str,
    update_id: str | None,
    digest: str,
) -> DecideResult:
    request = book().requests[request_id]
    view = request.view
    accept(answerer)
    if decision == "approve":
        request.approved_subjects.append(answerer.subject)
        view.approved_by.append(answerer.display)
        final = len(request.approved_subjects) >= view.approvers_needed
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
        actor=Actor(kind=ActorKind.HUMAN, name=answerer.display),
        step=view.step,
        action=view.action,
        effect=view.effect,
        data={
            "request_id": view.request_id,
            "decision": decision,
            "reason": reason,
            "args_hash": view.args_hash,
            "approved_by": list(view.approved_by),
            "approvers_needed": view.approvers_needed,
            "via": f"{via}:{name}",
            "identity": answerer.record(),
            "requested_by": view.started_by,
        },
    )
    await record_answer(
        event,
        via,
        name,
        update_id=update_id,
        request_id=view.request_id,
        approver=answerer.claimed,
        payload_sha256=digest,
    )
    if final:
        view.status = ApprovalStatus.APPROVED if decision == "approve" else ApprovalStatus.REJECTED
        view.reason = reason
        request.rejected_by = answerer.display if decision == "reject" else ""
    _show_state()
    return DecideResult(
        request_id=view.request_id,
        status=view.status,
        approved_by=list(view.approved_by),
        approvers_needed=view.approvers_needed,
        answered_as=answerer.display,
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
    verified_identity = requests_verified()
    if verified_identity:
        from retrofit.gate.state import pinned_policy

        # Pinned before the request becomes answerable: answers are verified with the keys of
        # the operator's snapshot, even when the workflow passed its own policy to the gate.
        await pinned_policy()
    starter = started_by() if verified_identity else None
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
        **(view_identity_fields() if starter else {}),
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
                    **({"started_by": starter.record()} if starter else {}),
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
            record_decision(f"`{spec.name}` (step {step}): not approved within the deadline ({outcome})")
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
        record_decision(
            f"`{spec.name}` (step {step}, {view.effect.upper()}): rejected by {request.rejected_by}: {view.reason}"
        )
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
    record_decision(
        f"`{spec.name}` (step {step}, {view.effect.upper()}): approved by {', '.join(view.approved_by)}"
    )
    _show_state(note=f"Request {request_id} for {spec.name} approved by {', '.join(view.approved_by)}.")
    return list(view.approved_by)


def _show_state(note: str = "") -> None:
    """Current details: what waits, and exactly how to answer it (markdown, shown by the UI)."""
    info = workflow.info()
    pending = book().pending()
    _publish_search_attributes([*pending, *failure_book().pending()])
    lines = [note] if note else []
    failures = failure_detail_lines(info.workflow_id)
    if not pending and not failures:
        if lines:
            show_details("\n\n".join(lines))
        return
    for view in pending:
        lines += [
            f"### Waiting for approval: `{view.action}` (step {view.step}, request `{view.request_id}`)",
            # What approving does, in the words of the connector's declaration (never the model's).
            f"Effect: **{view.effect.upper()}**"
            + (" — irreversible; needs two different people." if view.effect == "destructive" else "."),
            f"Arguments: `{summarize(view.arguments, 300)}`",
            f"Needs {view.approvers_needed} approval(s) from {', '.join(view.may_approve) or 'anyone'}"
            f"{' (escalated)' if view.escalated else ''}; approved so far: {', '.join(view.approved_by) or 'nobody'}.",
            *_group_lines(view.may_approve),
            f"Started by: {view.started_by or 'unverified'} (who started it may not approve it). "
            f"Deadline: {view.deadline.strftime('%Y-%m-%d %H:%M:%S')} UTC.",
            f"Argument hash: `{view.args_hash}`",
            *answer_lines(view, info.workflow_id),
        ]
    last = getattr(workflow.instance(), _LAST_REFUSAL, "")
    show_details("\n\n".join([*lines, *failures, *([last] if last else [])]))


_LAST_REFUSAL = "_retrofit_last_refusal"


def _group_lines(may_approve: list[str]) -> list[str]:
    """Who is in each approver group: the operator's table, else where the members are kept."""
    from retrofit.gate.state import operator_groups

    table = operator_groups()
    lines = []
    for group in (w[len("group:") :] for w in may_approve if w.startswith("group:")):
        members = table.get(group, ())
        lines.append(
            f"Group `{group}`: {', '.join(members)} (operator's table), and anyone the identity service "
            "verifies in that group."
            if members
            else f"Group `{group}`: its members are the identity service's directory "
            f"(`retrofit identity` on the identity host lists who is in `{group}`)."
        )
    return lines


def _publish_search_attributes(views: list[ApprovalView]) -> None:
    """The list's columns and filters (only the attributes the worker found registered)."""
    from retrofit.gate.routing import PolicySnapshot
    from retrofit.gate.state import gate_state

    snapshot = gate_state().policy
    registered = snapshot.search_attributes if isinstance(snapshot, PolicySnapshot) else []
    starters = {v.started_by for v in views if v.started_by}
    publish(registered, views, next(iter(starters)) if len(starters) == 1 else None)


def answer_lines(view: ApprovalView, workflow_id: str) -> list[str]:
    """How to answer `view`: the exact JSON to paste, where to log in, the CLI line."""
    unverified = view.identity == UNVERIFIED_LABEL
    example: dict[str, str] = {
        "workflow_id": workflow_id,
        "request_id": view.request_id,
        "decision": "approve",
        "args_hash": view.args_hash,
        "reason": "why",
    }
    if view.kind == "failure":
        example.pop("decision")
        example["choice"] = view.choices[0] if view.choices else "retry"
    if unverified:
        example["approver"] = "YOUR NAME"
    if unverified:
        who = f"**{UNVERIFIED_LABEL}**: the `approver` you type is taken on your word."
    else:
        where = f" at {view.login_url}" if view.login_url else ""
        who = (
            f"Log in{where} first: your identity is signed into the answer (no name to type; "
            "an answer without it is refused)."
        )
    if view.kind == "failure":
        ui = (
            f"**Answer in this UI**: Update `resolve_failure` with input `{json.dumps(example)}` "
            f"(choices: {' / '.join(view.choices)}; skip and abort need a reason)."
        )
        cli = f"**CLI**: `retrofit resolve {workflow_id} {view.request_id} {'|'.join(view.choices)} [--reason TEXT]`"
    else:
        ui = (
            f"**Answer in this UI**: Update `{DECIDE_UPDATE}` with input `{json.dumps(example)}` "
            '(`"decision": "reject"` needs a reason), or Signal `approve` / `reject` with the same input.'
        )
        cli = (
            f"**CLI**: `retrofit approvals approve {workflow_id} {view.request_id}` or "
            f"`retrofit approvals reject {workflow_id} {view.request_id} --reason TEXT`"
        )
    return [who, ui, cli]


def view_identity_fields() -> dict[str, str]:
    """A request's identity fields: who started the workflow, the mode, where to log in."""
    from retrofit.gate.state import pinned_identity

    pin = pinned_identity()
    unverified = pin.mode is IdentityMode.TRUSTED_NAMESPACE
    return {
        "started_by": started_by().subject,
        "identity": UNVERIFIED_LABEL if unverified else "verified",
        "login_url": pin.login_url,
    }


def show_state(note: str = "") -> None:
    """Current details for everything that waits (approvals and failed actions)."""
    _show_state(note)


def _who(names: tuple[str, ...], groups: tuple[str, ...]) -> list[str]:
    return [*names, *(f"group:{g}" for g in groups)]


def parse_answer(
    model: type[SignedAnswerT], payload: Any, error_type: str, what: str = "approval"
) -> SignedAnswerT:
    """The payload as `model`, or a non-retryable `ApplicationError` naming what is wrong."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(payload)'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise refusal(f"malformed {what} payload: {problems}", error_type) from None


def _request_id_in(payload: Any) -> str:
    request_id = payload.get("request_id") if isinstance(payload, dict) else None
    return request_id.strip()[:64] if isinstance(request_id, str) else ""


def payload_digest(payload: Any) -> str:
    """A stable fingerprint of an answer as received, so the audit activity finds the exact
    Signal or Update in history that carried it (to record its sender's claimed identity)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _payload_excerpt(payload: Any) -> Any:
    # The assertion is a bearer proof of one answer: never copied into the audit trail.
    if isinstance(payload, dict) and "assertion" in payload:
        token = payload["assertion"]
        payload = {**payload, "assertion": f"(withheld, {len(token) if isinstance(token, str) else 0} chars)"}
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
