"""How the CLI proves who is answering: an assertion from the identity service for every answer
and every start.

Credentials, first found wins:
1. `RETROFIT_IDENTITY_TOKEN`: an OIDC ID token from the company's IdP (Bearer).
2. The session `retrofit login NAME` cached (0600, `<data_dir>/identity/cli-session.json`) — when
   no `--as` is given, or `--as` names the same person.
3. With `--as NAME`: NAME's password from `RETROFIT_IDENTITY_PASSWORD`, or a prompt on a terminal;
   exchanged once for a session, so a bulk approval checks the password once.

`--as` means "log in as", never "claim to be": the subject the service verified must be NAME
(normalised), or the command stops. Passwords never go in argv, logs or files.
"""

from __future__ import annotations

import base64
import getpass
import json
import os
import stat
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from retrofit.identity.claims import normalise_subject
from retrofit.settings import RetrofitSettings

TOKEN_ENV = "RETROFIT_IDENTITY_TOKEN"
PASSWORD_ENV = "RETROFIT_IDENTITY_PASSWORD"
_TIMEOUT = httpx.Timeout(15.0, connect=5.0)


class IdentityError(Exception):
    """Not logged in, wrong password, identity service down: one clear line for the user."""


@dataclass(frozen=True)
class Signed:
    assertion: str
    subject: str
    groups: tuple[str, ...]


def session_file(settings: RetrofitSettings) -> Path:
    return settings.data_dir / "identity" / "cli-session.json"


def service_url(settings: RetrofitSettings) -> str:
    return settings.identity_url.rstrip("/")


class IdentityClient:
    """Talks to the identity service as one person, resolved once per command."""

    def __init__(
        self, settings: RetrofitSettings, login_as: str | None = None, *, password: str | None = None
    ) -> None:
        self.settings = settings
        self.url = service_url(settings)
        self.login_as = normalise_subject(login_as) if login_as else None
        self._password = password  # in-process callers (the demo); the CLI reads env or a prompt
        self._authorization: str | None = None

    # -- credentials -----------------------------------------------------------------------------

    async def authorization(self) -> str:
        if self._authorization is None:
            self._authorization = await self._resolve()
        return self._authorization

    async def _resolve(self) -> str:
        token = os.environ.get(TOKEN_ENV, "").strip()
        if token:
            return f"Bearer {token}"
        cached = load_session(self.settings)
        if cached is not None and (self.login_as is None or cached["subject"] == self.login_as):
            return f"Bearer {cached['session']}"
        if self.login_as is None:
            raise IdentityError(
                "not logged in: run `retrofit login YOUR_NAME` first (or pass --as YOUR_NAME; "
                f"an IdP token goes in {TOKEN_ENV})"
            )
        password = self._password or read_password(self.login_as)
        started = await self.open_session(self.login_as, password)
        return f"Bearer {started['session']}"

    async def open_session(self, login: str, password: str) -> dict[str, Any]:
        basic = base64.b64encode(f"{login}:{password}".encode()).decode()
        return await self._post("/identity/session", None, f"Basic {basic}")

    # -- assertions ------------------------------------------------------------------------------

    async def answer(self, workflow_id: str, request_id: str, args_hash: str, decision: str) -> Signed:
        body = {
            "workflow_id": workflow_id,
            "request_id": request_id,
            "args_hash": args_hash,
            "decision": decision,
        }
        return self._checked(await self._post("/identity/answers", body, await self.authorization()))

    async def start(self, workflow_id: str, workflow_type: str) -> Signed:
        body = {"workflow_id": workflow_id, "workflow_type": workflow_type}
        return self._checked(await self._post("/identity/starts", body, await self.authorization()))

    def _checked(self, reply: dict[str, Any]) -> Signed:
        signed = Signed(str(reply["assertion"]), str(reply["subject"]), tuple(reply.get("groups", ())))
        if self.login_as is not None and signed.subject != self.login_as:
            raise IdentityError(
                f"you are logged in as {signed.subject!r}, not {self.login_as!r}: "
                f"run `retrofit login {self.login_as}` (or drop --as)"
            )
        return signed

    async def _post(self, path: str, body: dict[str, str] | None, authorization: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(base_url=self.url, timeout=_TIMEOUT) as http:
                response = await http.post(path, json=body, headers={"Authorization": authorization})
        except httpx.TransportError as exc:
            raise IdentityError(
                f"cannot reach the identity service at {self.url} ({type(exc).__name__}): is "
                "`retrofit dev` or `retrofit codec-server` running? (RETROFIT_IDENTITY_URL)"
            ) from None
        if response.status_code in (401, 429):
            raise IdentityError(f"the identity service refused the login: {_error(response)}")
        if response.status_code != 200:
            raise IdentityError(f"the identity service answered {response.status_code}: {_error(response)}")
        reply: dict[str, Any] = response.json()
        return reply


def read_password(login: str) -> str:
    password = os.environ.get(PASSWORD_ENV)
    if password:
        return password
    if not sys.stdin.isatty():
        raise IdentityError(
            f"not logged in as {login!r}: run `retrofit login {login}` first (or set {PASSWORD_ENV})"
        )
    return getpass.getpass(f"password for {login}: ")


def save_session(settings: RetrofitSettings, reply: dict[str, Any]) -> Path:
    path = session_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, stat.S_IRWXU)
    record = {
        "url": service_url(settings),
        "session": reply["session"],
        "subject": reply["subject"],
        "expires_at": reply["expires_at"],
    }
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(record, out)
    os.replace(tmp, path)
    return path


def load_session(settings: RetrofitSettings) -> dict[str, str] | None:
    """The cached session for this identity service, unless it has expired."""
    path = session_file(settings)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if not isinstance(record, dict) or record.get("url") != service_url(settings):
        return None
    try:
        expires = datetime.fromisoformat(str(record["expires_at"])).timestamp()
    except (KeyError, ValueError):
        return None
    if expires <= time.time():
        return None
    return {k: str(v) for k, v in record.items()}


def _error(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", response.text))
    except (json.JSONDecodeError, AttributeError):
        return response.text[:200]


async def starting_client(
    settings: RetrofitSettings,
    identity: IdentityClient,
    *,
    signed: dict[tuple[str, str], str] | None = None,
    **connect_options: Any,
) -> Any:
    """A Temporal client whose starts carry the person's start assertion (`retrofit-starter`);
    `signed`: assertions already fetched, by (workflow id, workflow type)."""
    from temporalio.client import Client

    from retrofit.identity.starter_header import StarterHeaderInterceptor
    from retrofit.worker import connect

    ready = dict(signed or {})

    async def token_for(workflow_id: str, workflow_type: str) -> str:
        early = ready.pop((workflow_id, workflow_type), None)
        return early or (await identity.start(workflow_id, workflow_type)).assertion

    base = await connect(settings, **connect_options)
    config = base.config()
    config["interceptors"] = [*config["interceptors"], StarterHeaderInterceptor(token_for)]
    return Client(**config)
