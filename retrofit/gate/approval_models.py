"""The messages ops send and read: payloads of the `decide` Update, the `approve` / `reject`
Signals and the `pending_approvals` Query. Durable contracts: add fields with defaults only."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

DECIDE_UPDATE = "decide"
APPROVE_SIGNAL = "approve"
REJECT_SIGNAL = "reject"
PENDING_QUERY = "pending_approvals"


#: An argument hash as the workflow shows it: the full SHA-256, lower-case hex. Never stripped or
#: shortened: a padded or partial hash is refused, so an answer binds to exactly one set of arguments.
ARGS_HASH_PATTERN = r"^[0-9a-f]{64}$"

#: Shown wherever an answer was taken on the payload's word (`trusted-namespace` mode).
UNVERIFIED_LABEL = "UNVERIFIED (trusted-namespace mode)"


class SignedAnswer(BaseModel):
    """What every answer carries: the binding and the identity service's assertion.

    In verified mode (the default) `assertion` is the proof of who answered; `approver` is at most
    a label, recorded as claimed and never trusted. In `trusted-namespace` mode `approver` is taken
    as typed and every record says UNVERIFIED.
    """

    model_config = ConfigDict(extra="forbid")

    # The ids are stripped (a UI form adds spaces); the hash never is.
    request_id: str = Field(min_length=1, max_length=64)
    # Required; checked against ARGS_HASH_PATTERN and the request when the answer is weighed, so
    # a padded or shortened hash is a refused answer on record, not a payload that fails to parse.
    args_hash: str = Field(max_length=128)
    workflow_id: str = Field(default="", max_length=1000)  # when given it must be this workflow's
    assertion: str = Field(default="", max_length=8192)
    approver: str = Field(default="", max_length=128)
    reason: str = Field(default="", max_length=2000)

    @field_validator("request_id", "workflow_id", "approver", "reason", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value


class ApprovalAnswer(SignedAnswer):
    """Payload of the `approve` and `reject` Signals (`decision`, when given, must match the name)."""

    decision: Literal["approve", "reject"] | None = None


class DecideRequest(SignedAnswer):
    """Payload of the `decide` Update."""

    decision: Literal["approve", "reject"]


class LegacyApprovalAnswer(BaseModel):
    """The answer shape before verified identity, read only when replaying a history recorded
    then (see `retrofit.gate.answer_identity.PATCH_ID`): never accepted from a new answer."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    request_id: str = Field(min_length=1, max_length=64)
    approver: str = Field(min_length=1, max_length=128)
    reason: str = Field(default="", max_length=2000)
    args_hash: str | None = Field(default=None, min_length=8, max_length=64, pattern=r"^[0-9a-f]+$")


class LegacyDecideRequest(LegacyApprovalAnswer):
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
    # For kind "failure", what is known about the write's effect (`retrofit.gate.outcomes`):
    # "unknown" (an attempt's answer was lost: the write may have landed), "no_effect", or "".
    # `outcome_note` says it in words, for the CLI and the UI: never "not called" when unknown.
    outcome: str = ""
    outcome_note: str = ""
    # Who started the workflow, as verified from the start's `retrofit-starter` header, or
    # "unverified"; the starter may never approve its own request.
    started_by: str = ""
    # "verified" (answers need a signed assertion) or UNVERIFIED_LABEL; where to log in to sign.
    identity: str = "verified"
    login_url: str = ""


class DecideResult(BaseModel):
    request_id: str
    status: ApprovalStatus
    approved_by: list[str]
    approvers_needed: int
    # The verified subject this answer counted for (or the typed name + UNVERIFIED_LABEL).
    answered_as: str = ""


def arguments_hash(action: str, arguments: dict[str, Any]) -> str:
    canonical = json.dumps({"action": action, "arguments": arguments}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def answerers(view: ApprovalView, anyone: str) -> str:
    """Who may answer a request, for a person to read: `alice, group finance`, or `anyone`."""
    named = ", ".join(
        f"group {g.removeprefix('group:')}" if g.startswith("group:") else g for g in view.may_approve
    )
    return named or anyone
