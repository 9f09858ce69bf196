"""The shared shape of auth flows that obtain a credential over HTTP (a token, a session cookie).

One credential serves every concurrent request of the connector. It is fetched on first use, again
when it goes stale, and again — once per request — when the server rejects it (revoked, expired
early, the server restarted). Fetches are serialised by a lock, so ten requests finding no token
cause one fetch, not ten; a request whose credential was rejected uses the one another request
already renewed instead of fetching yet another.

The fetch runs inside the httpx auth flow, so it goes through the connector's own client: the same
transport, proxy, TLS settings and timeouts. Only the async flow exists: a sync client would skip
the fetch and send requests unauthenticated, so it is refused outright.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Generator, Mapping
from typing import Any, Generic, TypeVar

import httpx

from connectors.rest.body_excerpt import excerpt_response
from connectors.rest.capture import record_exchange
from connectors.rest.status_mapping import map_failure
from retrofit.sdk import AuthError, RetrofitError

C = TypeVar("C")


class CredentialFlow(httpx.Auth, Generic[C]):
    """Base of auth flows that fetch a credential `C`; subclasses supply the four hooks below."""

    #: Statuses that mean "this credential is no longer accepted": renew it and resend, once.
    rejected_statuses: tuple[int, ...] = (401,)

    def __init__(self, *, system: str) -> None:
        self.system = system
        self._current: C | None = None
        self._lock = asyncio.Lock()

    # -- hooks -------------------------------------------------------------------------------------

    def credential_request(self, request: httpx.Request) -> httpx.Request:
        """The request that obtains a credential; `request` is the one that needs it."""
        raise NotImplementedError

    def accept(self, response: httpx.Response) -> C:
        """The credential from the fetch's (already read) response; raise `refused()` otherwise."""
        raise NotImplementedError

    def apply(self, credential: C, request: httpx.Request) -> None:
        """Put the credential on `request` (replacing any earlier one)."""
        raise NotImplementedError

    def is_fresh(self, credential: C) -> bool:
        """False when the credential should be renewed before it is used again."""
        return True

    # -- helpers for the hooks ---------------------------------------------------------------------

    def fetch_request(
        self,
        url: str,
        needing: httpx.Request,
        *,
        data: Mapping[str, str] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Request:
        """A POST to `url` (absolute, or relative to the request that needs the credential)."""
        return httpx.Request(
            "POST",
            needing.url.join(url),
            data=data,
            json=json,
            headers={"Accept": "application/json", **(headers or {})},
            # A bare Request carries no timeout; without this one the fetch could hang forever.
            extensions={"timeout": needing.extensions.get("timeout", httpx.Timeout(10.0).as_dict())},
        )

    def refused(self, response: httpx.Response) -> RetrofitError:
        """The error for a failed fetch: any 4xx means we cannot authenticate; 429/5xx retry."""
        where = f"{self.system} {response.request.method} {response.request.url.path}"
        if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
            summary = excerpt_response(response)
            return AuthError(
                f"{where} refused our credentials ({response.status_code}): {summary}", details=summary
            )
        return map_failure(self.system, response.request.method, response.request.url.path, response)

    # -- the flow ----------------------------------------------------------------------------------

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise TypeError(f"{type(self).__name__} works with httpx.AsyncClient only")

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        rejected: C | None = None
        while True:
            credential = self._usable(rejected)
            if credential is None:
                async with self._lock:
                    # Another request may have renewed it while this one waited for the lock.
                    credential = self._usable(rejected)
                    if credential is None:
                        fetch = self.credential_request(request)
                        started = time.perf_counter()
                        response = yield fetch
                        await response.aread()
                        # Credentials travel in both bodies: the audit trail gets the outline only.
                        record_exchange(
                            fetch,
                            started=started,
                            finished=time.perf_counter(),
                            response=response,
                            with_bodies=False,
                        )
                        credential = self.accept(response)
                        self._current = credential
            self.apply(credential, request)
            response = yield request
            if rejected is not None or response.status_code not in self.rejected_statuses:
                return
            rejected = credential

    def _usable(self, rejected: C | None) -> C | None:
        current = self._current
        if current is None or current is rejected or not self.is_fresh(current):
            return None
        return current
