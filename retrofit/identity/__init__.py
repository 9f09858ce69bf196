"""Verified identity: who answered an approval, who started a workflow — proven, never typed.

The design (see THREAT-MODEL.md and the README's "Trust model"):

- The operator runs an **identity service** (`retrofit.identity.service`, served beside the codec
  server). It authenticates a person — a local user directory with hashed passwords in the embedded
  default, an OIDC ID token from the company's IdP in production — and signs a short-lived,
  single-use **assertion** (a JWT, EdDSA / Ed25519) that binds the person's normalised subject and
  verified groups to one answer: workflow id, request id, the full argument hash, the decision.
- The identity service's public keys are pinned into each workflow's history with the policy
  (`IdentityPin`, part of the policy snapshot), so the `decide` Update and the `approve` /
  `reject` Signals verify an answer deterministically, inside the workflow, with no I/O.
- Whatever a client types — the payload's `approver`, the gRPC `identity` — is recorded at most as
  a claim, never trusted.

Workflow-safe modules: `claims`, `pin`, `tokens` (verification only needs the public keys).
Host-only modules (keys, directory, OIDC, the HTTP service) do I/O and are never imported by
workflow code.
"""

from retrofit.identity.claims import AnswerClaims, StartClaims, normalise_subject
from retrofit.identity.pin import IdentityMode, IdentityPin
from retrofit.identity.tokens import IdentityRefused, verify_answer, verify_start

__all__ = [
    "AnswerClaims",
    "IdentityMode",
    "IdentityPin",
    "IdentityRefused",
    "StartClaims",
    "normalise_subject",
    "verify_answer",
    "verify_start",
]
