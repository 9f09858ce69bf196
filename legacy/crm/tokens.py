"""Access tokens the demo CRM's OAuth2 endpoint issued: lifetime, lookup, revocation."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class IssuedToken:
    client_id: str
    scopes: frozenset[str]
    expires_at: float  # on the registry's clock


class TokenRegistry:
    """Opaque bearer tokens with a fixed lifetime, checked on every business request.

    Thread-safe: the app issues and checks on the server thread, tests revoke from theirs.
    """

    def __init__(self, lifetime_seconds: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._default_lifetime = lifetime_seconds
        self.reset()

    def reset(self) -> None:
        """No tokens, nothing issued, the lifetime back to the one the server started with."""
        with self._lock:
            self._tokens: dict[str, IssuedToken] = {}
            self._issued = 0
            self._lifetime = self._default_lifetime

    @property
    def lifetime_seconds(self) -> int:
        with self._lock:
            return self._lifetime

    def set_lifetime(self, seconds: int) -> None:
        """Applies to tokens issued from now on."""
        with self._lock:
            self._lifetime = seconds

    def issue(self, client_id: str, scopes: frozenset[str]) -> tuple[str, int]:
        """A new token and its lifetime in seconds."""
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = IssuedToken(client_id, scopes, self._clock() + self._lifetime)
            self._issued += 1
            return token, self._lifetime

    def check(self, token: str) -> IssuedToken | None:
        """The token's grant, or None when it is unknown, revoked or expired."""
        with self._lock:
            issued = self._tokens.get(token)
            if issued is None:
                return None
            if self._clock() >= issued.expires_at:
                del self._tokens[token]
                return None
            return issued

    def revoke_all(self) -> int:
        with self._lock:
            revoked = len(self._tokens)
            self._tokens.clear()
            return revoked

    def counts(self) -> dict[str, int]:
        with self._lock:
            now = self._clock()
            active = sum(1 for t in self._tokens.values() if now < t.expires_at)
            return {"issued": self._issued, "active": active, "lifetime_seconds": self._lifetime}

    def active_tokens(self) -> list[str]:
        """For tests that check a token never leaks into logs or audit records."""
        with self._lock:
            return list(self._tokens)
