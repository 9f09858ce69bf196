"""The demo CRM's HTTP API, a Starlette application.

OAuth 2.0 (RFC 6749 §4.4), no bearer token needed:

    POST /oauth/token      form: grant_type=client_credentials, client_id, client_secret[, scope]
                           (or the client as HTTP Basic credentials)  -> {"access_token", "token_type",
                           "expires_in", "scope"}; 400 invalid_request / unsupported_grant_type /
                           invalid_scope, 401 invalid_client — errors as {"error", "error_description"}

Business API — `Authorization: Bearer <token>`; scope `crm.read` for GET, `crm.write` otherwise:

    GET    /accounts?status=&q=&limit=&cursor=       {"items": [...], "next_cursor": str | null}
    GET    /accounts/{id}
    PATCH  /accounts/{id}                  {"status": "prospect|active|on_hold|churned"}
    GET    /accounts/{id}/contacts?page=&per_page=   a JSON list; `Link: <...>; rel="next"` (RFC 8288),
                                                     rel first/prev/last, `X-Total-Count`
    GET    /accounts/{id}/notes?page=&per_page=      {"items", "page", "per_page", "total", "total_pages"}
    POST   /accounts/{id}/notes            {"body": "...", "created_by"?: "..."} -> 201
    GET    /contacts?q=&email=&offset=&limit=        {"items", "offset", "limit", "total"}
    GET    /contacts/{id}
    DELETE /contacts/{id}                  {"contact_id", "account_id", "deleted": true}
    GET    /idempotency-keys?key=...       {"key", "landed": true, "status", "body"} | {"key", "landed": false}
                                           (crm.write scope; the calling client's keys only)

Writes honour an optional `Idempotency-Key` (scoped per OAuth client): a repeat gets the stored
answer with `Idempotent-Replayed: true` and no second effect; the key reused with a different
request is 422. Errors are `{"error": code, "message": text}`: 400 invalid input, 401
invalid/expired/revoked token (with `WWW-Authenticate`), 403 missing scope, 404 unknown record.

Control plane under `/_admin/`, without a token (it is the test harness's; the server binds to
loopback): `GET health`, `POST reset`, `GET|POST faults`, `GET effects`, `GET requests`,
`GET|POST tokens` (counts; `{"lifetime_seconds": n}` for tokens issued next), `POST tokens/revoke`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
from collections.abc import Callable, Mapping
from typing import TypeVar
from urllib.parse import parse_qsl, unquote

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from legacy.admin import AdminApi
from legacy.crm.faults import FaultInjection, FaultPlan
from legacy.crm.records import ACCOUNT_STATUSES, JsonObject
from legacy.crm.store import CrmState, IdempotencyKeyReused, NotFound
from legacy.crm.tokens import IssuedToken
from legacy.faults import FaultPlanRequest, problems_of

DEFAULT_CLIENT_ID = "retrofit-demo"
DEFAULT_CLIENT_SECRET = "demo-crm-secret"
SCOPES = frozenset({"crm.read", "crm.write"})

_Body = TypeVar("_Body", bound=BaseModel)

_MAX_BODY_BYTES = 64 * 1024
_MAX_NOTE = 4000
_MAX_IDEMPOTENCY_KEY = 255


class ApiError(Exception):
    """An error answer of the business API: `{"error": code, "message": message}`."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def create_app(state: CrmState, *, clients: Mapping[str, str] | None = None) -> Starlette:
    """The CRM serving `state`; `clients` maps OAuth client ids to secrets (default: the demo one)."""
    oauth = _OAuthEndpoint(state, clients or {DEFAULT_CLIENT_ID: DEFAULT_CLIENT_SECRET})
    api = _BusinessApi(state)
    admin = _AdminApi(state)
    routes = [
        Route("/oauth/token", oauth.token, methods=["POST"]),
        Route("/accounts", api.list_accounts, methods=["GET"]),
        Route("/accounts/{account_id}", api.get_account, methods=["GET"]),
        Route("/accounts/{account_id}", api.update_account, methods=["PATCH"]),
        Route("/accounts/{account_id}/contacts", api.account_contacts, methods=["GET"]),
        Route("/accounts/{account_id}/notes", api.list_notes, methods=["GET"]),
        Route("/accounts/{account_id}/notes", api.add_note, methods=["POST"]),
        Route("/contacts", api.search_contacts, methods=["GET"]),
        Route("/contacts/{contact_id}", api.get_contact, methods=["GET"]),
        Route("/contacts/{contact_id}", api.delete_contact, methods=["DELETE"]),
        Route("/idempotency-keys", api.lookup_key, methods=["GET"]),
        Route("/_admin/health", admin.health, methods=["GET"]),
        Route("/_admin/reset", admin.reset, methods=["POST"]),
        Route("/_admin/faults", admin.get_faults, methods=["GET"]),
        Route("/_admin/faults", admin.set_faults, methods=["POST"]),
        Route("/_admin/effects", admin.effects, methods=["GET"]),
        Route("/_admin/requests", admin.requests, methods=["GET"]),
        Route("/_admin/tokens", admin.get_tokens, methods=["GET"]),
        Route("/_admin/tokens", admin.set_tokens, methods=["POST"]),
        Route("/_admin/tokens/revoke", admin.revoke_tokens, methods=["POST"]),
    ]
    return Starlette(
        routes=routes,
        # Outermost first: every request is counted, even one a fault then fails, like an access log.
        middleware=[
            Middleware(_RequestCounter, state=state),
            Middleware(FaultInjection, switch=state.faults),
        ],
        exception_handlers={
            ApiError: _api_error,
            NotFound: _not_found,
            IdempotencyKeyReused: _key_reused,
            HTTPException: _http_error,
        },
        max_body_size=_MAX_BODY_BYTES,
    )


