"""The durable contracts between the gate (workflow side) and the activities that do the I/O.

Add fields with defaults; never rename: recorded histories hold these.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from retrofit.audit.events import Actor, AuditEvent
from retrofit.gate.policy import Decision

AUDIT_ACTIVITY = "retrofit.audit.record"
ANSWER_AUDIT_ACTIVITY = "retrofit.audit.record_answer"
POLICY_ACTIVITY = "retrofit.policy.snapshot"


def event_id(workflow_id: str, run_id: str, step: int, suffix: str) -> str:
    """Deterministic audit event id: the same fact written twice is stored once."""
    return f"{workflow_id}/{run_id}/{step}/{suffix}"


class ActionInvocation(BaseModel):
    """Input of every action activity (`<connector>.<action>`)."""

    action: str
    arguments: dict[str, Any]  # validated JSON form of the input model
    step: int
    idempotency_key: str
    workflow_type: str
    actor: Actor
    decision: Decision
    proposed_at: datetime
    approved_by: list[str] = Field(default_factory=list)
    # "model": the output goes to an LLM, so the activity returns it redacted (secrets and PII
    # replaced) and the plain output never enters history or a prompt. "full": the typed output.
    output_view: Literal["full", "model"] = "full"
    # With output_view "model": extra `label -> regex` redactions (validated by the caller).
    model_redactions: dict[str, str] = Field(default_factory=dict)
    # 1, or the round a person asked for with "retry" after the action failed past its retry
    # budget: same step and idempotency key (the legacy system never doubles the effect), a fresh
    # attempt budget, and audit ids that name the round.
    round: int = Field(default=1, ge=1)


class ActionOutcome(BaseModel):
    output: dict[str, Any]
    attempt: int = Field(ge=1)


class AuditBatch(BaseModel):
    """Input of the audit activity: events the workflow itself decided (denials, failures)."""

    events: list[AuditEvent]


class AnswerAudit(BaseModel):
    """Input of the answer-audit activity: an approval answer (accepted or refused) to record with
    the sender identity Temporal stored in history for the Update or Signal that carried it."""

    event: AuditEvent
    via: Literal["update", "signal"]
    message_name: str  # update or signal name
    update_id: str | None = None
    request_id: str = ""
    approver: str = ""  # the payload's claimed label (verified answers: not who answered)
    # SHA-256 of the answer payload as received (`approvals.payload_digest`): finds the exact
    # Signal in history that carried it. Empty: matched by request id and claimed approver.
    payload_sha256: str = ""


def reconcile_activity_name(connector: str) -> str:
    """The activity that settles a call whose answer was lost; one per connector, on the worker
    (task queue) that serves the connector's actions."""
    return f"retrofit.reconcile.{connector}"


class ReconcileRequest(BaseModel):
    """Input of the reconcile activity: settle what is known about `invocation`'s effect.

    The activity records attempts that started and never reported (`action.attempt_lost`) and,
    when `lookup` is set and an attempt may have landed, asks the connector's `lookup` hook and
    records what it said (`action.reconciled`, then `action.succeeded` when the write landed).
    """

    invocation: ActionInvocation
    # When in the failure handling: "failed" (past the retry budget, before escalating or
    # raising) or "answered" (a person chose retry / skip / abort). Names the audit record.
    when: Literal["failed", "answered"] = "failed"
    lookup: bool = False


class ReconcileResult(BaseModel):
    # "landed": `output` is the call's output (in the invocation's output view); "not_landed":
    # nothing happened (the system said so, or no attempt reached it without an answer);
    # "unknown": a write may have landed and nothing can tell.
    status: Literal["landed", "not_landed", "unknown"]
    output: dict[str, Any] | None = None
    source: Literal["trail", "lookup"] = "trail"
    detail: str = ""
    # The attempts that left the outcome open, as people read them ("attempt 1", ...).
    uncertain: str = ""
    attempt: int = Field(default=1, ge=1)
