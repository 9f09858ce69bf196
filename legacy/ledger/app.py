"""The demo ledger's HTTP API, a Starlette application.

Business API — every request needs the header `X-Api-Key`:

    GET    /customers/{id}
    GET    /customers?page=1&page_size=20      {"items": [...], "page", "page_size", "total", "next_page"}
    PUT    /customers/{id}/credit-limit        {"credit_limit": "1234.00"}   Idempotency-Key required
    POST   /customers/{id}/notes               {"text": "..."}  -> 201       Idempotency-Key required
    GET    /customers/{id}/notes               {"items": [...]}
    DELETE /customers/{id}                     {"customer_id", "deleted"}    Idempotency-Key optional
    GET    /idempotency-keys?key=...           {"key", "landed": true, "status", "body"} | {"key", "landed": false}

The last answers "did the write made with this Idempotency-Key land, and what did it answer?" for
a client whose answer was lost (connection dropped, timed out). It reads the idempotency table, so it
knows exactly what a replay would answer; `landed: false` means no write under the key landed so far.

Money is a decimal string with two places. Errors are JSON `{"error": "..."}`: 400 bad input,
401 missing or wrong API key, 404 unknown customer or route, 422 an Idempotency-Key reused for a
different request. A write answered from the idempotency table carries `Idempotent-Replayed: true`
and is not applied again; only writes that landed are remembered.

Control plane under `/_admin/`, without the API key (it is the test harness's, and the server binds
to loopback): `GET health`, `POST reset`, `GET|POST faults`, `GET effects`, `GET writes` (every
write received: method, path, Idempotency-Key, unix time received, replayed). Faults apply to
business requests only, so a test can always reach the control plane. `GET effects` answers

    {"credit_limit": {"C-1001": 1}, "notes": {}, "deleted": {},   # applied writes per kind
     "by_customer": {"C-1001": 1}, "total": 1, "replays": 0}       # replays: answered from the table
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from http import HTTPStatus

from pydantic import Field, ValidationError
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from legacy.admin import AdminApi
from legacy.faults import FaultPlanRequest, delay_or_drop, problems_of
from legacy.ledger.store import (
    FaultPlan,
    IdempotencyKeyReused,
    JsonObject,
    LedgerState,
    UnknownCustomer,
    WriteReceipt,
)

DEFAULT_API_KEY = "demo-ledger-key"

_MAX_CREDIT_LIMIT = Decimal("99999999.99")
_MAX_PAGE_SIZE = 100
_MAX_IDEMPOTENCY_KEY = 255
_MAX_NOTE = 2000
_MAX_BODY_BYTES = 64 * 1024


def create_app(state: LedgerState, *, api_key: str = DEFAULT_API_KEY) -> Starlette:
    """The ledger application serving `state`, accepting `api_key` in `X-Api-Key`."""
    business = _BusinessApi(state)
    admin = _AdminApi(state)
    routes = [
        Route("/customers", business.list_customers, methods=["GET"]),
        Route("/customers/{customer_id}", business.get_customer, methods=["GET"]),
        Route("/customers/{customer_id}", business.delete_customer, methods=["DELETE"]),
        Route("/customers/{customer_id}/credit-limit", business.set_credit_limit, methods=["PUT"]),
        Route("/customers/{customer_id}/notes", business.list_notes, methods=["GET"]),
        Route("/customers/{customer_id}/notes", business.add_note, methods=["POST"]),
        Route("/idempotency-keys", business.lookup_key, methods=["GET"]),
        Route("/_admin/health", admin.health, methods=["GET"]),
        Route("/_admin/reset", admin.reset, methods=["POST"]),
        Route("/_admin/faults", admin.get_faults, methods=["GET"]),
        Route("/_admin/faults", admin.set_faults, methods=["POST"]),
        Route("/_admin/effects", admin.effects, methods=["GET"]),
        Route("/_admin/writes", admin.writes, methods=["GET"]),
    ]
    return Starlette(
        routes=routes,
        # Listed outermost first: injected faults hit before authentication, like a failing proxy.
        middleware=[
            Middleware(_FaultInjection, state=state),
            Middleware(_ApiKeyAuth, api_key=api_key),
        ],
        exception_handlers={
            HTTPException: _http_error,
            UnknownCustomer: _unknown_customer,
            IdempotencyKeyReused: _key_reused,
        },
        max_body_size=_MAX_BODY_BYTES,
    )


# -- business API -------------------------------------------------------------------------------


class _BusinessApi:
    def __init__(self, state: LedgerState) -> None:
        self._state = state

    async def get_customer(self, request: Request) -> Response:
        return JSONResponse(self._state.get_customer(_customer_id(request)).to_json())

    async def list_customers(self, request: Request) -> Response:
        page = _int_query(request, "page", default=1, minimum=1, maximum=1_000_000)
        page_size = _int_query(request, "page_size", default=20, minimum=1, maximum=_MAX_PAGE_SIZE)
        customers, total = self._state.list_customers(offset=(page - 1) * page_size, limit=page_size)
        return JSONResponse(
            {
                "items": [c.to_json() for c in customers],
                "page": page,
                "page_size": page_size,
                "total": total,
                "next_page": page + 1 if page * page_size < total else None,
            }
        )

    async def set_credit_limit(self, request: Request) -> Response:
        customer_id = _customer_id(request)
        key = _idempotency_key(request, required=True)
        body = await _json_object(request)
        credit_limit = _credit_limit(body)

        def apply() -> tuple[int, JsonObject]:
            return 200, self._state.set_credit_limit(customer_id, credit_limit).to_json()

        return self._write(request, key, body, apply)

    async def add_note(self, request: Request) -> Response:
        customer_id = _customer_id(request)
        key = _idempotency_key(request, required=True)
        body = await _json_object(request)
        text = _note_text(body)

        def apply() -> tuple[int, JsonObject]:
            return 201, self._state.add_note(customer_id, text).to_json()

        return self._write(request, key, body, apply)

    async def list_notes(self, request: Request) -> Response:
        notes = self._state.notes_of(_customer_id(request))
        return JSONResponse({"items": [n.to_json() for n in notes]})

    async def delete_customer(self, request: Request) -> Response:
        customer_id = _customer_id(request)
        # Optional here: without a key a repeated DELETE answers 404, which is what many real
        # systems do; with one, a retry after a lost response gets the original answer back.
        key = _idempotency_key(request, required=False)

        def apply() -> tuple[int, JsonObject]:
            self._state.delete_customer(customer_id)
            return 200, {"customer_id": customer_id, "deleted": True}

        return self._write(request, key, None, apply)

    async def lookup_key(self, request: Request) -> Response:
        key = request.query_params.get("key")
        if key is None or not 0 < len(key) <= _MAX_IDEMPOTENCY_KEY or not key.isprintable():
            raise HTTPException(400, f"key must be 1 to {_MAX_IDEMPOTENCY_KEY} printable characters")
        stored = self._state.stored_response(key)
        if stored is None:
            return JSONResponse({"key": key, "landed": False})
        return JSONResponse({"key": key, "landed": True, "status": stored.status, "body": stored.body})

    def _write(
        self,
        request: Request,
        key: str | None,
        body: JsonObject | None,
        apply: Callable[[], tuple[int, JsonObject]],
    ) -> Response:
        received_at = time.time()
        if key is None:
            status, payload = apply()
            self._state.log_write(WriteReceipt(request.method, request.url.path, None, received_at, False))
            return JSONResponse(payload, status_code=status)
        stored, replayed = self._state.idempotent(key, _fingerprint(request, body), apply)
        self._state.log_write(WriteReceipt(request.method, request.url.path, key, received_at, replayed))
        headers = {"Idempotent-Replayed": "true"} if replayed else None
        return JSONResponse(stored.body, status_code=stored.status, headers=headers)


def _customer_id(request: Request) -> str:
    return str(request.path_params["customer_id"])


def _int_query(request: Request, name: str, *, default: int, minimum: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HTTPException(400, f"{name} must be an integer, got {raw[:20]!r}") from None
    if not minimum <= value <= maximum:
        raise HTTPException(400, f"{name} must be between {minimum} and {maximum}")
    return value


def _idempotency_key(request: Request, *, required: bool) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        if required:
            raise HTTPException(400, "the Idempotency-Key header is required for this request")
        return None
    if not 0 < len(key) <= _MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise HTTPException(400, f"Idempotency-Key must be 1 to {_MAX_IDEMPOTENCY_KEY} printable characters")
    return key


def _fingerprint(request: Request, body: JsonObject | None) -> str:
    """Identifies "the same request" for a reused key: method, path and the body's content."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    material = f"{request.method} {request.url.path} {canonical}"
    return hashlib.sha256(material.encode()).hexdigest()


