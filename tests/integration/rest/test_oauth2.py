"""OAuth2 client credentials against the CRM's real token endpoint: fetch once, renew, retry once."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr

from connectors.crm.connector import CrmConnector
from connectors.crm.models import AddNote, GetAccount
from connectors.rest import OAuth2ClientCredentials
from legacy.crm.server import CrmServer
from retrofit.sdk import AuthError, RetryableError
from tests.integration.rest.support import (
    CrmOnClock,
    ManualClock,
    ProbeConnector,
    admin,
    crm_connector,
    running_call,
)

pytestmark = pytest.mark.timeout(30)

A_2001 = GetAccount(account_id="A-2001")


async def tokens_issued(crm: CrmServer) -> int:
    return int((await admin(crm.url, "GET", "tokens"))["issued"])


async def account_reads(crm: CrmServer) -> int:
    return int((await admin(crm.url, "GET", "requests"))["by_path"].get("GET /accounts/A-2001", 0))


async def test_token_is_fetched_once_and_reused(crm: CrmServer, connector: CrmConnector) -> None:
    for _ in range(3):
        await connector.get_account(A_2001)
    await asyncio.gather(*(connector.get_account(A_2001) for _ in range(10)))
    assert await tokens_issued(crm) == 1


async def test_concurrent_first_calls_share_one_fetch(crm: CrmServer, connector: CrmConnector) -> None:
    await asyncio.gather(*(connector.get_account(A_2001) for _ in range(10)))
    assert await tokens_issued(crm) == 1


async def test_token_is_renewed_before_it_expires(crm: CrmServer) -> None:
    await admin(crm.url, "POST", "tokens", {"lifetime_seconds": 60})
    clock = ManualClock()
    conn = CrmOnClock(CrmConnector.load_settings(base_url=crm.url), clock)
    await conn.open()
    try:
        await conn.get_account(A_2001)
        clock.now += 20  # the margin is min(30 s, half the lifetime): renewal is due at 30 s
        await conn.get_account(A_2001)
        assert await tokens_issued(crm) == 1
        clock.now += 15
        await conn.get_account(A_2001)
    finally:
        await conn.close()
    assert await tokens_issued(crm) == 2
    assert await account_reads(crm) == 3  # renewed up front: no request was refused and resent


async def test_revoked_token_is_fetched_again_once(crm: CrmServer, connector: CrmConnector) -> None:
    await connector.get_account(A_2001)
    await admin(crm.url, "POST", "tokens/revoke")
    account = await connector.get_account(A_2001)
    assert account.id == "A-2001"
    assert await tokens_issued(crm) == 2
    assert await account_reads(crm) == 3  # the refused one, and the same request resent


async def test_a_token_refused_twice_is_an_auth_error(crm: CrmServer, connector: CrmConnector) -> None:
    await connector.get_account(A_2001)
    await admin(crm.url, "POST", "faults", {"fail_next": 5, "status": 401, "path_prefix": "/accounts"})
    with pytest.raises(AuthError, match="401"):
        await connector.get_account(A_2001)
    # One renewal and one resend, no more: a system that keeps refusing gets no hammering.
    assert await tokens_issued(crm) == 2
    assert await account_reads(crm) == 3


async def test_wrong_client_secret_is_an_auth_error_naming_no_secret(crm: CrmServer) -> None:
    wrong = "wrong-secret-4b7e"
    conn = crm_connector(crm.url, client_secret=wrong)
    await conn.open()
    try:
        with pytest.raises(AuthError) as caught:
            await conn.get_account(A_2001)
    finally:
        await conn.close()
    assert "401" in caught.value.message and "invalid_client" in caught.value.message
    for text in (str(caught.value), caught.value.details or ""):
        assert wrong not in text and crm.client_secret not in text
    assert await account_reads(crm) == 0  # nothing was sent without a token


async def test_unknown_scope_is_an_auth_error(crm: CrmServer) -> None:
    conn = crm_connector(crm.url, scope="crm.admin")
    await conn.open()
    try:
        with pytest.raises(AuthError, match=r"400.*invalid_scope"):
            await conn.get_account(A_2001)
    finally:
        await conn.close()


async def test_missing_scope_for_a_write_is_an_auth_error(crm: CrmServer) -> None:
    conn = crm_connector(crm.url, scope="crm.read")
    await conn.open()
    try:
        await conn.get_account(A_2001)
        with running_call("wf-crm-test#scope"), pytest.raises(AuthError, match=r"403.*insufficient_scope"):
            await conn.add_note(AddNote(account_id="A-2001", body="not allowed"))
    finally:
        await conn.close()
    assert await tokens_issued(crm) == 1  # 403 is not "token expired": no renewal


async def test_token_endpoint_unavailable_is_retryable(crm: CrmServer, connector: CrmConnector) -> None:
    await admin(
        crm.url, "POST", "faults", {"fail_next": 1, "status": 503, "retry_after": 2, "path_prefix": "/oauth"}
    )
    with pytest.raises(RetryableError, match="503") as caught:
        await connector.get_account(A_2001)
    assert caught.value.retry_after is not None and caught.value.retry_after.total_seconds() == 2
    assert (await connector.get_account(A_2001)).id == "A-2001"


async def test_client_credentials_as_http_basic(crm: CrmServer) -> None:
    auth = OAuth2ClientCredentials(
        "/oauth/token", crm.client_id, SecretStr(crm.client_secret), client_auth="basic"
    )
    conn = ProbeConnector(crm.url, auth)
    await conn.open()
    try:
        response = await conn.request("GET", "/accounts/A-2002")
    finally:
        await conn.close()
    assert response.json()["name"] == "Harbor & Pine Distributors Ltd"
