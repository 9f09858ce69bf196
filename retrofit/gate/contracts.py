"""The durable contracts between the gate (workflow side) and the activities that do the I/O.

Add fields with defaults; never rename: recorded histories hold these.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from retrofit.audit.events import Actor, AuditEvent
from retrofit.gate.policy import Decision

AUDIT_ACTIVITY = "retrofit.audit.record"


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


class ActionOutcome(BaseModel):
    output: dict[str, Any]
    attempt: int = Field(ge=1)


class AuditBatch(BaseModel):
    """Input of the audit activity: events the workflow itself decided (denials, failures)."""

    events: list[AuditEvent]
