"""Workflow-side calls to the audit activities (the only way workflow code writes audit records)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Literal

from temporalio import workflow
from temporalio.common import RetryPolicy

from retrofit.audit.events import Actor, ActorKind, AuditEvent, AuditKind
from retrofit.gate.approval_models import ApprovalView
from retrofit.gate.contracts import ANSWER_AUDIT_ACTIVITY, AUDIT_ACTIVITY, AnswerAudit, AuditBatch, event_id

_TIMEOUT = timedelta(seconds=30)
# No attempt limit: a workflow waits for the audit store rather than act without a record.
_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))


def workflow_event(
    kind: AuditKind,
    suffix: str,
    *,
    actor: Actor,
    step: int | None,
    data: dict[str, Any],
    action: str | None = None,
    effect: str | None = None,
    idempotency_key: str | None = None,
) -> AuditEvent:
    """An audit event decided in workflow code: this run's ids, the workflow's (deterministic) time,
    and an event id from (run, step, suffix) so the same fact written twice is stored once."""
    info = workflow.info()
    return AuditEvent(
        event_id=event_id(info.workflow_id, info.run_id, step or 0, suffix),
        kind=kind,
        actor=actor,
        workflow_id=info.workflow_id,
        run_id=info.run_id,
        workflow_type=info.workflow_type,
        step=step,
        action=action,
        effect=effect,
        idempotency_key=idempotency_key,
        data=data,
        occurred_at=workflow.now(),
    )


def system_event(kind: AuditKind, view: ApprovalView, suffix: str, data: dict[str, Any]) -> AuditEvent:
    """An event Retrofit itself decided about a pending request (expired, escalated, ...)."""
    return workflow_event(
        kind,
        suffix,
        actor=Actor(kind=ActorKind.SYSTEM, name="retrofit"),
        step=view.step,
        action=view.action,
        effect=view.effect,
        data=data,
    )


async def record_events(events: Sequence[AuditEvent]) -> None:
    kinds = ", ".join(sorted({e.kind.value for e in events}))
    await workflow.execute_activity(
        AUDIT_ACTIVITY,
        AuditBatch(events=list(events)),
        start_to_close_timeout=_TIMEOUT,
        retry_policy=_RETRY,
        summary=f"audit: {kinds}",
    )


async def record_answer(
    event: AuditEvent,
    via: Literal["update", "signal"],
    message_name: str,
    *,
    update_id: str | None = None,
    request_id: str = "",
    approver: str = "",
    payload_sha256: str = "",
) -> None:
    await workflow.execute_activity(
        ANSWER_AUDIT_ACTIVITY,
        AnswerAudit(
            event=event,
            via=via,
            message_name=message_name,
            update_id=update_id,
            request_id=request_id,
            approver=approver,
            payload_sha256=payload_sha256,
        ),
        start_to_close_timeout=_TIMEOUT,
        retry_policy=_RETRY,
        summary=f"audit: {event.kind.value} by {event.actor.name or 'unknown'} ({via} {message_name})",
    )
