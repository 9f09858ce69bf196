"""Signing (host side) and verifying (workflow side) the identity service's assertions.

Verification is a pure function of the token, the pinned keys and the time it is given — the
workflow passes `workflow.now()` — so it runs inside an Update validator and a Signal handler
and replays identically. JWTs via PyJWT, EdDSA over Ed25519 via `cryptography`.
"""

from __future__ import annotations

import base64
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import ValidationError

from retrofit.identity.claims import (
    ANSWER_AUDIENCE,
    START_AUDIENCE,
    AnswerClaims,
    StartClaims,
    _Claims,
)
from retrofit.identity.pin import IdentityPin

C = TypeVar("C", bound=_Claims)

_ALGORITHM = "EdDSA"
_MAX_TOKEN_CHARS = 8192


class IdentityRefused(Exception):
    """An assertion that does not prove what it claims; the message says why, for the sender."""


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def public_key_text(private: Ed25519PrivateKey) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return b64(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def sign(claims: AnswerClaims | StartClaims, private: Ed25519PrivateKey, kid: str) -> str:
    audience = ANSWER_AUDIENCE if isinstance(claims, AnswerClaims) else START_AUDIENCE
    body = {**claims.model_dump(mode="json"), "aud": audience}
    return jwt.encode(body, private, algorithm=_ALGORITHM, headers={"kid": kid})


def verify_answer(
    token: str,
    pin: IdentityPin,
    *,
    now: datetime,
    workflow_id: str,
    request_id: str,
    args_hash: str,
    decision: str,
) -> AnswerClaims:
    """The verified answer, or `IdentityRefused` naming the first thing that does not hold."""
    claims = _verify(token, pin, ANSWER_AUDIENCE, AnswerClaims, now)
    for what, signed, expected in (
        ("workflow", claims.wf, workflow_id),
        ("request", claims.req, request_id),
        ("argument hash", claims.hash, args_hash),
        ("decision", claims.decision, decision),
    ):
        if signed != expected:
            raise IdentityRefused(
                f"the signed answer is for {what} {signed!r}, not {expected!r}: ask the identity "
                "service for an answer to this request"
            )
    return claims


def verify_start(
    token: str, pin: IdentityPin, *, now: datetime, workflow_id: str, workflow_type: str
) -> StartClaims:
    claims = _verify(token, pin, START_AUDIENCE, StartClaims, now)
    if claims.wf != workflow_id or claims.wft != workflow_type:
        raise IdentityRefused(
            f"the starter assertion is for {claims.wft} {claims.wf!r}, not {workflow_type} {workflow_id!r}"
        )
    return claims


def _verify(token: str, pin: IdentityPin, audience: str, model: type[C], now: datetime) -> C:
    if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN_CHARS:
        raise IdentityRefused("no signed identity: log in at the identity service and answer again")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise IdentityRefused("the identity assertion is not a JWT") from None
    if header.get("alg") != _ALGORITHM:
        raise IdentityRefused(f"identity assertions are signed with {_ALGORITHM}, not {header.get('alg')!r}")
    kid = header.get("kid")
    encoded = pin.keys.get(kid) if isinstance(kid, str) else None
    if encoded is None:
        raise IdentityRefused(f"the identity assertion is signed by an unknown key ({kid!r})")
    try:
        raw: dict[str, Any] = jwt.decode(
            token,
            _public_key(encoded),
            algorithms=[_ALGORITHM],
            audience=audience,
            issuer=pin.issuer,
            # Time is checked below against the workflow's clock, never the host's.
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "require": ["exp", "iat", "jti", "sub"],
            },
        )
    except jwt.InvalidAudienceError:
        raise IdentityRefused(f"the identity assertion is not meant for this ({audience})") from None
    except jwt.InvalidIssuerError:
        raise IdentityRefused(f"the identity assertion was not issued by {pin.issuer!r}") from None
    except jwt.PyJWTError as exc:
        raise IdentityRefused(f"the identity assertion does not verify: {exc}") from None
    try:
        claims = model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise IdentityRefused(
            f"the identity assertion is malformed: {first['loc']}: {first['msg']}"
        ) from None
    at = int(now.timestamp())
    if claims.exp - claims.iat > pin.max_ttl_seconds:
        raise IdentityRefused(f"the identity assertion lives longer than {pin.max_ttl_seconds} s")
    if claims.iat > at + pin.leeway_seconds:
        raise IdentityRefused("the identity assertion is issued in the future")
    if claims.exp <= at:
        raise IdentityRefused("the identity assertion has expired: answer again")
    return claims


@lru_cache(maxsize=64)
def _public_key(encoded: str) -> Ed25519PublicKey:
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise IdentityRefused("a pinned identity key is not a raw Ed25519 public key") from None
