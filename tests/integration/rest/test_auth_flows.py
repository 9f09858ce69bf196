"""The simple auth flows, each against the auth probe on loopback: accepted, refused, renewed."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from pydantic import SecretStr

from connectors.rest import ApiKeyAuth, BasicAuth, BearerAuth, OAuth2ClientCredentials, SessionAuth
from retrofit.http_serving import ThreadedUvicorn
from retrofit.sdk import AuthError
from tests.integration.rest import auth_probe
from tests.integration.rest.support import ProbeConnector, admin

pytestmark = pytest.mark.timeout(30)


async def whoami(url: str, auth: httpx.Auth, path: str, times: int = 1) -> list[dict[str, str]]:
    conn = ProbeConnector(url, auth)
    await conn.open()
    try:
        return [(await conn.request("GET", path)).json() for _ in range(times)]
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("auth", "path", "expected"),
    [
        (ApiKeyAuth(SecretStr(auth_probe.API_KEY)), "/api-key/whoami", {"scheme": "api_key"}),
        (
            BasicAuth(auth_probe.USER, SecretStr(auth_probe.PASSWORD)),
            "/basic/whoami",
            {"scheme": "basic", "user": "ops"},
        ),
        (BearerAuth(SecretStr(auth_probe.BEARER_TOKEN)), "/bearer/whoami", {"scheme": "bearer"}),
    ],
    ids=["api_key", "basic", "bearer"],
)
async def test_static_credentials_are_accepted(
    probe: ThreadedUvicorn, auth: httpx.Auth, path: str, expected: dict[str, str]
) -> None:
    assert await whoami(probe.url, auth, path) == [expected]


@pytest.mark.parametrize(
    ("auth", "path"),
    [
        (ApiKeyAuth(SecretStr("wrong-key")), "/api-key/whoami"),
        (ApiKeyAuth(SecretStr(auth_probe.API_KEY), header="X-Other-Key"), "/api-key/whoami"),
        (BasicAuth(auth_probe.USER, SecretStr("wrong-password")), "/basic/whoami"),
        (BearerAuth(SecretStr("wrong-token")), "/bearer/whoami"),
    ],
    ids=["api_key", "api_key_header", "basic", "bearer"],
)
async def test_wrong_static_credentials_are_an_auth_error(
    probe: ThreadedUvicorn, auth: httpx.Auth, path: str
) -> None:
    with pytest.raises(AuthError, match="401") as caught:
        await whoami(probe.url, auth, path)
    assert "wrong-" not in str(caught.value)


def session(as_json: bool = False, password: str = auth_probe.PASSWORD) -> SessionAuth:
    credentials: dict[str, str | SecretStr] = {"username": auth_probe.USER, "password": SecretStr(password)}
    return SessionAuth("/session/login", credentials, as_json=as_json)


async def logins(probe: ThreadedUvicorn) -> int:
    return int((await admin(probe.url, "GET", "counts"))["logins"])


@pytest.mark.parametrize("as_json", [False, True], ids=["form", "json"])
async def test_session_logs_in_once_and_reuses_the_cookie(probe: ThreadedUvicorn, as_json: bool) -> None:
    assert (
        await whoami(probe.url, session(as_json), "/session/whoami", times=3) == [{"scheme": "session"}] * 3
    )
    assert await logins(probe) == 1


async def test_session_logs_in_again_once_after_it_expired(probe: ThreadedUvicorn) -> None:
    conn = ProbeConnector(probe.url, session())
    await conn.open()
    try:
        await conn.request("GET", "/session/whoami")
        await admin(probe.url, "POST", "sessions/expire")
        assert (await conn.request("GET", "/session/whoami")).json() == {"scheme": "session"}
        assert await logins(probe) == 2
        # Many calls meeting a dead session at once still cause one login, not one each.
        await admin(probe.url, "POST", "sessions/expire")
        await asyncio.gather(*(conn.request("GET", "/session/whoami") for _ in range(8)))
    finally:
        await conn.close()
    assert await logins(probe) == 3


async def test_session_with_a_wrong_password_is_an_auth_error(probe: ThreadedUvicorn) -> None:
    with pytest.raises(AuthError, match="session POST /session/login refused our credentials") as caught:
        await whoami(probe.url, session(password="wrong-password"), "/session/whoami")
    assert "wrong-password" not in str(caught.value)
    assert await logins(probe) == 0


def test_credential_flows_refuse_a_sync_client(probe: ThreadedUvicorn) -> None:
    flows: list[httpx.Auth] = [session(), OAuth2ClientCredentials("/token", "id", SecretStr("secret"))]
    for flow in flows:
        with httpx.Client(base_url=probe.url, auth=flow, verify=False) as client, pytest.raises(TypeError):
            client.get("/session/whoami")