async def _json_object(request: Request) -> JsonObject:
    try:
        body = await request.json()
    except ValueError:  # also covers a body that is not UTF-8
        raise HTTPException(400, "the request body must be JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "the request body must be a JSON object")
    return body


def _credit_limit(body: JsonObject) -> Decimal:
    raw = body.get("credit_limit")
    # A JSON float has already lost precision by the time it is parsed; a ledger must not guess.
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise HTTPException(400, 'credit_limit must be a decimal string such as "1234.00"')
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise HTTPException(400, f"credit_limit {str(raw)[:30]!r} is not a decimal number") from None
    if not value.is_finite() or not 0 <= value <= _MAX_CREDIT_LIMIT:
        raise HTTPException(400, f"credit_limit must be between 0 and {_MAX_CREDIT_LIMIT}")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise HTTPException(400, "credit_limit allows at most two decimal places")
    return value.quantize(Decimal("0.01"))


def _note_text(body: JsonObject) -> str:
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise HTTPException(400, "text must be a non-empty string")
    if len(text) > _MAX_NOTE:
        raise HTTPException(400, f"text must be at most {_MAX_NOTE} characters")
    return text


# -- control plane ------------------------------------------------------------------------------


class _LedgerFaultPlanRequest(FaultPlanRequest):
    hold_next: int = Field(default=0, ge=0)
    hold_ms: int = Field(default=0, ge=0, le=120_000)


class _AdminApi(AdminApi[LedgerState]):
    async def get_faults(self, request: Request) -> Response:
        return JSONResponse(self._state.faults.to_json())

    async def set_faults(self, request: Request) -> Response:
        body = await _json_object(request)
        try:
            plan = _LedgerFaultPlanRequest.model_validate(body)
        except ValidationError as exc:
            raise HTTPException(400, problems_of(exc)) from None
        self._state.set_faults(FaultPlan(**plan.model_dump()))
        return JSONResponse(self._state.faults.to_json())

    async def effects(self, request: Request) -> Response:
        by_customer = self._state.effects()
        return JSONResponse(
            {
                **self._state.effects_by_kind(),
                "by_customer": by_customer,
                "total": sum(by_customer.values()),
                "replays": self._state.replays,
            }
        )

    async def writes(self, request: Request) -> Response:
        return JSONResponse({"items": [w.to_json() for w in self._state.writes()]})


# -- middleware -----------------------------------------------------------------------------------


def _is_admin(scope: Scope) -> bool:
    path = str(scope.get("path", ""))
    return path == "/_admin" or path.startswith("/_admin/")


class _FaultInjection:
    """Applies the state's fault plan to business requests (latency, injected statuses, drops)."""

    def __init__(self, app: ASGIApp, state: LedgerState) -> None:
        self._app = app
        self._state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _is_admin(scope):
            await self._app(scope, receive, send)
            return
        fault = self._state.next_fault()
        hold_ms = self._state.next_hold() if scope.get("method") != "GET" else 0
        if hold_ms:
            send = _held(send, hold_ms)
        await delay_or_drop(fault, self._app, scope, receive, send)
        if fault.fail_status is not None:
            headers = None if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            phrase = HTTPStatus(fault.fail_status).phrase
            response = _error(fault.fail_status, f"injected fault: {phrase}", headers)
            await response(scope, receive, send)
            return
        await self._app(scope, receive, send)


def _held(send: Send, hold_ms: int) -> Send:
    """A `send` that holds the answer back: the write has been applied when the answer starts."""

    async def held(message: Message) -> None:
        if message["type"] == "http.response.start":
            await asyncio.sleep(hold_ms / 1000)
        await send(message)

    return held


class _ApiKeyAuth:
    """Refuses business requests without the right `X-Api-Key` (the control plane is exempt)."""

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self._app = app
        self._api_key = api_key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not _is_admin(scope):
            presented = Headers(scope=scope).get("x-api-key", "").encode()
            # Constant-time comparison, so response timing does not reveal a prefix of the key.
            if not hmac.compare_digest(presented, self._api_key):
                await _error(401, "missing or invalid API key")(scope, receive, send)
                return
        await self._app(scope, receive, send)


# -- errors -----------------------------------------------------------------------------------------


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _error(exc.status_code, exc.detail, dict(exc.headers or {}))


async def _unknown_customer(request: Request, exc: Exception) -> Response:
    return _error(404, str(exc))


async def _key_reused(request: Request, exc: Exception) -> Response:
    return _error(422, str(exc))
