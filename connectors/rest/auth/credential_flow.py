"""The shared shape of auth flows that obtain a credential over HTTP (a token, a session cookie).

One credential serves every concurrent request of the connector. It is fetched on first use, again
when it goes stale, and again — once per request — when the server rejects it (revoked, expired
early, the server restarted). Fetches are serialised by a lock, so ten requests finding no token
cause one fetch, not ten; a request whose credential was rejected uses the one another request
already renewed instead of fetching yet another.

The fetch runs inside the httpx auth flow, so it goes through the connector's own client: the same
transport, proxy, TLS settings and timeouts. Only the async flow exists: a sync client would skip
the fetch and send requests unauthenticated, so it is refused outright.

**A failed fetch is remembered, so failures never add login attempts.** Many systems count failed
logins and lock the account (Tryton counts every rate-limited login as one more failure, so each
retry extends the lockout — for every user of that account). So:

    fetch answered                          error                  no new fetch for
    --------------------------------------  ---------------------  ---------------------------------
    429, 423, or a 4xx saying "locked" /    LoginLockedOut         Retry-After, else `lockout_hold`
    "too many" (a lockout or rate limit)    (an AuthError: the     (300 s): each attempt during a
                                            activity is not        lockout may extend it
                                            retried)
    another 4xx (credentials refused)       AuthError              `refusal_hold` (300 s): a wrong
                                                                   password must not lock the account
    408, 5xx                                RetryableError         the requests that were waiting
                                                                   for that fetch (Retry-After is
                                                                   the retry delay)

While a failure is held, every request needing the credential fails at once with the same kind of
error, without touching the network; and requests queued behind a fetch that failed share its
failure, whatever it was: ten requests waiting for a login that failed do not log in again one
after the other. The hold is per flow (per connector
instance, so per worker process); `clear_hold()` lifts it (after an operator fixed the account).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar

import httpx

from connectors.rest.body_excerpt import excerpt_response
from connectors.rest.capture import record_exchange
from connectors.rest.status_mapping import map_failure
from retrofit.sdk import AuthError, Delivery, NonRetryableError, RetrofitError, RetryableError
from retrofit.sdk.retry_after import parse_retry_after

C = TypeVar("C")

#: Statuses of a credential fetch that mean "no logins for now": rate limited, or locked.
LOCKOUT_STATUSES = (429, 423)
# Words of a refusal body that say the account is locked or the attempts throttled.
_LOCKOUT_WORDS = re.compile(r"lock(ed|out)|too many|rate.?limit|temporarily blocked", re.IGNORECASE)
# A Retry-After beyond this is taken as this: a typo in a header must not stop logins for a year.
_MAX_HOLD = 24 * 3600.0


class LoginLockedOut(AuthError):
    """The system refuses logins for now (rate limited or the account locked); no login is tried
    again from this connector until `retry_after` has passed, since each attempt may extend it."""

    def __init__(self, message: str, *, retry_after: timedelta, details: str | None = None) -> None:
        super().__init__(message, details=details, delivery=Delivery.ANSWERED)
        self.retry_after = retry_after


@dataclass(frozen=True)
class _Hold:
    """A failed fetch, remembered; for a lockout or refusal, no new fetch before `until` (on the
    flow's clock)."""

    until: float
    kind: type[RetrofitError]
    message: str
    details: str | None
    retry_after: timedelta | None = None


class CredentialFlow(httpx.Auth, Generic[C]):
    """Base of auth flows that fetch a credential `C`; subclasses supply the four hooks below."""

    #: Statuses that mean "this credential is no longer accepted": renew it and resend, once.
    rejected_statuses: tuple[int, ...] = (401,)
    #: Fetch statuses that mean "no logins for now" (besides a 4xx whose body says so).
    lockout_statuses: tuple[int, ...] = LOCKOUT_STATUSES
    #: Seconds without a fetch after a lockout or rate limit that gave no Retry-After.
    lockout_hold: float = 300.0
    #: Seconds without a fetch after the system refused the credentials (a wrong password).
    refusal_hold: float = 300.0
    #: What the audit record calls the fetch (e.g. the RPC method of a JSON-RPC login).
    fetch_operation: str | None = None

    def __init__(self, *, system: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.system = system
        self._clock = clock
        self._current: C | None = None
        self._lock = asyncio.Lock()
        self._hold: _Hold | None = None  # lockouts and refusals: no fetch before `until`
        # Every failed fetch, numbered: a request that waited for the lock while one failed
        # shares that failure instead of fetching again.
        self._failed_fetches = 0
        self._last_failure: _Hold | None = None

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
        """The error for a failed fetch: a lockout or rate limit is `LoginLockedOut`, any other
        4xx means we cannot authenticate (`AuthError`); 408/5xx retry."""
        where = f"{self.system} {self._fetch_name(response.request)}"
        status = response.status_code
        summary = excerpt_response(response)
        if self.is_lockout(response, summary):
            hold = self._lockout_seconds(response)
            return LoginLockedOut(
                f"{where}: the system refuses logins for now ({status}: {summary}); no login will be "
                f"tried from this connector for {_duration(hold)}, because each attempt during a "
                "lockout can extend it. Check the account in the system before retrying.",
                retry_after=timedelta(seconds=hold),
                details=summary,
            )
        if 400 <= status < 500 and status != 408:
            return AuthError(f"{where} refused our credentials ({status}): {summary}", details=summary)
        return map_failure(self.system, response.request.method, response.request.url.path, response)

    def is_lockout(self, response: httpx.Response, summary: str) -> bool:
        """Whether a refused fetch says "no logins for now" (429, 423, or a 4xx that says so)."""
        status = response.status_code
        if status in self.lockout_statuses:
            return True
        return 400 <= status < 500 and bool(_LOCKOUT_WORDS.search(summary))

    def clear_hold(self) -> None:
        """Forget a remembered fetch failure: the next request fetches a credential again."""
        self._hold = None

    def _lockout_seconds(self, response: httpx.Response) -> float:
        delay = parse_retry_after(response.headers.get("Retry-After"))
        seconds = delay.total_seconds() if delay is not None else self.lockout_hold
        return min(max(seconds, 0.0), _MAX_HOLD)

    def _fetch_name(self, request: httpx.Request) -> str:
        operation = f" {self.fetch_operation}" if self.fetch_operation else ""
        return f"{request.method} {request.url.path}{operation}"

    # -- the flow ----------------------------------------------------------------------------------

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise TypeError(f"{type(self).__name__} works with httpx.AsyncClient only")

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        rejected: C | None = None
        while True:
            credential = self._usable(rejected)
            if credential is None:
                failed_before = self._failed_fetches
                async with self._lock:
                    # Another request may have renewed it while this one waited for the lock.
                    credential = self._usable(rejected)
                    if credential is None:
                        self._raise_if_held(failed_before)
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
                            operation=self.fetch_operation,
                        )
                        try:
                            credential = self.accept(response)
                        except RetrofitError as error:
                            self._remember(response, error)
                            raise
                        except Exception as exc:
                            # A hook that could not read the answer (not JSON, an unexpected
                            # shape): retrying would log in again for the same answer.
                            raise NonRetryableError(
                                f"{self.system} {self._fetch_name(fetch)}: the answer to the login "
                                f"could not be read ({type(exc).__name__}); not retried"
                            ) from exc
                        self._current = credential
                        self._hold = None
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

    def _remember(self, response: httpx.Response, error: RetrofitError) -> None:
        """Note a failed fetch; hold lockouts and refusals (see the module docstring)."""
        if isinstance(error, LoginLockedOut):
            seconds: float | None = error.retry_after.total_seconds()
        elif isinstance(error, AuthError):
            seconds = self.refusal_hold
        else:
            seconds = None  # transient, or an answer we could not read: shared with waiters only
        delay = error.retry_after if isinstance(error, RetryableError) else None
        failure = _Hold(
            self._clock() + min(max(seconds or 0.0, 0.0), _MAX_HOLD),
            type(error),
            error.message,
            error.details,
            delay,
        )
        self._failed_fetches += 1
        self._last_failure = failure
        if seconds is not None:
            self._hold = failure

    def _raise_if_held(self, failed_before: int) -> None:
        """Raise the held failure, or the one that happened while this request waited."""
        hold = self._hold
        if hold is not None and hold.until <= self._clock():
            hold = self._hold = None
        if hold is not None:
            left = hold.until - self._clock()
            message = f"{hold.message} [held: {_duration(left)} before the next login attempt]"
            if issubclass(hold.kind, LoginLockedOut):
                raise LoginLockedOut(message, retry_after=timedelta(seconds=left), details=hold.details)
            raise hold.kind(message, details=hold.details)
        shared = self._last_failure
        if shared is not None and self._failed_fetches != failed_before:
            message = f"{shared.message} [shared: this request waited for that login]"
            if issubclass(shared.kind, RetryableError):
                # Not sent: this request never left; the fetch it waited for stands for it.
                raise shared.kind(
                    message,
                    retry_after=shared.retry_after,
                    details=shared.details,
                    delivery=Delivery.NOT_SENT,
                )
            raise shared.kind(message, details=shared.details)


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"
