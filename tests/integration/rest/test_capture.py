"""What the REST base attaches to the audit record: useful outlines, never a credential."""

from __future__ import annotations

import json

import httpx
import pytest
from pydantic import SecretStr

from connectors.crm.connector import CrmConnector
from connectors.crm.models import AddNote, GetAccount
from connectors.rest import SessionAuth
from legacy.crm.server import CrmServer
from retrofit.http_serving import ThreadedUvicorn
from retrofit.redaction import REDACTED
from retrofit.sdk import ActionInputError, RetryableError
from retrofit.sdk.context import ActionContext
from tests.integration.rest import auth_probe
from tests.integration.rest.support import ProbeConnector, admin, running_call

pytestmark = pytest.mark.timeout(30)


def assert_no_credentials(context: ActionContext, *secrets: str) -> str:
    dumped = json.dumps(context.exchanges)
    for secret in secrets:
        assert secret not in dumped
    lowered = dumped.lower()
    for word in ("authorization", "bearer", "cookie", "x-api-key", "client_secret", "access_token"):
        assert word not in lowered, word
    return dumped


async def test_token_fetch_read_and_write_are_captured_without_credentials(
    crm: CrmServer, connector: CrmConnector
) -> None:
    with running_call("wf-crm-test#capture") as context:
        await connector.get_account(GetAccount(account_id="A-2004"))
        await connector.add_note(AddNote(account_id="A-2004", body="Prefers invoices by e-mail."))

    token_fetch, read, write = context.exchanges
    assert (token_fetch["method"], token_fetch["path"], token_fetch["status"]) == (
        "POST",
        "/oauth/token",
        200,
    )
    assert "request_body" not in token_fetch and "response_body" not in token_fetch

    assert (read["method"], read["path"], read["status"]) == ("GET", "/accounts/A-2004", 200)
    assert '"name":"Fratelli Rossi S.p.A."' in read["response_body"]
    assert read["duration_ms"] >= 0

    assert (write["method"], write["status"], write["idempotency_key"]) == (
        "POST",
        201,
        "wf-crm-test#capture",
    )
    assert (
        write["request_body"] == '{"body":"Prefers invoices by e-mail.","created_by":"retrofit:wf-crm-test"}'
    )
    assert write["response_headers"]["content-type"] == "application/json"

    assert_no_credentials(context, crm.client_secret, *crm.state.tokens.active_tokens())


async def test_failures_are_captured_too(crm: CrmServer, connector: CrmConnector) -> None:
    await connector.get_account(GetAccount(account_id="A-2001"))  # outside a call: nothing captured
    await admin(crm.url, "POST", "faults", {"fail_next": 1, "status": 429, "retry_after": 3})
    with running_call("wf-crm-test#failures") as context:
        with pytest.raises(RetryableError):
            await connector.get_account(GetAccount(account_id="A-2001"))
        with pytest.raises(ActionInputError):
            await connector.get_account(GetAccount(account_id="A-0000"))
        await admin(crm.url, "POST", "faults", {"drop_next": 1})
        with pytest.raises(RetryableError):
            await connector.get_account(GetAccount(account_id="A-2001"))

    limited, missing, dropped = context.exchanges
    assert (limited["status"], limited["response_headers"]["retry-after"]) == (429, "3")
    assert (missing["status"], missing["response_body"]) == (
        404,
        '{"error":"not_found","message":"account \'A-0000\' not found"}',
    )
    assert (dropped["status"], dropped["error"]) == (None, "RemoteProtocolError")
    assert_no_credentials(context, *crm.state.tokens.active_tokens())


async def test_secret_named_fields_and_query_parameters_are_redacted(probe: ThreadedUvicorn) -> None:
    conn = ProbeConnector(probe.url)
    await conn.open()
    try:
        with running_call("wf-probe#leaky") as context:
            await conn.request("GET", "/leaky", params={"api_key": "q-secret-1", "page": 2})
    finally:
        await conn.close()
    (exchange,) = context.exchanges
    assert exchange["query"] == {"api_key": REDACTED, "page": "2"}
    body = exchange["response_body"]
    assert auth_probe.LEAKED_TOKEN not in body and auth_probe.PASSWORD not in body
    assert json.loads(body) == {
        "id": 7,
        "api_token": REDACTED,
        "owner": {"password": REDACTED},
        "hint": f"token={REDACTED}",  # free text is scrubbed too
    }


async def test_session_login_and_cookie_stay_out_of_the_trail(probe: ThreadedUvicorn) -> None:
    auth = SessionAuth(
        "/session/login", {"username": auth_probe.USER, "password": SecretStr(auth_probe.PASSWORD)}
    )
    conn = ProbeConnector(probe.url, auth)
    await conn.open()
    try:
        with running_call("wf-probe#session") as context:
            await conn.request("GET", "/session/whoami")
    finally:
        await conn.close()
    login, whoami = context.exchanges
    assert (login["path"], login["status"], whoami["status"]) == ("/session/login", 200, 200)
    dumped = assert_no_credentials(context, auth_probe.PASSWORD)
    assert "probe_session" not in dumped


async def test_a_renewal_after_401_shows_in_the_exchange(crm: CrmServer, connector: CrmConnector) -> None:
    await connector.get_account(GetAccount(account_id="A-2001"))
    await admin(crm.url, "POST", "tokens/revoke")
    with running_call("wf-crm-test#renewal") as context:
        await connector.get_account(GetAccount(account_id="A-2001"))
    token_fetch, read = context.exchanges
    assert (token_fetch["path"], read["status"]) == ("/oauth/token", 200)
    assert read["preceded_by"] == ["GET /accounts/A-2001 401", "POST /oauth/token 200"]


async def test_form_bodies_are_redacted_and_big_bodies_only_measured() -> None:
    big = b'{"rows": [' + b",".join(b'{"n": %d}' % n for n in range(40_000)) + b"]}"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=big, headers={"content-type": "application/json"})

    conn = ProbeConnector("http://legacy.test", transport=httpx.MockTransport(handler))
    await conn.open()
    try:
        with running_call("wf-probe#form") as context:
            await conn.request("POST", "/login", data={"user": "ops", "password": "pw-in-form"})
    finally:
        await conn.close()
    (exchange,) = context.exchanges
    assert json.loads(exchange["request_body"]) == {"user": "ops", "password": REDACTED}
    assert exchange["response_body"] == f"({len(big)} bytes of application/json)"


def test_a_body_without_secret_names_still_has_its_pii_replaced() -> None:
    from connectors.rest.body_excerpt import excerpt_content

    body = b'{"contact": "anna.becker@nordwind.example", "phone": "+49 40 3190 2210", "note": "ok"}'
    excerpt = excerpt_content(body, "application/json")
    assert "nordwind.example" not in excerpt and "3190" not in excerpt
    assert "[EMAIL]" in excerpt and "[PHONE]" in excerpt
