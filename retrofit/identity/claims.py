"""What a signed assertion says. Durable contracts: add fields with defaults only.

Deterministic (workflow-safe): stdlib and pydantic only.
"""

from __future__ import annotations

import unicodedata
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: The JWT `aud` of each kind of assertion, so an answer can never be replayed as a start.
ANSWER_AUDIENCE = "retrofit:answer"
START_AUDIENCE = "retrofit:start"

#: approve / reject answer approval requests; retry / skip / abort answer failure escalations.
AnswerDecision = Literal["approve", "reject", "retry", "skip", "abort"]


def normalise_subject(subject: str) -> str:
    """One spelling per person: `OPS`, ` ops ` and `ｏｐｓ` (full width) are the same subject.

    NFKC folds compatibility forms, casefold folds case (ß -> ss), surrounding space goes. Every
    comparison of people — the two-person rule, "already approved", requester != approver, group
    membership — uses this form.
    """
    return unicodedata.normalize("NFKC", subject).casefold().strip()


class _Claims(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    iss: str  # the identity service that signed (IdentityPin.issuer)
    sub: str = Field(min_length=1, max_length=128)  # normalised subject
    name: str = Field(default="", max_length=128)  # display name, for people reading the trail
    groups: tuple[str, ...] = ()  # verified groups (directory or IdP claim), normalised
    via: str = Field(default="", max_length=64)  # how the person logged in: "password", "oidc", ...
    iat: int
    exp: int
    jti: str = Field(min_length=8, max_length=64)  # single use: a workflow accepts each jti once


class AnswerClaims(_Claims):
    """One person's answer to one request of one workflow, over the exact arguments shown."""

    wf: str = Field(min_length=1, max_length=1000)  # workflow id
    req: str = Field(min_length=1, max_length=64)  # request id (apr-3, fail-4-1)
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")  # the full argument hash of the request
    decision: AnswerDecision


class StartClaims(_Claims):
    """Who started a workflow: carried in the start's `retrofit-starter` header."""

    wf: str = Field(min_length=1, max_length=1000)  # workflow id
    wft: str = Field(min_length=1, max_length=256)  # workflow type
