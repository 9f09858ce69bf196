"""A tiny Starlette app that checks each simple auth scheme, for the REST base's auth-flow tests.

    GET  /api-key/whoami     X-Api-Key: <API_KEY>
    GET  /basic/whoami       HTTP Basic USER:PASSWORD
    GET  /bearer/whoami      Authorization: Bearer <BEARER_TOKEN>
    POST /session/login      form or JSON {"username", "password"} -> sets the `probe_session` cookie
    GET  /session/whoami     needs a live `probe_session` cookie
    GET  /leaky              answers secret-named fields, for the capture's redaction
    GET  /_admin/health, GET /_admin/counts, POST /_admin/sessions/expire, POST /_admin/reset

Every refusal is 401 `{"error": ...}`. Served with `retrofit.http_serving.ThreadedUvicorn`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import threading
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

API_KEY = "probe-api-key-7d1e"
USER = "ops"
PASSWORD = "probe-password-51ab"
BEARER_TOKEN = "probe-static-token-c3f0"
LEAKED_TOKEN = "leaked-token-9a9a"


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _refused(why: str) -> Response:
    return JSONResponse({"error": "unauthorized", "message": why}, status_code=401)


class ProbeState:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.sessions: set[str] = set()
            self.logins = 0

    def login(self) -> str:
        session = secrets.token_urlsafe(16)
        with self._lock:
            self.sessions.add(session)
            self.logins += 1
        return session

    def live(self, session: str | None) -> bool:
        with self._lock:
            return session in self.sessions

    def expire(self) -> None:
        with self._lock:
            self.sessions.clear()


def create_probe_app(state: ProbeState) -> Starlette:
    async def api_key(request: Request) -> Response:
        if not _same(request.headers.get("x-api-key", ""), API_KEY):
            return _refused("missing or wrong API key")
        return JSONResponse({"scheme": "api_key"})

    async def basic(request: Request) -> Response:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return _refused("malformed Basic credentials")
        if scheme.lower() != "basic" or not (_same(user, USER) and _same(password, PASSWORD)):
            return _refused("wrong user or password")
        return JSONResponse({"scheme": "basic", "user": user})

    async def bearer(request: Request) -> Response:
        if not _same(request.headers.get("authorization", ""), f"Bearer {BEARER_TOKEN}"):
            return _refused("missing or wrong bearer token")
        return JSONResponse({"scheme": "bearer"})

    async def login(request: Request) -> Response:
        if request.headers.get("content-type", "").startswith("application/json"):
            body = await request.json()
        else:
            body = dict(parse_qsl((await request.body()).decode()))
        if not (
            _same(str(body.get("username", "")), USER) and _same(str(body.get("password", "")), PASSWORD)
        ):
            return _refused("wrong user or password")
        response = JSONResponse({"status": "logged in"})
        response.set_cookie("probe_session", state.login(), path="/", httponly=True)
        return response

    async def session_whoami(request: Request) -> Response:
        if not state.live(request.cookies.get("probe_session")):
            return _refused("no live session")
        return JSONResponse({"scheme": "session"})

    async def leaky(request: Request) -> Response:
        return JSONResponse(
            {
                "id": 7,
                "api_token": LEAKED_TOKEN,
                "owner": {"password": PASSWORD},
                "hint": f"token={LEAKED_TOKEN}",
            }
        )

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def counts(request: Request) -> Response:
        return JSONResponse({"logins": state.logins, "sessions": len(state.sessions)})

    async def expire(request: Request) -> Response:
        state.expire()
        return JSONResponse({"status": "expired"})

    async def reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"status": "reset"})

    return Starlette(
        routes=[
            Route("/api-key/whoami", api_key),
            Route("/basic/whoami", basic),
            Route("/bearer/whoami", bearer),
            Route("/session/login", login, methods=["POST"]),
            Route("/session/whoami", session_whoami),
            Route("/leaky", leaky),
            Route("/_admin/health", health),
            Route("/_admin/counts", counts),
            Route("/_admin/sessions/expire", expire, methods=["POST"]),
            Route("/_admin/reset", reset, methods=["POST"]),
        ]
    )
