"""Sign answers and starts as the identity service would — for tests, evals and benchmarks.

A programmatic answerer (a test, the eval runner, a benchmark) has no person to log in, so it
holds a signing key itself: `TestSigner()` uses a fixed test key (never a production key; its
pin is `TestSigner().pin()`), `TestSigner(kid, key)` an operator key loaded with
`retrofit.identity.keys.load_signing_key` (the embedded stack's, for the eval runner). The
assertions are exactly the identity service's: same claims, same algorithm, same binding.

Host-only.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from retrofit.identity.claims import AnswerClaims, AnswerDecision, StartClaims, normalise_subject
from retrofit.identity.pin import IdentityMode, IdentityPin
from retrofit.identity.tokens import public_key_text, sign

#: A fixed seed, so every test process signs with the same (public, test-only) key.
_TEST_SEED = b"retrofit-test-identity-key-00000"
TEST_KID = "test-key-1"


def test_signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_TEST_SEED)


class TestSigner:
    """Signs assertions; `now` (seconds or datetime) lets a time-skipping test sign at the
    workflow's clock, which may be hours ahead of the wall clock."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        kid: str = TEST_KID,
        key: Ed25519PrivateKey | None = None,
        *,
        issuer: str = "retrofit-identity",
        ttl_seconds: int = 300,
    ) -> None:
        self.kid = kid
        self.key = key or test_signing_key()
        self.issuer = issuer
        self.ttl_seconds = ttl_seconds

    def pin(self, mode: IdentityMode = IdentityMode.VERIFIED, login_url: str = "") -> IdentityPin:
        """The pin a worker verifying this signer's assertions holds."""
        return IdentityPin(
            mode=mode,
            issuer=self.issuer,
            keys={self.kid: public_key_text(self.key)},
            login_url=login_url or "http://identity.test/login",
        )

    def answer_token(
        self,
        subject: str,
        *,
        workflow_id: str,
        request_id: str,
        args_hash: str,
        decision: AnswerDecision,
        groups: Iterable[str] = (),
        now: float | datetime | None = None,
        ttl_seconds: int | None = None,
        jti: str | None = None,
        via: str = "password",
    ) -> str:
        iat = _seconds(now)
        claims = AnswerClaims(
            iss=self.issuer,
            sub=normalise_subject(subject),
            name=subject,
            groups=tuple(normalise_subject(g) for g in groups),
            via=via,
            iat=iat,
            exp=iat + (self.ttl_seconds if ttl_seconds is None else ttl_seconds),
            jti=jti or uuid.uuid4().hex,
            wf=workflow_id,
            req=request_id,
            hash=args_hash,
            decision=decision,
        )
        return sign(claims, self.key, self.kid)

    def answer(
        self,
        subject: str,
        *,
        workflow_id: str,
        request_id: str,
        args_hash: str,
        decision: AnswerDecision,
        reason: str = "",
        groups: Iterable[str] = (),
        now: float | datetime | None = None,
        approver: str | None = None,
        **token_options: Any,
    ) -> dict[str, Any]:
        """The wire payload of a signed answer (`decide`, `approve`/`reject`; `resolve_failure`
        gets `choice` instead of `decision`). `approver`: the label typed beside it (default the
        subject); it identifies nobody in verified mode."""
        token = self.answer_token(
            subject,
            workflow_id=workflow_id,
            request_id=request_id,
            args_hash=args_hash,
            decision=decision,
            groups=groups,
            now=now,
            **token_options,
        )
        payload: dict[str, Any] = {
            "workflow_id": workflow_id,
            "request_id": request_id,
            "args_hash": args_hash,
            "reason": reason,
            "assertion": token,
            "approver": subject if approver is None else approver,
        }
        if decision in ("retry", "skip", "abort"):
            payload["choice"] = decision
        else:
            payload["decision"] = decision
        return payload

    def start_token(
        self,
        subject: str,
        *,
        workflow_id: str,
        workflow_type: str,
        now: float | datetime | None = None,
        groups: Iterable[str] = (),
    ) -> str:
        iat = _seconds(now)
        claims = StartClaims(
            iss=self.issuer,
            sub=normalise_subject(subject),
            name=subject,
            groups=tuple(normalise_subject(g) for g in groups),
            via="password",
            iat=iat,
            exp=iat + self.ttl_seconds,
            jti=uuid.uuid4().hex,
            wf=workflow_id,
            wft=workflow_type,
        )
        return sign(claims, self.key, self.kid)


def _seconds(now: float | datetime | None) -> int:
    if now is None:
        return int(time.time())
    if isinstance(now, datetime):
        return int(now.timestamp())
    return int(now)