# -- OAuth 2.0 token endpoint -----------------------------------------------------------------------


class _OAuthEndpoint:
    def __init__(self, state: CrmState, clients: Mapping[str, str]) -> None:
        self._state = state
        self._clients = dict(clients)

    async def token(self, request: Request) -> Response:
        if (
            request.headers.get("content-type", "").split(";")[0].strip()
            != "application/x-www-form-urlencoded"
        ):
            return _oauth_error(400, "invalid_request", "the token request must be form-encoded")
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
        grant_type = form.get("grant_type")
        if not grant_type:
            return _oauth_error(400, "invalid_request", "grant_type is required")
        if grant_type != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "only client_credentials is supported")
        client_id = self._authenticated_client(request, form)
        if client_id is None:
            return _oauth_error(401, "invalid_client", "client authentication failed", basic_challenge=True)
        requested = frozenset(form.get("scope", "").split()) or SCOPES
        if not requested <= SCOPES:
            return _oauth_error(400, "invalid_scope", f"known scopes: {' '.join(sorted(SCOPES))}")
        token, lifetime = self._state.tokens.issue(client_id, requested)
        return JSONResponse(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": lifetime,
                "scope": " ".join(sorted(requested)),
            },
            # RFC 6749 §5.1: token responses must not be cached.
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    def _authenticated_client(self, request: Request, form: Mapping[str, str]) -> str | None:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                pair = base64.b64decode(encoded, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
            raw_id, _, raw_secret = pair.partition(":")
            client_id, secret = unquote(raw_id), unquote(raw_secret)
        if client_id is None or secret is None:
            return None
        expected = self._clients.get(client_id)
        # Constant-time comparison, so answer timing reveals no prefix of the secret.
        if expected is None or not hmac.compare_digest(secret.encode(), expected.encode()):
            return None
        return client_id


def _oauth_error(status: int, code: str, description: str, *, basic_challenge: bool = False) -> Response:
    headers = {"Cache-Control": "no-store"}
    if basic_challenge:
        headers["WWW-Authenticate"] = 'Basic realm="crm"'
    return JSONResponse(
        {"error": code, "error_description": description}, status_code=status, headers=headers
    )


# -- business API -----------------------------------------------------------------------------------


class _BusinessApi:
    def __init__(self, state: CrmState) -> None:
        self._state = state

    def _grant(self, request: Request, scope: str) -> IssuedToken:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(
                401, "invalid_token", "a bearer token is required", {"WWW-Authenticate": 'Bearer realm="crm"'}
            )
        grant = self._state.tokens.check(token.strip())
        if grant is None:
            raise ApiError(
                401,
                "invalid_token",
                "the access token is invalid, expired or revoked",
                {"WWW-Authenticate": 'Bearer realm="crm", error="invalid_token"'},
            )
        if scope not in grant.scopes:
            raise ApiError(
                403,
                "insufficient_scope",
                f"this request needs the {scope} scope",
                {"WWW-Authenticate": f'Bearer realm="crm", error="insufficient_scope", scope="{scope}"'},
            )
        return grant

    async def list_accounts(self, request: Request) -> Response:
        self._grant(request, "crm.read")
        limit = _int_query(request, "limit", default=25, minimum=1, maximum=100)
        status = request.query_params.get("status")
        if status is not None and status not in ACCOUNT_STATUSES:
            raise ApiError(400, "invalid_request", f"status must be one of {', '.join(ACCOUNT_STATUSES)}")
        after = _decode_cursor(request.query_params.get("cursor"))
        accounts, more = self._state.list_accounts(
            after=after, limit=limit, status=status, query=request.query_params.get("q")
        )
        next_cursor = _encode_cursor(accounts[-1].id) if more and accounts else None
        return JSONResponse({"items": [a.to_json() for a in accounts], "next_cursor": next_cursor})

    async def get_account(self, request: Request) -> Response:
        self._grant(request, "crm.read")
        return JSONResponse(self._state.get_account(_param(request, "account_id")).to_json())

    async def update_account(self, request: Request) -> Response:
        grant = self._grant(request, "crm.write")
        account_id = _param(request, "account_id")
        body = await _json_object(request)
        if set(body) != {"status"}:
            raise ApiError(400, "invalid_request", "only status can be changed through the API")
        status = body["status"]
        if status not in ACCOUNT_STATUSES:
            raise ApiError(400, "invalid_request", f"status must be one of {', '.join(ACCOUNT_STATUSES)}")

        def apply() -> tuple[int, JsonObject]:
            return 200, self._state.set_status(account_id, str(status)).to_json()

        return self._write(request, grant, body, apply)

    async def account_contacts(self, request: Request) -> Response:
        self._grant(request, "crm.read")
        page = _int_query(request, "page", default=1, minimum=1, maximum=100_000)
        per_page = _int_query(request, "per_page", default=10, minimum=1, maximum=50)
        contacts = self._state.contacts_of(_param(request, "account_id"))
        last = max(1, math.ceil(len(contacts) / per_page))
        chunk = contacts[(page - 1) * per_page : page * per_page]
        rels = {"first": 1, "last": last}
        if page < last:
            rels["next"] = page + 1
        if page > 1:
            rels["prev"] = min(page - 1, last)
        link = ", ".join(
            f'<{request.url.include_query_params(page=number, per_page=per_page)}>; rel="{rel}"'
            for rel, number in rels.items()
        )
        return JSONResponse(
            [c.to_json() for c in chunk], headers={"Link": link, "X-Total-Count": str(len(contacts))}
        )

    async def list_notes(self, request: Request) -> Response:
        self._grant(request, "crm.read")
        page = _int_query(request, "page", default=1, minimum=1, maximum=100_000)
        per_page = _int_query(request, "per_page", default=5, minimum=1, maximum=50)
        notes = self._state.notes_of(_param(request, "account_id"))
        return JSONResponse(
            {
                "items": [n.to_json() for n in notes[(page - 1) * per_page : page * per_page]],
                "page": page,
                "per_page": per_page,
                "total": len(notes),
                "total_pages": max(1, math.ceil(len(notes) / per_page)),
            }
        )

    async def add_note(self, request: Request) -> Response:
        grant = self._grant(request, "crm.write")
        account_id = _param(request, "account_id")
        body = await _json_object(request)
        text = body.get("body")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "invalid_request", "body must be a non-empty string")
        if len(text) > _MAX_NOTE:
            raise ApiError(400, "invalid_request", f"body must be at most {_MAX_NOTE} characters")
        created_by = body.get("created_by", grant.client_id)
        if not isinstance(created_by, str) or not 0 < len(created_by) <= 200:
            raise ApiError(400, "invalid_request", "created_by must be a string of 1 to 200 characters")

        def apply() -> tuple[int, JsonObject]:
            return 201, self._state.add_note(account_id, text, created_by).to_json()

        return self._write(request, grant, body, apply)

    async def search_contacts(self, request: Request) -> Response:
        self._grant(request, "crm.read")
        offset = _int_query(request, "offset", default=0, minimum=0, maximum=1_000_000)
        limit = _int_query(request, "limit", default=20, minimum=1, maximum=100)
        matches = self._state.search_contacts(
            query=request.query_params.get("q"), email=request.query_params.get("email")
        )
        return JSONResponse(
            {
                "items": [c.to_json() for c in matches[offset : offset + limit]],
                "offset": offset,
                "limit": limit,
                "total": len(matches),
            }
        )

    async def get_contact(self, request: Request) -> Response:
        self._grant(request, "crm.read")
        return JSONResponse(self._state.get_contact(_param(request, "contact_id")).to_json())

    async def delete_contact(self, request: Request) -> Response:
        grant = self._grant(request, "crm.write")
        contact_id = _param(request, "contact_id")

        def apply() -> tuple[int, JsonObject]:
            contact = self._state.delete_contact(contact_id)
            return 200, {"contact_id": contact.id, "account_id": contact.account_id, "deleted": True}

        return self._write(request, grant, None, apply)

    async def lookup_key(self, request: Request) -> Response:
        """Did this client's write with `key` land, and what did it answer? For a client whose
        answer was lost; keys are scoped per client, like the writes."""
        grant = self._grant(request, "crm.write")
        key = request.query_params.get("key")
        if key is None or not 0 < len(key) <= _MAX_IDEMPOTENCY_KEY or not key.isprintable():
            raise ApiError(
                400, "invalid_request", f"key must be 1 to {_MAX_IDEMPOTENCY_KEY} printable characters"
            )
        stored = self._state.stored_response(grant.client_id, key)
        if stored is None:
            return JSONResponse({"key": key, "landed": False})
        return JSONResponse({"key": key, "landed": True, "status": stored.status, "body": stored.body})

    def _write(
        self,
        request: Request,
        grant: IssuedToken,
        body: JsonObject | None,
        apply: Callable[[], tuple[int, JsonObject]],
    ) -> Response:
        key = request.headers.get("idempotency-key")
        if key is None:
            status, payload = apply()
            return JSONResponse(payload, status_code=status)
        if not 0 < len(key) <= _MAX_IDEMPOTENCY_KEY or not key.isprintable():
            raise ApiError(
                400, "invalid_request", f"Idempotency-Key must be 1 to {_MAX_IDEMPOTENCY_KEY} characters"
            )
        stored, replayed = self._state.idempotent(grant.client_id, key, _fingerprint(request, body), apply)
        headers = {"Idempotent-Replayed": "true"} if replayed else None
        return JSONResponse(stored.body, status_code=stored.status, headers=headers)


