"""A JSON-RPC ERP on loopback that behaves as Tryton 8 does at the wire, plus an Odoo-style endpoint.

Tryton (`POST /{database}/`, bodies `{"id", "method", "params"}`, answers `{"id", "result"}` or
`{"id", "error": [name, args]}` with HTTP 200):

- `common.db.login` `[login, {"password": ...}]` answers `[user_id, session]`. A wrong password
  answers HTTP 401 and counts a failed attempt. Once `max_attempts` failures are counted the
  login is rate limited: every further login answers 429 **and counts another failure** (as
  Tryton's `LoginAttempt` does), so retrying a rate-limited login keeps the account locked — for
  every user of it. A missing password answers `["LoginException", [...]]` with HTTP 200.
- Other methods need `Authorization: Session base64(login:user_id:session)`, else HTTP 401.
  `model.party.party.read` `[[ids], [fields], context]`, `model.party.party.create`
  `[[values], context]` (an empty name is `RequiredValidationError`), anything else
  `["KeyError", ...]` as an unknown method does.

Odoo (`POST /jsonrpc`, JSON-RPC 2.0; `execute_kw` with the password in `args`): errors are
`{"code": 200, "message": "Odoo Server Error", "data": {"name", "message", "debug"}}`, unknown
services `-32601`.

`state` is shared with the test: attempts, failures, lockouts, requests per method.
"""

from __future__ import annotations

import base64
import secrets
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from retrofit.http_serving import ThreadedUvicorn

DATABASE = "tryton_demo"
LOGIN = "admin"
PASSWORD = "tryton-admin-password-4d1"
ODOO_DB = "odoo_demo"
ODOO_PASSWORD = "odoo-api-key-9b7e"
USER_ID = 1


@dataclass
class JsonRpcState:
    max_attempts: int = 3
    retry_after: int | None = None  # sent with 429s when set (Tryton sends none)
    login_unavailable: int = 0  # the next N logins answer 503
    login_page: bool = False  # logins answer 200 with an HTML page (a captive proxy, say)
    login_attempts: int = 0  # every common.db.login that arrived
    failures: int = 0  # Tryton's LoginAttempt count for LOGIN
    sessions: set[str] = field(default_factory=set)
    parties: dict[int, dict[str, Any]] = field(
        default_factory=lambda: {
            1: {"id": 1, "name": "Van Dijk Bouwmaterialen B.V.", "code": "P-001"},
            2: {"id": 2, "name": "Fratelli Rossi S.p.A.", "code": "P-002"},
        }
    )
    methods: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def locked(self) -> bool:
        return self.failures >= self.max_attempts

    def reset(self) -> None:
        fresh = JsonRpcState()
        with self.lock:
            self.max_attempts, self.retry_after, self.login_unavailable = 3, None, 0
            self.login_page = False
            self.login_attempts, self.failures = 0, 0
            self.sessions.clear()
            self.parties = fresh.parties
            self.methods.clear()


def _answer(call_id: Any, result: Any) -> JSONResponse:
    return JSONResponse({"id": call_id, "result": result})


def _error(call_id: Any, name: str, args: list[Any]) -> JSONResponse:
    return JSONResponse({"id": call_id, "error": [name, args]})


