"""OAuth 2.0 client-credentials grant (RFC 6749 §4.4): a bearer token for a machine client."""

from __future__ import annotations

import time
from base64 import b64encode
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from connectors.rest.auth.credential_flow import CredentialFlow
from retrofit.sdk import NonRetryableError


# eq=False: the flow tells tokens apart by identity ("is this the one the server rejected?").
@dataclass(frozen=True, eq=False)
class _Token:
    value: str = field(repr=False)  # tracebacks and debuggers must not print it
    renew_at: float | None = None  # on the flow's clock; None when the server gave no lifetime


class OAuth2ClientCredentials(CredentialFlow[_Token]):
    """Fetches a bearer token from `token_url` and keeps it until shortly before it expires.

    The token is renewed `refresh_margin` seconds before `expires_in` runs out (at most half the
    lifetime, so very short-lived tokens are still reused), and once more when a request is answered
    401 anyway. The token endpoint refusing the client (400 `invalid_client`/`invalid_grant`, 401)
    is an `AuthError` (and no token is fetched again for `refusal_hold` seconds); 429 and 5xx from
    it are retryable like any other request, their Retry-After the retry delay, and requests that
    waited for that fetch share its failure. A token endpoint throttles, it does not lock out a
    client, so 429 is not a lockout here; 423 Locked or a body saying "locked" still is.

    `client_auth="body"` sends the id and secret as form fields, `"basic"` as HTTP Basic
    credentials (RFC 6749 §2.3.1 prefers Basic; many legacy servers take only the form).
    `clock` is `time.monotonic` unless a test wants to move time by hand.
    """

    lockout_statuses = (423,)

    def __init__(
        self,
        token_url: str,
        client_id: str | SecretStr,
        client_secret: SecretStr,
        *,
        scope: str | None = None,
        client_auth: Literal["body", "basic"] = "body",
        refresh_margin: float = 30.0,
        system: str = "oauth2",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(system=system, clock=clock)
        self.token_url = token_url
        # Not a secret by RFC 6749, but some identity providers treat it as one: accept either.
        self._client_id = client_id.get_secret_value() if isinstance(client_id, SecretStr) else client_id
        self.scope = scope
        self._client_secret = client_secret
        self._client_auth = client_auth
        self._refresh_margin = refresh_margin
        self._clock = clock

    def credential_request(self, request: httpx.Request) -> httpx.Request:
        form = {"grant_type": "client_credentials"}
        if self.scope:
            form["scope"] = self.scope
        secret = self._client_secret.get_secret_value()
        if self._client_auth == "basic":
            # §2.3.1: id and secret are form-urlencoded before they are joined and base64-encoded.
            pair = f"{quote(self._client_id, safe='')}:{quote(secret, safe='')}".encode()
            headers = {"Authorization": f"Basic {b64encode(pair).decode()}"}
            return self.fetch_request(self.token_url, request, data=form, headers=headers)
        form |= {"client_id": self._client_id, "client_secret": secret}
        return self.fetch_request(self.token_url, request, data=form)

    def accept(self, response: httpx.Response) -> _Token:
        if not response.is_success:
            raise self.refused(response)
        try:
            body = response.json()
        except ValueError:
            body = None
        token = body.get("access_token") if isinstance(body, dict) else None
        token_type = body.get("token_type", "bearer") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token or str(token_type).lower() != "bearer":
            # The body itself is a credential: name what is missing, quote nothing.
            raise NonRetryableError(
                f"{self.system} token endpoint answered {response.status_code} without a bearer access_token"
            )
        lifetime = body.get("expires_in") if isinstance(body, dict) else None
        if isinstance(lifetime, int | float) and not isinstance(lifetime, bool) and lifetime > 0:
            margin = min(self._refresh_margin, lifetime / 2)
            return _Token(token, renew_at=self._clock() + lifetime - margin)
        return _Token(token, renew_at=None)

    def apply(self, credential: _Token, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {credential.value}"

    def is_fresh(self, credential: _Token) -> bool:
        return credential.renew_at is None or self._clock() < credential.renew_at
