"""The identity service over real HTTP on loopback: auth, binding, lifetimes, sessions, the login
page, /encode stamping and CORS — and what an attacker tries against each."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from retrofit.embedded.identity_server import IdentityServer
from retrofit.identity.directory import Directory
from retrofit.identity.keys import identity_pin
from retrofit.identity.tokens import IdentityRefused, verify_answer, verify_start
from retrofit.settings import RetrofitSettings
from tests.integration.identity.conftest import UI_ORIGIN

HASH = "0123456789abcdef" * 4
ANSWER = {"workflow_id": "wf-1", "request_id": "apr-1", "args_hash": HASH, "decision": "approve"}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _verify(settings: RetrofitSettings, token: str, **binding: str) -> Any:
    bound = {**ANSWER, **binding}
    return verify_answer(
        token,
        identity_pin(settings),
        now=datetime.now(UTC),
        workflow_id=bound["workflow_id"],
        request_id=bound["request_id"],
        args_hash=bound["args_hash"],
        decision=bound["decision"],
    )


@pytest.fixture
def http(identity_server: IdentityServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=identity_server.local_url, timeout=10) as client:
        yield client


def test_password_answer_is_signed_bound_short_lived_and_unique(
    http: httpx.Client, identity_settings: RetrofitSettings
) -> None:
    first = http.post("/identity/answers", json=ANSWER, headers=basic("ALICE", "demo-alice"))
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["subject"] == "alice" and body["groups"] == ["finance"]
    claims = _verify(identity_settings, body["assertion"])
    assert (claims.sub, claims.groups, claims.via) == ("alice", ("finance",), "password")
    assert claims.exp - claims.iat == 300 <= identity_pin(identity_settings).max_ttl_seconds
    second = http.post("/identity/answers", json=ANSWER, headers=basic("alice", "demo-alice")).json()
    assert _verify(identity_settings, second["assertion"]).jti != claims.jti
    # Bound: the same assertion does not answer another request, hash or decision.
    for other in (
        {"request_id": "apr-2"},
        {"args_hash": "f" * 64},
        {"decision": "reject"},
        {"workflow_id": "wf-2"},
    ):
        with pytest.raises(IdentityRefused, match="signed answer is for"):
            _verify(identity_settings, body["assertion"], **other)


def test_start_assertion(http: httpx.Client, identity_settings: RetrofitSettings) -> None:
    response = http.post(
        "/identity/starts",
        json={"workflow_id": "wf-9", "workflow_type": "SingleAction"},
        headers=basic("erin", "demo-erin"),
    )
    assert response.status_code == 200, response.text
    claims = verify_start(
        response.json()["assertion"],
        identity_pin(identity_settings),
        now=datetime.now(UTC),
        workflow_id="wf-9",
        workflow_type="SingleAction",
    )
    assert (claims.sub, claims.groups) == ("erin", ("ops",))
    # An answer assertion is no start, and a start no answer (audiences differ).
    with pytest.raises(IdentityRefused, match="not meant for"):
        _verify(identity_settings, response.json()["assertion"])


def test_unknown_user_and_wrong_password_are_one_answer_then_slowed(http: httpx.Client) -> None:
    wrong = http.post("/identity/answers", json=ANSWER, headers=basic("bob", "demo-alice"))
    unknown = http.post("/identity/answers", json=ANSWER, headers=basic("mallory", "demo-alice"))
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"error": "unknown user or wrong password"}
    for _ in range(4):
        http.post("/identity/answers", json=ANSWER, headers=basic("bob", "guess"))
    slowed = http.post("/identity/answers", json=ANSWER, headers=basic("bob", "demo-bob"))
    assert slowed.status_code == 429, "five failures in a minute: even the right password waits"
    # Another user is not affected.
    assert (
        http.post("/identity/answers", json=ANSWER, headers=basic("carol", "demo-carol")).status_code == 200
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic !!!"},
        {"Authorization": "Basic " + base64.b64encode(b"nocolon").decode()},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Negotiate abc"},
    ],
)
def test_no_or_bad_credentials(http: httpx.Client, headers: dict[str, str]) -> None:
    response = http.post("/identity/answers", json=ANSWER, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]


@pytest.mark.parametrize(
    "change",
    [
        {"args_hash": HASH.upper()},
        {"args_hash": " " + HASH},
        {"args_hash": HASH[:12]},
        {"decision": "maybe"},
        {"request_id": ""},
        {"extra": "field"},
    ],
)
def test_an_answer_must_name_exactly_what_was_shown(http: httpx.Client, change: dict[str, str]) -> None:
    response = http.post("/identity/answers", json={**ANSWER, **change}, headers=basic("alice", "demo-alice"))
    assert response.status_code == 422, response.text


def test_session_login_use_logout(http: httpx.Client, identity_settings: RetrofitSettings) -> None:
    login = http.post("/identity/session", headers=basic("dave", "demo-dave"))
    assert login.status_code == 200, login.text
    session = login.json()["session"]
    assert login.json()["subject"] == "dave"
    signed = http.post("/identity/answers", json=ANSWER, headers=bearer(session))
    assert signed.status_code == 200
    assert _verify(identity_settings, signed.json()["assertion"]).groups == ("controllers",)
    # A session is never an answer: the workflow refuses its audience.
    with pytest.raises(IdentityRefused):
        _verify(identity_settings, session)
    # A session cannot mint another session (stolen-session extension).
    assert http.post("/identity/session", headers=bearer(session)).status_code == 401
    assert http.get("/identity/whoami", headers=bearer(session)).json()["subject"] == "dave"
    assert http.post("/identity/logout", headers=bearer(session)).status_code == 200
    after = http.post("/identity/answers", json=ANSWER, headers=bearer(session))
    assert after.status_code == 401 and "logged out" in after.json()["error"]


def test_a_removed_user_session_stops_working(tmp_path: Path) -> None:
    directory = tmp_path / "users.toml"
    Directory(directory).add_user("frank", "pw-frank", groups=("finance",))
    settings = RetrofitSettings(data_dir=tmp_path, identity_directory=directory)
    server = IdentityServer(settings, port=0)
    server.start()
    try:
        with httpx.Client(base_url=server.local_url) as http:
            session = http.post("/identity/session", headers=basic("frank", "pw-frank")).json()["session"]
            assert http.post("/identity/answers", json=ANSWER, headers=bearer(session)).status_code == 200
            Directory(directory).remove_user("frank")
            gone = http.post("/identity/answers", json=ANSWER, headers=bearer(session))
            assert gone.status_code == 401 and "no longer" in gone.json()["error"]
    finally:
        server.stop()


def test_a_session_signed_by_another_key_is_refused(http: httpx.Client, tmp_path: Path) -> None:
    other = IdentityServer(RetrofitSettings(data_dir=tmp_path / "other", identity_directory=None), port=0)
    forged, _ = other.service.sessions.issue("alice", "Alice", ("finance",), "oidc")
    response = http.post("/identity/answers", json=ANSWER, headers=bearer(forged))
    assert response.status_code == 401


# -- the login page ------------------------------------------------------------------------------


def _login(http: httpx.Client, user: str, password: str) -> httpx.Response:
    page = http.get("/login")
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    return http.post("/login", data={"username": user, "password": password, "csrf": csrf})


def test_login_page_is_accessible_and_self_contained(http: httpx.Client) -> None:
    page = http.get("/login")
    assert page.status_code == 200
    html = page.text
    assert '<html lang="en">' in html
    assert '<label for="username">' in html and 'id="username"' in html
    assert '<label for="password">' in html and 'type="password"' in html
    assert "<script" not in html and "http" not in html.split("<body>")[1].split("Temporal UI")[0]
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"


def test_login_sets_an_httponly_lax_cookie_and_shows_who(http: httpx.Client) -> None:
    failed = _login(http, "alice", "wrong")
    assert failed.status_code == 401 and 'role="alert"' in failed.text
    assert "Unknown user or wrong password." in failed.text
    assert "retrofit_session" not in failed.headers.get("set-cookie", "")
    done = _login(http, "alice", "demo-alice")
    assert done.status_code == 303
    cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith("retrofit_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    page = http.get("/login")
    assert (
        "Signed in as <strong>alice</strong>" in page.text and "Include cross-origin credentials" in page.text
    )
    assert http.get("/identity/whoami").json()["subject"] == "alice"
    # Logging out ends it (and the old cookie value no longer works either).
    old = http.cookies.get("retrofit_session")
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    assert http.post("/logout", data={"csrf": csrf}).status_code == 303
    assert http.get("/identity/whoami").status_code == 401
    replay = httpx.get(f"{http.base_url}/identity/whoami", cookies={"retrofit_session": old or ""})
    assert replay.status_code == 401


def test_login_form_without_its_csrf_token_is_refused(http: httpx.Client) -> None:
    response = http.post("/login", data={"username": "alice", "password": "demo-alice", "csrf": "forged"})
    assert response.status_code == 400
    assert "retrofit_session" not in response.headers.get("set-cookie", "")


# -- /encode stamping ------------------------------------------------------------------------------


def _payload(value: Any, encoding: bytes = b"json/plain") -> dict[str, Any]:
    return {
        "metadata": {"encoding": base64.b64encode(encoding).decode()},
        "data": base64.b64encode(json.dumps(value).encode()).decode(),
    }


def _data(payload: dict[str, Any]) -> Any:
    return json.loads(base64.b64decode(payload["data"]))


def _encode(http: httpx.Client, *values: Any, origin: str | None = UI_ORIGIN) -> list[Any]:
    headers = {"Origin": origin} if origin else {}
    response = http.post("/encode", json={"payloads": [_payload(v) for v in values]}, headers=headers)
    assert response.status_code == 200, response.text
    return [_data(p) for p in response.json()["payloads"]]


def test_encode_stamps_an_unsigned_answer_as_the_logged_in_person(
    http: httpx.Client, identity_settings: RetrofitSettings
) -> None:
    typed = {**ANSWER, "reason": "ok", "approver": "the CEO"}
    assert _encode(http, typed) == [typed], "not logged in: unchanged (the workflow refuses it)"
    assert _login(http, "bob", "demo-bob").status_code == 303
    start_input = {"action": "ledger.set_credit_limit", "arguments": {}}
    [stamped, untouched] = _encode(http, typed, start_input)
    assert untouched == start_input
    assert stamped["approver"] == "bob", "the typed name is replaced by the verified subject"
    assert stamped["reason"] == "ok"
    assert _verify(identity_settings, stamped["assertion"]).sub == "bob"
    # A failure escalation answers with `choice`.
    choice = {"workflow_id": "wf-1", "request_id": "fail-3-1", "args_hash": HASH, "choice": "skip"}
    [resolved] = _encode(http, choice)
    assert (
        _verify(identity_settings, resolved["assertion"], request_id="fail-3-1", decision="skip").sub == "bob"
    )
    # Already signed (by whoever): left alone. A hash that is not exact: left for the workflow to refuse.
    signed = {**ANSWER, "assertion": "x.y.z"}
    padded = {**ANSWER, "args_hash": HASH + " "}
    assert _encode(http, signed, padded) == [signed, padded]


def test_encode_stamps_nothing_for_another_origin(http: httpx.Client) -> None:
    assert _login(http, "bob", "demo-bob").status_code == 303
    assert _encode(http, ANSWER, origin="http://evil.example") == [ANSWER]


def test_encode_with_codec_keys_stamps_before_encrypting(tmp_path: Path) -> None:
    import asyncio

    from google.protobuf import json_format
    from temporalio.api.common.v1 import Payloads

    from retrofit.codec.converter import codec_from_settings
    from retrofit.embedded.identity_server import DEMO_DIRECTORY

    key = base64.b64encode(b"k" * 32).decode()
    settings = RetrofitSettings(
        data_dir=tmp_path,
        identity_directory=DEMO_DIRECTORY,
        codec_keys=f"k1:{key}",
        codec_active_key="k1",
        codec_cors_origins=UI_ORIGIN,
    )
    server = IdentityServer(settings, port=0)
    server.start()
    try:
        with httpx.Client(base_url=server.local_url) as http:
            _login(http, "carol", "demo-carol")
            response = http.post(
                "/encode", json={"payloads": [_payload(ANSWER)]}, headers={"Origin": UI_ORIGIN}
            )
            encrypted = response.json()["payloads"][0]
            assert base64.b64decode(encrypted["metadata"]["encoding"]) == b"binary/encrypted"
            codec = codec_from_settings(settings)
            assert codec is not None
            proto = json_format.ParseDict({"payloads": [encrypted]}, Payloads())
            [plain] = asyncio.run(codec.decode(list(proto.payloads)))
            assert json.loads(plain.data)["approver"] == "carol"
            assert _verify(settings, json.loads(plain.data)["assertion"]).sub == "carol"
    finally:
        server.stop()


# -- CORS --------------------------------------------------------------------------------------------


def test_cors_allows_credentials_only_for_the_ui_origin(http: httpx.Client) -> None:
    def preflight(origin: str) -> httpx.Response:
        return http.options(
            "/encode",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,x-namespace",
            },
        )

    ok = preflight(UI_ORIGIN)
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == UI_ORIGIN
    assert ok.headers["access-control-allow-credentials"] == "true"
    evil = preflight("http://evil.example")
    assert evil.status_code == 400
    assert "access-control-allow-origin" not in evil.headers
    simple = http.post("/decode", json={"payloads": []}, headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


def test_behind_tls_the_cookies_are_secure_host_only(tmp_path: Path) -> None:
    from retrofit.embedded.identity_server import DEMO_DIRECTORY

    settings = RetrofitSettings(
        data_dir=tmp_path, identity_directory=DEMO_DIRECTORY, identity_cookie_secure=True
    )
    server = IdentityServer(settings, port=0)
    server.start()
    try:
        with httpx.Client(base_url=server.local_url) as http:
            page = http.get("/login")
            csrf_cookie = page.headers["set-cookie"]
            assert csrf_cookie.startswith("__Host-retrofit_csrf=") and "Secure" in csrf_cookie
            csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
            # Over plain http the client keeps no Secure cookie: hand it back as a browser on TLS would.
            http.cookies.set("__Host-retrofit_csrf", csrf)
            done = http.post("/login", data={"username": "erin", "password": "demo-erin", "csrf": csrf})
            assert done.status_code == 303
            session = done.headers["set-cookie"]
            assert session.startswith("__Host-retrofit_session=")
            assert "Secure" in session and "HttpOnly" in session and "Domain" not in session
    finally:
        server.stop()
