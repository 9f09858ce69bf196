"""The messages ops send to resolve an action that failed past its retry budget: payload and
result of the `resolve_failure` Update. Durable contracts: add fields with defaults only.

The requests themselves show in the `pending_approvals` Query as `ApprovalView`s with
`kind = "failure"`, so the UI, the CLI and scripts find everything that waits for a person in one
place.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from retrofit.gate.approval_models import SignedAnswer

RESOLVE_FAILURE_UPDATE = "resolve_failure"

FailureChoice = Literal["retry", "skip", "abort"]
ALL_CHOICES: tuple[FailureChoice, ...] = ("retry", "skip", "abort")


class ResolveFailureRequest(SignedAnswer):
    """Payload of the `resolve_failure` Update: the signed answer (see `SignedAnswer`) with a
    choice; the assertion's decision is the choice. A reason is required for skip and abort."""

    choice: FailureChoice


class LegacyResolveFailureRequest(BaseModel):
    """The payload before verified identity, read only when replaying a history recorded then."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    request_id: str = Field(min_length=1, max_length=64)
    approver: str = Field(min_length=1, max_length=128)
    choice: FailureChoice
    reason: str = Field(default="", max_length=2000)


class ResolveFailureResult(BaseModel):
    request_id: str
    choice: FailureChoice
    resolved_by: str
    # What is known about the failed write's effect, for whoever resolved it (the CLI prints it):
    # "outcome unknown: the write may have landed (...)" after a lost answer; "" for old runs.
    outcome_note: str = ""
