"""Failed logins never add login attempts: against a Tryton-like server that locks after N failures.

The server counts every login, and — as Tryton does — counts a rate-limited login as one more
failure, so a client that retries a 429 keeps the account locked for everyone. Real HTTP on
loopback; the flow's clock is moved by hand where a hold must run out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from connectors.rest.auth.credential_flow import LoginLockedOut
from retrofit.execution.error_mapping import classify
from retrofit.sdk import (
    AuthError,
    ConnectorSettings,
    Delivery,
    NonRetryableError,
    RetrofitError,
    RetryableError,
)
from tests.integration.rest.jsonrpc_server import PASSWORD, JsonRpcServer
from tests.integration.rest.support import ManualClock
from tests.integration.rest.tryton_connector import GetParty, Tryton, TrytonLogin

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(scope="module")
def jsonrpc_server() -> Iterator[JsonRpcServer]:
    with JsonRpcServer() as server:
        yield server


@pytest.fixture
def server(jsonrpc_server: JsonRpcServer) -> JsonRpcServer:
    jsonrpc_server.state.reset()
    return jsonrpc_server


class TrytonOnClock(Tryton):
    """The Tryton connector with its login holds measured on a clock the test moves."""

    def __init__(self, settings: ConnectorSettings, clock: ManualClock) -> None:
        super().__init__(settings)
        self._clock = clock

    def build_auth(self) -> httpx.Auth:
        s = self.settings
        return TrytonLogin(s.database, s.login, s.password, system=self.name, clock=self._clock)


async def opened(server: JsonRpcServer, clock: ManualClock | None = None, **settings: Any) -> Tryton:
    loaded = Tryton.load_settings(**{"base_url": server.url, "password": SecretStr(PASSWORD), **settings})
    connector = Tryton(loaded) if clock is None else TrytonOnClock(loaded, clock)
    await connector.open()
    return connector


async def failures(connector: Tryton, times: int, *, concurrently: bool = False) -> list[RetrofitError]:
    async def one() -> RetrofitError:
        try:
            await connector.get_party(GetParty(party_id=1))
        except RetrofitError as error:
            return error
        raise AssertionError("the call succeeded")

    if concurrently:
        return list(await asyncio.gather(*(one() for _ in range(times))))
    return [await one() for _ in range(times)]


def flow(connector: Tryton) -> TrytonLogin:
    auth = connector.client.auth
    assert isinstance(auth, TrytonLogin)
    return auth


async def test_a_rate_limited_login_is_tried_once_and_is_a_lockout_error(server: JsonRpcServer) -> None:
    server.lock_out()  # another user mistyped the admin password three times
    connector = await opened(server)
    try:
        errors = await failures(connector, 20, concurrently=True)
        errors += await failures(connector, 5)
    finally:
        await connector.close()
    assert server.state.login_attempts == 1  # one login in flight; nobody logged in again
    assert server.state.failures == server.state.max_attempts + 1  # the one attempt Tryton counted
    assert all(isinstance(e, LoginLockedOut) and isinstance(e, AuthError) for e in errors)
    first = errors[0]
    assert first.message.startswith(
        "tryton_test POST /tryton_demo/ common.db.login: the system refuses logins"
    )
    assert "429" in first.message and "no login will be tried from this connector for 5 min" in first.message
    assert first.delivery is Delivery.ANSWERED
    # The activity fails at once: Temporal does not retry it into another login.
    failure = classify(first).to_application_error()
    assert failure.non_retryable and failure.type == "AuthError"
    assert PASSWORD not in " ".join(e.message for e in errors)


async def test_retry_after_is_the_hold_and_no_login_goes_out_before_it(server: JsonRpcServer) -> None:
    server.lock_out()
    server.state.retry_after = 120
    clock = ManualClock()
    connector = await opened(server, clock)
    try:
        (error,) = await failures(connector, 1)
        assert isinstance(error, LoginLockedOut) and error.retry_after == timedelta(seconds=120)
        clock.now += 119
        (held,) = await failures(connector, 1)
        assert isinstance(held, LoginLockedOut) and held.retry_after == timedelta(seconds=1)
        assert "[held: 1 s before the next login attempt]" in held.message
        assert server.state.login_attempts == 1
        clock.now += 1  # the hold is over: one attempt, which meets the lockout again
        await failures(connector, 3, concurrently=True)
        assert server.state.login_attempts == 2
    finally:
        await connector.close()


async def test_a_wrong_password_is_tried_once_and_never_locks_the_account(server: JsonRpcServer) -> None:
    clock = ManualClock()
    connector = await opened(server, clock, password=SecretStr("mistyped-password-1"))
    try:
        errors = await failures(connector, 10)
        errors += await failures(connector, 10, concurrently=True)
        assert server.state.login_attempts == 1 and not server.state.locked
        assert all(type(e) is AuthError for e in errors)
        assert "refused our credentials (401)" in errors[0].message
        assert "mistyped-password-1" not in " ".join(e.message for e in errors)
        clock.now += flow(connector).refusal_hold  # five minutes later: one attempt again
        await failures(connector, 5, concurrently=True)
        assert server.state.login_attempts == 2 and not server.state.locked
    finally:
        await connector.close()


async def test_a_login_the_server_cannot_serve_is_retryable_and_shared_by_the_waiters(
    server: JsonRpcServer,
) -> None:
    server.state.login_unavailable = 1
    connector = await opened(server)
    try:
        errors = await failures(connector, 10, concurrently=True)
        assert server.state.login_attempts == 1
        assert all(isinstance(e, RetryableError) for e in errors)
        assert all(e.retry_after == timedelta(seconds=7) for e in errors if isinstance(e, RetryableError))
        # Those that waited for the failed login were never sent.
        assert sum(e.delivery is Delivery.NOT_SENT for e in errors) == 9
        # Not held: the activity's retry (after Retry-After) logs in.
        party = await connector.get_party(GetParty(party_id=2))
        assert party.name == "Fratelli Rossi S.p.A." and server.state.login_attempts == 2
    finally:
        await connector.close()


async def test_an_expired_session_logs_in_again_once(server: JsonRpcServer) -> None:
    connector = await opened(server)
    try:
        await connector.get_party(GetParty(party_id=1))
        server.state.sessions.clear()  # the server restarted
        results = await asyncio.gather(*(connector.get_party(GetParty(party_id=1)) for _ in range(8)))
    finally:
        await connector.close()
    assert {p.id for p in results} == {1}
    assert server.state.login_attempts == 2


async def test_clear_hold_after_the_account_is_unlocked(server: JsonRpcServer) -> None:
    server.lock_out()
    connector = await opened(server)
    try:
        await failures(connector, 2)
        server.state.failures = 0  # an operator unlocked the account
        await failures(connector, 1)  # still held: the connector does not know
        assert server.state.login_attempts == 1
        flow(connector).clear_hold()
        assert (await connector.get_party(GetParty(party_id=1))).code == "P-001"
        assert server.state.login_attempts == 2
    finally:
        await connector.close()


class NaiveLogin(TrytonLogin):
    """A login hook that trusts the answer to be JSON, as a first draft does."""

    def accept(self, response: httpx.Response) -> str:
        user_id, session = response.json()["result"]
        return f"{self.login}:{user_id}:{session}"


class NaiveTryton(Tryton):
    def build_auth(self) -> httpx.Auth:
        s = self.settings
        return NaiveLogin(s.database, s.login, s.password, system=self.name)


async def test_a_login_answer_the_hook_cannot_read_fails_unretried(server: JsonRpcServer) -> None:
    server.state.login_page = True
    naive = NaiveTryton(NaiveTryton.load_settings(base_url=server.url, password=SecretStr(PASSWORD)))
    await naive.open()
    try:
        (error,) = await failures(naive, 1)
    finally:
        await naive.close()
    assert type(error) is NonRetryableError and not classify(error).retryable  # no activity retry
    assert "the answer to the login could not be read (JSONDecodeError); not retried" in error.message
    # The careful hook says so itself, as a refusal: held, so three calls cost one more login.
    careful = await opened(server)
    try:
        errors = await failures(careful, 3)
    finally:
        await careful.close()
    assert all(type(e) is AuthError and "without a session" in e.message for e in errors)
    assert server.state.login_attempts == 2


@pytest.mark.parametrize(
    ("status", "body", "locked"),
    [
        (423, "Locked", True),
        (403, '{"error": "account locked after too many failed attempts"}', True),
        (401, "Your account is temporarily blocked", True),
        (403, "Forbidden", False),
        (400, '{"error": "invalid_grant"}', False),
    ],
)
async def test_what_counts_as_a_lockout(status: int, body: str, locked: bool) -> None:
    def login(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text=body, headers={"Content-Type": "application/json"})

    auth = TrytonLogin("db", "admin", SecretStr("pw-123"), system="probe")
    response = login(httpx.Request("POST", "http://erp.example/db/"))
    response.request = httpx.Request("POST", "http://erp.example/db/")
    error = auth.refused(response)
    assert isinstance(error, AuthError)
    assert isinstance(error, LoginLockedOut) is locked
