"""Login for the web front door: the identity service verifies the person; we keep its session
token in our own HttpOnly cookie and never hold the signing key. CSRF: double-submit token."""

from __future__ import annotations

import base64
import hmac
import secrets
from dataclasses import dataclass

import httpx
from starlette.requests import Request

SESSION_COOKIE = "retrofit_web_session"
IDENTITY_COOKIE = "retrofit_session"  # the identity service's own cookie, accepted too
CSRF_COOKIE = "retrofit_web_csrf"
CSRF_FIELD = "csrf"
_TIMEOUT = httpx.Timeout(10.0)


@dataclass(frozen=True)
class Person:
    subject: str
    groups: tuple[str, ...]
    session: str


class LoginRefused(Exception):
    pass


async def open_session(identity_url: str, login: str, password: str) -> str:
    basic = base64.b64encode(f"{login}:{password}".encode()).decode()
    async with httpx.AsyncClient(base_url=identity_url, timeout=_TIMEOUT) as http:
        reply = await http.post("/identity/session", headers={"Authorization": f"Basic {basic}"})
    if reply.status_code != 200:
        raise LoginRefused("unknown user or wrong password")
    return str(reply.json()["session"])


async def whoami(identity_url: str, session: str) -> Person | None:
    async with httpx.AsyncClient(base_url=identity_url, timeout=_TIMEOUT) as http:
        reply = await http.get("/identity/whoami", headers={"Authorization": f"Bearer {session}"})
    if reply.status_code != 200:
        return None
    body = reply.json()
    return Person(str(body["subject"]), tuple(body.get("groups", ())), session)


async def current_person(request: Request, identity_url: str) -> Person | None:
    session = request.cookies.get(SESSION_COOKIE) or request.cookies.get(IDENTITY_COOKIE)
    if not session:
        return None
    return await whoami(identity_url, session)


def csrf_token(request: Request) -> str:
    return request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)


def csrf_ok(request: Request, submitted: object) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return bool(cookie) and isinstance(submitted, str) and hmac.compare_digest(cookie, submitted)