def _param(request: Request, name: str) -> str:
    return str(request.path_params[name])


def _int_query(request: Request, name: str, *, default: int, minimum: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_request", f"{name} must be an integer, got {raw[:20]!r}") from None
    if not minimum <= value <= maximum:
        raise ApiError(400, "invalid_request", f"{name} must be between {minimum} and {maximum}")
    return value


def _encode_cursor(after_id: str) -> str:
    # Opaque to clients on purpose: they must pass it back, not build one.
    return base64.urlsafe_b64encode(f"after:{after_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if not decoded.startswith("after:"):
        raise ApiError(400, "invalid_cursor", "cursor is not one this server issued")
    return decoded.removeprefix("after:")


def _fingerprint(request: Request, body: JsonObject | None) -> str:
    """What makes two requests "the same" for a reused key: method, path and the body's content."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{request.method} {request.url.path} {canonical}".encode()).hexdigest()


async def _json_object(request: Request) -> JsonObject:
    try:
        body = await request.json()
    except ValueError:  # also a body that is not UTF-8
        raise ApiError(400, "invalid_request", "the request body must be JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "the request body must be a JSON object")
    return body


# -- control plane ------------------------------------------------------------------------------


class _FaultPlanRequest(FaultPlanRequest):
    path_prefix: str | None = Field(default=None, min_length=1)


class _TokenSettingsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lifetime_seconds: int = Field(ge=1, le=86_400)


class _AdminApi(AdminApi[CrmState]):
    async def get_faults(self, request: Request) -> Response:
        return JSONResponse(self._state.faults.plan.to_json())

    async def set_faults(self, request: Request) -> Response:
        plan = _admin_body(_FaultPlanRequest, await _json_object(request))
        self._state.faults.set(FaultPlan(**plan.model_dump()))
        return JSONResponse(self._state.faults.plan.to_json())

    async def effects(self, request: Request) -> Response:
        by_kind = self._state.effects_by_kind()
        total = sum(sum(counts.values()) for counts in by_kind.values())
        return JSONResponse({**by_kind, "total": total, "replays": self._state.replays})

    async def requests(self, request: Request) -> Response:
        by_path = self._state.requests()
        return JSONResponse({"total": sum(by_path.values()), "by_path": by_path})

    async def get_tokens(self, request: Request) -> Response:
        return JSONResponse(self._state.tokens.counts())

    async def set_tokens(self, request: Request) -> Response:
        settings = _admin_body(_TokenSettingsRequest, await _json_object(request))
        self._state.tokens.set_lifetime(settings.lifetime_seconds)
        return JSONResponse(self._state.tokens.counts())

    async def revoke_tokens(self, request: Request) -> Response:
        return JSONResponse({"revoked": self._state.tokens.revoke_all()})


def _admin_body(model: type[_Body], body: JsonObject) -> _Body:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise ApiError(400, "invalid_request", problems_of(exc)) from None


# -- middleware and errors --------------------------------------------------------------------------


class _RequestCounter:
    """Counts business requests per method and path, for tests that need to know what reached us."""

    def __init__(self, app: ASGIApp, state: CrmState) -> None:
        self._app = app
        self._state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] == "http" and not path.startswith("/_admin/"):
            self._state.count_request(str(scope["method"]), path)
        await self._app(scope, receive, send)


def _error(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=dict(headers or {}))


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return _error(exc.status, exc.code, exc.message, exc.headers)


async def _not_found(request: Request, exc: Exception) -> Response:
    return _error(404, "not_found", str(exc))


async def _key_reused(request: Request, exc: Exception) -> Response:
    return _error(422, "idempotency_key_reused", str(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = "not_found" if exc.status_code == 404 else "http_error"
    return _error(exc.status_code, code, str(exc.detail), exc.headers)
