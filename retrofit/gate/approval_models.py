"""The messages ops send and read: payloads of the `decide` Update, the `approve` / `reject`
Signals and the `pending_approvals` Query. Durable contracts: add fields with defaults only."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DECIDE_UPDATE = "decide"
APPROVE_SIGNAL = "approve"
REJECT_SIGNAL = "reject"
PENDING_QUERY = "pending_approvals"


class ApprovalAnswer(BaseModel):
    """Payload of the `approve` and `reject` Signals."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    request_id: str = Field(min_length=1, max_length=64)
    approver: str = Field(min_length=1, max_length=128)
    reason: str = Field(default="", max_length=2000)
    # Binds the answer to the exact arguments the approver saw: the full hash or a prefix of at
    # least 8 characters, as shown in the UI. Optional; when given it must match.
    args_hash: str | None = Field(default=None, min_length=8, max_length=64, pattern=r"^[0-9a-f]+$")


class DecideRequest(ApprovalAnswer):
    """Payload of the `decide` Update."""

    decision: Literal["approve", "reject"]


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    RESOLVED = "resolved"  # a failure request someone answered (retry / skip / abort)


class ApprovalView(BaseModel):
    """One approval request as the Query, the CLI and current details show it."""

    request_id: str
    action: str
    effect: str
    step: int
    arguments: dict[str, Any]  # redacted
    args_hash: str
    approvers_needed: int
    may_approve: list[str]  # names and group names (`group:finance`); empty: anyone
    approved_by: list[str]
    requested_at: datetime
    deadline: datetime
    escalated: bool = False
    status: ApprovalStatus = ApprovalStatus.PENDING
    reason: str = ""
    # "failure": not an approval but an action that failed past its retry budget, waiting for a
    # person to choose one of `choices` with the `resolve_failure` Update (`retrofit resolve`).
    kind: Literal["approval", "failure"] = "approval"
    choices: list[str] = Field(default_factory=list)
    error: str = ""  # the failure, for kind "failure"


class DecideResult(BaseModel):
    request_id: str
    status: ApprovalStatus
    approved_by: list[str]
    approvers_needed: int


def arguments_hash(action: str, arguments: dict[str, Any]) -> str:
    canonical = json.dumps({"action": action, "arguments": arguments}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
