"""Who calls: a person the identity service verified, never a name the client typed.

- HTTP: every request carries `Authorization: Bearer <token>` (a session from
  `POST /identity/session`, or an OIDC ID token where the service accepts one); the SDK's bearer
  middleware asks `IdentityTokenVerifier`, which asks the identity service's `GET /identity/whoami`.
  Anything else is a 401 before MCP sees the request.
- stdio: the local user, by their `retrofit login` session (or `RETROFIT_IDENTITY_TOKEN`),
  checked with the same `whoami` when the server starts.

The caller's bearer is kept to sign their starts (`POST /identity/starts`): the workflow then
records them as its verified starter and refuses their answers to its own approval requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken

from retrofit.cli.identity_client import IdentityClient, IdentityError, service_url
from retrofit.settings import RetrofitSettings

_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


@dataclass(frozen=True)
class Caller:
    subject: str
    groups: tuple[str, ...]
    bearer: str  # the credential itself: held in memory only, never logged or put in history

    def __repr__(self) -> str:  # a log line or traceback must not carry the bearer
        return f"Caller(subject={self.subject!r}, groups={self.groups!r})"


async def whoami(settings: RetrofitSettings, bearer: str) -> Caller | None:
    """The person `bearer` belongs to, or None when the identity service refuses it."""
    async with httpx.AsyncClient(base_url=service_url(settings), timeout=_TIMEOUT) as http:
        response = await http.get("/identity/whoami", headers={"Authorization": f"Bearer {bearer}"})
    if response.status_code != 200:
        return None
    body: dict[str, Any] = response.json()
    return Caller(str(body["subject"]), tuple(str(g) for g in body.get("groups", ())), bearer)


class IdentityTokenVerifier:
    """The SDK's `TokenVerifier`, answered by the identity service."""

    def __init__(self, settings: RetrofitSettings) -> None:
        self._settings = settings

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            caller = await whoami(self._settings, token)
        except httpx.TransportError:
            return None  # the service down: nobody is verified, so nothing starts
        if caller is None:
            return None
        return AccessToken(
            token=token,
            client_id=caller.subject,
            subject=caller.subject,
            scopes=[],
            claims={"groups": list(caller.groups)},
        )


def caller_of(request: Any) -> Caller | None:
    """The verified caller of an HTTP request (the bearer middleware put them in its scope)."""
    scope = getattr(request, "scope", None)
    user = scope.get("user") if isinstance(scope, dict) else None
    if not isinstance(user, AuthenticatedUser):
        return None
    token = user.access_token
    groups = (token.claims or {}).get("groups", [])
    return Caller(token.subject or token.client_id, tuple(str(g) for g in groups), token.token)


async def local_caller(settings: RetrofitSettings) -> Caller:
    """stdio: the local user's saved login, verified now. Raises IdentityError with what to do."""
    authorization = await IdentityClient(settings).authorization()
    bearer = authorization.removeprefix("Bearer ").strip()
    try:
        caller = await whoami(settings, bearer)
    except httpx.TransportError as exc:
        raise IdentityError(
            f"cannot reach the identity service at {service_url(settings)} ({type(exc).__name__}): "
            "is `retrofit dev` or `retrofit codec-server` running? (RETROFIT_IDENTITY_URL)"
        ) from None
    if caller is None:
        raise IdentityError(
            "the identity service refused your saved login: run `retrofit login YOUR_NAME` again"
        )
    return caller


class CallerIdentity(IdentityClient):
    """An `IdentityClient` that signs as the verified caller, with the caller's own bearer."""

    def __init__(self, settings: RetrofitSettings, caller: Caller) -> None:
        super().__init__(settings)
        self._caller = caller

    async def authorization(self) -> str:
        return f"Bearer {self._caller.bearer}"
