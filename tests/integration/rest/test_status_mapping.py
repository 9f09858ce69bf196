"""HTTP failures become the right Retrofit errors: against the CRM's faults, and a few scripted ones."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from connectors.crm.connector import CrmConnector
from connectors.crm.models import Account, GetAccount, SearchAccounts
from connectors.rest import parse_retry_after
from legacy.crm.server import CrmServer
from retrofit.redaction import REDACTED
from retrofit.sdk import (
    ActionInputError,
    AuthError,
    Delivery,
    NonRetryableError,
    NotSentError,
    OutcomeUnknownError,
    RetryableError,
)
from tests.integration.rest.support import ProbeConnector, admin, crm_connector

pytestmark = pytest.mark.timeout(30)

A_2001 = GetAccount(account_id="A-2001")


async def test_unknown_record_is_an_input_error_with_the_body(connector: CrmConnector) -> None:
    with pytest.raises(ActionInputError) as caught:
        await connector.get_account(GetAccount(account_id="A-9999"))
    assert caught.value.message.startswith("crm GET /accounts/A-9999 refused the request (404)")
    assert caught.value.details == '{"error":"not_found","message":"account \'A-9999\' not found"}'
    assert not caught.value.retryable


async def test_refused_arguments_are_an_input_error(connector: CrmConnector) -> None:
    # Bypasses the model's own validation on purpose, to see the CRM's 400 come back.
    invalid = SearchAccounts.model_construct(query=None, status="dormant", max_results=5)  # type: ignore[arg-type]
    with pytest.raises(ActionInputError, match="400") as caught:
        await connector.search_accounts(invalid)
    assert "status must be one of" in (caught.value.details or "")


@pytest.mark.parametrize(
    ("status", "retry_after", "expected"),
    [(503, 1, timedelta(seconds=1)), (429, 7, timedelta(seconds=7)), (500, None, None), (408, None, None)],
)
async def test_server_side_trouble_is_retryable_then_succeeds(
    crm: CrmServer,
    connector: CrmConnector,
    status: int,
    retry_after: int | None,
    expected: timedelta | None,
) -> None:
    plan = {"fail_next": 1, "status": status, "retry_after": retry_after, "path_prefix": "/accounts"}
    await admin(crm.url, "POST", "faults", plan)
    with pytest.raises(RetryableError) as caught:
        await connector.get_account(A_2001)
    assert caught.value.retry_after == expected
    assert f"answered {status}" in caught.value.message
    assert caught.value.delivery is Delivery.ANSWERED  # the system's own answer: nothing unknown
    # The fault was for one request: the retry Temporal makes succeeds.
    assert (await connector.get_account(A_2001)).id == "A-2001"


async def test_read_timeout_is_retryable(crm: CrmServer) -> None:
    conn = crm_connector(crm.url, read_timeout=0.1)
    await conn.open()
    try:
        await conn.get_account(A_2001)  # a token first, so the slowness meets the read itself
        await admin(crm.url, "POST", "faults", {"latency_ms": 500, "path_prefix": "/accounts"})
        with pytest.raises(RetryableError, match=r"timed out \(ReadTimeout\)") as caught:
            await conn.get_account(A_2001)
        # The request left: a write could have landed, and the error says so.
        assert isinstance(caught.value, OutcomeUnknownError)
        assert caught.value.delivery is Delivery.UNKNOWN
    finally:
        await conn.close()


async def test_dropped_connection_is_retryable(crm: CrmServer, connector: CrmConnector) -> None:
    await connector.get_account(A_2001)
    await admin(crm.url, "POST", "faults", {"drop_next": 1})
    with pytest.raises(RetryableError, match="failed in transit") as caught:
        await connector.get_account(A_2001)
    assert "RemoteProtocolError" in caught.value.message
    assert caught.value.delivery is Delivery.UNKNOWN and "may have landed" in caught.value.message
    assert (await connector.get_account(A_2001)).id == "A-2001"


async def test_refused_connection_is_retryable() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conn = crm_connector(f"http://127.0.0.1:{port}", connect_timeout=1)
    await conn.open()
    try:
        with pytest.raises(RetryableError, match="ConnectError") as caught:
            await conn.get_account(A_2001)
        # Nothing reached the system: a write could not have landed.
        assert isinstance(caught.value, NotSentError)
        assert caught.value.delivery is Delivery.NOT_SENT
    finally:
        await conn.close()


# -- scripted answers: statuses the CRM never sends ------------------------------------------------


async def answered(response: httpx.Response) -> Exception:
    conn = ProbeConnector("http://legacy.test", transport=httpx.MockTransport(lambda request: response))
    await conn.open()
    try:
        await conn.request("POST", "/orders?api_key=k-123", json={"qty": 1})
    except Exception as exc:
        return exc
    finally:
        await conn.close()
    raise AssertionError("the request succeeded")


async def test_forbidden_is_an_auth_error() -> None:
    error = await answered(httpx.Response(403, json={"error": "forbidden"}))
    assert isinstance(error, AuthError)
    assert "403" in str(error)


async def test_error_bodies_are_redacted_and_truncated() -> None:
    body = {"error": "bad", "password": "hunter2", "message": "retry with token=abc123 " + "x" * 1000}
    error = await answered(httpx.Response(422, json=body))
    assert isinstance(error, ActionInputError)
    details = error.details or ""
    assert "hunter2" not in details and "abc123" not in details and REDACTED in details
    assert len(details) <= 300 and details.endswith("…")
    assert "k-123" not in str(error)  # the query string never reaches a message


async def test_html_error_pages_are_summarised_as_text() -> None:
    page = "<html><body><h1>Bad Request</h1><p>session_id=s3cr3t</p>\n\n</body></html>"
    error = await answered(httpx.Response(400, text=page, headers={"content-type": "text/html"}))
    assert isinstance(error, ActionInputError)
    assert error.details is not None and "s3cr3t" not in error.details
    assert error.details.startswith("<html><body><h1>Bad Request</h1>")


async def test_a_redirect_is_a_configuration_error() -> None:
    error = await answered(httpx.Response(302, headers={"Location": "https://elsewhere.test/"}))
    assert isinstance(error, NonRetryableError) and not isinstance(error, ActionInputError)
    assert "unexpected 302" in str(error)


async def test_a_success_body_that_does_not_fit_is_not_retryable() -> None:
    conn = ProbeConnector(
        "http://legacy.test",
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json={"id": "A-1", "secret": "zz9"})),
    )
    await conn.open()
    try:
        with pytest.raises(NonRetryableError, match="not a Account: name: Field required") as caught:
            await conn.request_json("GET", "/accounts/A-1", expect=Account)
    finally:
        await conn.close()
    assert "zz9" not in str(caught.value) + (caught.value.details or "")


# -- Retry-After ------------------------------------------------------------------------------------


def test_retry_after_as_seconds_or_http_date() -> None:
    now = datetime(2025, 1, 20, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120") == timedelta(seconds=120)
    assert parse_retry_after(" 5 ") == timedelta(seconds=5)
    assert parse_retry_after("Mon, 20 Jan 2025 12:01:30 GMT", now=now) == timedelta(seconds=90)
    assert parse_retry_after("Mon, 20 Jan 2025 11:00:00 GMT", now=now) == timedelta(0)  # past: now
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-3") is None
    assert parse_retry_after(None) is None