def create_app(state: JsonRpcState) -> Starlette:
    async def tryton(request: Request) -> Response:
        if request.path_params["database"] != DATABASE:
            return PlainTextResponse("Not Found", 404)
        body = await request.json()
        call_id, method, params = body.get("id"), body.get("method"), body.get("params") or []
        with state.lock:
            state.methods[str(method)] += 1
        if method == "common.db.login":
            return _login(call_id, params)
        if not _authorized(request):
            return PlainTextResponse("Unauthorized", 401)
        if method == "model.party.party.read":
            ids, fields = params[0], params[1]
            missing = [i for i in ids if i not in state.parties]
            if missing:
                return _error(
                    call_id,
                    "AccessError",
                    [f"You are trying to read records {missing} that do not exist.", ""],
                )
            return _answer(call_id, [{k: state.parties[i][k] for k in ["id", *fields]} for i in ids])
        if method == "model.party.party.create":
            created = []
            for values in params[0]:
                if not str(values.get("name") or "").strip():
                    return _error(
                        call_id,
                        "RequiredValidationError",
                        ['A value is required for field "Name" in "Party".', ""],
                    )
                with state.lock:
                    new_id = max(state.parties) + 1
                    state.parties[new_id] = {"id": new_id, "code": f"P-{new_id:03}", **values}
                created.append(new_id)
            return _answer(call_id, created)
        return _error(call_id, "KeyError", [str(method)])

    def _login(call_id: Any, params: list[Any]) -> Response:
        with state.lock:
            state.login_attempts += 1
            if state.login_unavailable > 0:
                state.login_unavailable -= 1
                return PlainTextResponse("Service Unavailable", 503, headers={"Retry-After": "7"})
            if state.login_page:
                return Response("<html><body>Please sign in</body></html>", 200, media_type="text/html")
            login = params[0] if params else None
            parameters = params[1] if len(params) > 1 and isinstance(params[1], dict) else {}
            if "password" not in parameters:
                return _error(call_id, "LoginException", ["password", "Password for admin", "password"])
            if state.locked:
                state.failures += 1  # Tryton: a rate-limited attempt is one more failed attempt
                headers = {"Retry-After": str(state.retry_after)} if state.retry_after else {}
                return PlainTextResponse("Too Many Requests", 429, headers=headers)
            if login != LOGIN or parameters["password"] != PASSWORD:
                state.failures += 1
                return PlainTextResponse("Unauthorized", 401)
            state.failures = 0
            session = secrets.token_hex(16)
            state.sessions.add(session)
        return _answer(call_id, [USER_ID, session])

    def _authorized(request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme != "Session":
            return False
        try:
            login, user_id, session = base64.b64decode(token).decode().split(":", 2)
        except ValueError:
            return False
        return login == LOGIN and user_id == str(USER_ID) and session in state.sessions

    async def odoo(request: Request) -> Response:
        body = await request.json()
        call_id, params = body.get("id"), body.get("params") or {}
        service, method, args = params.get("service"), params.get("method"), params.get("args") or []
        with state.lock:
            state.methods[f"{service}.{method}"] += 1
        if service != "object" or method != "execute_kw":
            error = {"code": -32601, "message": "Method not found", "data": {"method": f"{service}.{method}"}}
            return JSONResponse({"jsonrpc": "2.0", "id": call_id, "error": error})
        db, uid, password, model, model_method = args[:5]
        if db != ODOO_DB or uid != USER_ID or password != ODOO_PASSWORD:
            return _odoo_error(call_id, "odoo.exceptions.AccessDenied", "Access Denied")
        if model == "res.partner" and model_method == "create":
            values = args[5][0] if len(args) > 5 and args[5] else {}
            if not values.get("name"):
                return _odoo_error(
                    call_id,
                    "odoo.exceptions.ValidationError",
                    f"Contacts require a name (password was {password})",  # an echo, as servers do
                )
            return JSONResponse({"jsonrpc": "2.0", "id": call_id, "result": 42})
        return _odoo_error(call_id, "builtins.TypeError", "execute_kw() got an unexpected argument")

    def _odoo_error(call_id: Any, name: str, message: str) -> JSONResponse:
        data = {
            "name": name,
            "message": message,
            "debug": "Traceback (most recent call last):\n  ...secret internals",
        }
        error = {"code": 200, "message": "Odoo Server Error", "data": data}
        return JSONResponse({"jsonrpc": "2.0", "id": call_id, "error": error})

    return Starlette(
        routes=[
            Route("/health", lambda _: PlainTextResponse("ok")),
            Route("/jsonrpc", odoo, methods=["POST"]),
            Route("/{database}/", tryton, methods=["POST"]),
        ]
    )


class JsonRpcServer(ThreadedUvicorn):
    """The Tryton-like and Odoo-like endpoints on one loopback server."""

    def __init__(self) -> None:
        self.state = JsonRpcState()
        super().__init__(create_app(self.state), name="jsonrpc-erp", health_path="/health")

    def lock_out(self) -> None:
        """What another user's mistyped passwords did: the admin login is rate limited now."""
        with self.state.lock:
            self.state.failures = self.state.max_attempts
