"""Login sessions of the identity service: the browser's cookie and `retrofit login`'s cache.

Host-only. A session is a JWT signed with the service's own key for the audience
`retrofit:session`, which no workflow accepts (answers need `retrofit:answer`), so a session can
never be sent in place of an answer. It says who logged in and how; the service re-reads a local
user's groups from the directory at each use, so a removed user's session stops working at once.
Logging out revokes the session's jti in this process (a restart forgets revocations; sessions
are short: `RETROFIT_IDENTITY_SESSION_SECONDS`).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SESSION_AUDIENCE = "retrofit:session"
_ALGORITHM = "EdDSA"


class SessionInvalid(Exception):
    """Not a live session of this service."""


@dataclass(frozen=True)
class Session:
    subject: str
    name: str
    groups: tuple[str, ...]
    via: str  # "password" (local directory) or "oidc"
    expires_at: int
    jti: str


class SessionIssuer:
    def __init__(self, private: Ed25519PrivateKey, kid: str, issuer: str, lifetime_seconds: int) -> None:
        self._private = private
        self._public = private.public_key()
        self._kid = kid
        self._issuer = issuer
        self._lifetime = lifetime_seconds
        self._revoked: dict[str, int] = {}  # jti -> exp, pruned as they pass

    def issue(
        self, subject: str, name: str, groups: tuple[str, ...], via: str, *, not_after: int | None = None
    ) -> tuple[str, Session]:
        now = int(time.time())
        exp = now + self._lifetime if not_after is None else min(now + self._lifetime, not_after)
        session = Session(subject, name, groups, via, exp, uuid.uuid4().hex)
        body = {
            "iss": self._issuer,
            "aud": SESSION_AUDIENCE,
            "sub": subject,
            "name": name,
            "groups": list(groups),
            "via": via,
            "iat": now,
            "exp": exp,
            "jti": session.jti,
        }
        return jwt.encode(body, self._private, algorithm=_ALGORITHM, headers={"kid": self._kid}), session

    def verify(self, token: str) -> Session:
        if not token or len(token) > 8192:
            raise SessionInvalid("no session")
        try:
            raw: dict[str, Any] = jwt.decode(
                token,
                self._public,
                algorithms=[_ALGORITHM],
                audience=SESSION_AUDIENCE,
                issuer=self._issuer,
                options={"require": ["exp", "iat", "sub", "jti"]},
            )
        except jwt.ExpiredSignatureError:
            raise SessionInvalid("the session has expired: log in again") from None
        except jwt.PyJWTError:
            raise SessionInvalid("not a session of this identity service") from None
        if raw["jti"] in self._revoked:
            raise SessionInvalid("the session was logged out: log in again")
        groups = raw.get("groups", [])
        return Session(
            subject=str(raw["sub"]),
            name=str(raw.get("name", "")),
            groups=tuple(str(g) for g in groups) if isinstance(groups, list) else (),
            via=str(raw.get("via", "")),
            expires_at=int(raw["exp"]),
            jti=str(raw["jti"]),
        )

    def revoke(self, session: Session) -> None:
        now = int(time.time())
        self._revoked = {j: e for j, e in self._revoked.items() if e > now}
        self._revoked[session.jti] = session.expires_at
