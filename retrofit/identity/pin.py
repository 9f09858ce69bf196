"""The identity service's public keys, as a workflow pins them into its history.

Rides in the policy snapshot (`retrofit.gate.routing.PolicySnapshot.identity`): fetched once per
run through the policy local activity, so a replay verifies answers with the keys the first run
used, and rotating keys never breaks a running workflow's history.

Deterministic (workflow-safe).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class IdentityMode(StrEnum):
    #: Answers and starts need an assertion signed by a pinned key. The default, everywhere.
    VERIFIED = "verified"
    #: Development only, off by default, loudly labelled: anyone who can reach the namespace may
    #: answer as the name in the payload. Every record made in this mode says so.
    TRUSTED_NAMESPACE = "trusted-namespace"


class IdentityPin(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: IdentityMode = IdentityMode.VERIFIED
    issuer: str = "retrofit-identity"
    # key id -> raw Ed25519 public key, base64url without padding (32 bytes). Several keys: rotation.
    keys: dict[str, str] = Field(default_factory=dict)
    # Longest lifetime an assertion may claim (exp - iat), and the clock skew tolerated on iat.
    max_ttl_seconds: int = Field(default=900, ge=10, le=86_400)
    leeway_seconds: int = Field(default=60, ge=0, le=600)
    # Where a person logs in to sign answers (shown in refusals and current details).
    login_url: str = ""
