"""The audit record as it crosses boundaries (activity input, CLI output, export).

Pure pydantic: workflow code builds these, activities persist them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class AuditKind(StrEnum):
    PROPOSED = "action.proposed"
    INVALID = "action.invalid"  # arguments failed validation; nothing ran
    UNKNOWN = "action.unknown"  # no such action; nothing ran
    ALLOWED = "policy.allowed"
    DENIED = "policy.denied"
    APPROVAL_REQUESTED = "approval.requested"
    APPROVAL_GRANTED = "approval.granted"
    APPROVAL_REJECTED = "approval.rejected"
    APPROVAL_EXPIRED = "approval.expired"
    APPROVAL_ESCALATED = "approval.escalated"
    APPROVAL_REFUSED = "approval.refused"  # an answer that failed the checks, ignored
    STARTED = "action.started"
    ATTEMPT_FAILED = "action.attempt_failed"
    # An attempt that started and never reported (worker killed, timed out): its outcome is
    # unknown. Recorded when the next attempt (or the reconciliation) finds it.
    ATTEMPT_LOST = "action.attempt_lost"
    # What the legacy system said, asked afterwards (the connector's `lookup`), about a call
    # whose answer was lost: landed (then `action.succeeded` follows), not landed, or unknown.
    RECONCILED = "action.reconciled"
    SUCCEEDED = "action.succeeded"
    FAILED = "action.failed"
    COMPENSATED = "action.compensated"
    # An action failed past its retry budget and the policy (or caller) asked for a person:
    FAILURE_ESCALATED = "failure.escalated"  # the request: retry / skip / abort
    FAILURE_RESOLVED = "failure.resolved"  # a person's answer (or the deadline's)
    SKIPPED = "action.skipped"  # the outcome of "skip": the workflow goes on without it
    ABORTED = "action.aborted"  # the outcome of "abort": the caller gets ActionFailedError
    LLM_DECISION = "llm.decision"
    LLM_ATTEMPT = "llm.attempt"  # one request to a model provider: outcome, usage, latency
    AGENT_STARTED = "agent.started"
    AGENT_TOOL_REFUSED = "agent.tool_refused"  # outside the allowed list or unparseable: nothing ran
    AGENT_FINISHED = "agent.finished"  # why it stopped, with the totals
    WORKFLOW_STARTED = "workflow.started"
    WORKFLOW_COMPLETED = "workflow.completed"
    # The start input did not decode or fit the workflow: the run failed at once, nothing ran.
    WORKFLOW_REFUSED = "workflow.refused"
    # Workflow code built an invalid model from the input: the run failed at once.
    WORKFLOW_FAILED = "workflow.failed"


class ActorKind(StrEnum):
    WORKFLOW = "workflow"
    AGENT = "agent"
    HUMAN = "human"
    SYSTEM = "system"


class Actor(BaseModel):
    kind: ActorKind
    name: str  # workflow type, model name, approver name, "retrofit"
    identity: str | None = None  # what Temporal recorded for the sender, when there is one


class AuditEvent(BaseModel):
    """One fact to append. `event_id` is deterministic so a retried write is a no-op."""

    event_id: str
    kind: AuditKind
    actor: Actor
    workflow_id: str
    run_id: str
    workflow_type: str = ""
    step: int | None = None
    action: str | None = None
    effect: str | None = None
    idempotency_key: str | None = None
    attempt: int | None = None
    # Redacted before it gets here: arguments, outputs, errors, decisions.
    data: dict[str, Any] = Field(default_factory=dict)
    # When it happened, as the workflow saw it (deterministic), if the writer knows it.
    occurred_at: datetime | None = None


class AuditRecord(AuditEvent):
    """A stored event: its place in the chain and its hash."""

    seq: int
    recorded_at: datetime
    prev_hash: str
    hash: str


class ChainBreak(BaseModel):
    seq: int
    event_id: str
    reason: str


class VerifyReport(BaseModel):
    checked: int
    ok: bool
    first_break: ChainBreak | None = None
    head_hash: str | None = None
    # The seq of the record `head_hash` belongs to (the last that verified).
    head_seq: int | None = None
