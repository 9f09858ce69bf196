"""The business users' web front door (issue 17): Starlette + Jinja2, server-rendered."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from retrofit.identity.keys import identity_pin
from retrofit.identity.pin import IdentityPin
from retrofit.settings import RetrofitSettings
from retrofit.web.catalog import Entry, build_catalog
from retrofit.web.forms import FormErrors, form_fields, render_fields, validate_form
from retrofit.web.login import (
    CSRF_COOKIE,
    CSRF_FIELD,
    SESSION_COOKIE,
    LoginRefused,
    Person,
    csrf_ok,
    csrf_token,
    current_person,
    open_session,
)
from retrofit.web.runs import my_run_ids, run_view

_HERE = Path(__file__).parent
_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; form-action 'self'"


class _Headers(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = _CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        if CSRF_COOKIE not in request.cookies:
            response.set_cookie(CSRF_COOKIE, request.state.csrf, httponly=True, samesite="strict")
        return response


def build_app(
    settings: RetrofitSettings, *, client: Any = None, workflows: list[type] | None = None
) -> Starlette:
    """`client`: a Temporal client (connected lazily from settings when None)."""
    templates = Jinja2Templates(directory=str(_HERE / "templates"))
    catalog = build_catalog(workflows, settings.task_templates_file)
    identity_url = settings.identity_url
    state: dict[str, Any] = {"client": client}

    async def temporal() -> Any:
        if state["client"] is None:
            from retrofit.worker import connect

            state["client"] = await connect(settings)
        return state["client"]

    def pin() -> IdentityPin:
        # The identity service's public keys, as workers pin them: a run's signed start is
        # checked with them to tell whose run it is (retrofit/web/starter.py).
        if "pin" not in state:
            try:
                state["pin"] = identity_pin(settings)
            except Exception:
                state["pin"] = IdentityPin(keys={})  # no keys: only pending approvals tell
        found: IdentityPin = state["pin"]
        return found

    def page(request: Request, name: str, status: int = 200, **ctx: Any) -> Response:
        request.state.csrf = csrf_token(request)
        return templates.TemplateResponse(
            request, name, {"csrf": request.state.csrf, **ctx}, status_code=status
        )

    async def person_or_login(request: Request) -> Person | Response:
        request.state.csrf = csrf_token(request)
        person = await current_person(request, identity_url)
        return person if person is not None else RedirectResponse("/login", status_code=303)

    async def home(request: Request) -> Response:
        who = await person_or_login(request)
        if isinstance(who, Response):
            return who
        return page(request, "catalog.html", person=who, entries=list(catalog.values()))

    async def login_page(request: Request) -> Response:
        return page(request, "login.html", error="")

    async def login_submit(request: Request) -> Response:
        form = await request.form()
        if not csrf_ok(request, form.get(CSRF_FIELD)):
            return page(request, "login.html", status=403, error="the form expired: try again")
        try:
            session = await open_session(
                identity_url, str(form.get("login", "")), str(form.get("password", ""))
            )
        except LoginRefused as exc:
            return page(request, "login.html", status=401, error=str(exc))
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="lax")
        response.set_cookie(CSRF_COOKIE, secrets.token_urlsafe(32), httponly=True, samesite="strict")
        return response

    async def logout(request: Request) -> Response:
        form = await request.form()
        if not csrf_ok(request, form.get(CSRF_FIELD)):
            return Response("CSRF token missing or wrong", status_code=403)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    def entry_for(request: Request) -> Entry | None:
        return catalog.get(request.path_params["key"])

    async def start_page(request: Request) -> Response:
        who = await person_or_login(request)
        if isinstance(who, Response):
            return who
        entry = entry_for(request)
        if entry is None:
            return Response("not in the catalog", status_code=404)
        fields = form_fields(entry.schema())
        return page(request, "start.html", person=who, entry=entry, inputs=render_fields(fields), errors={})

    async def start_submit(request: Request) -> Response:
        form = await request.form()
        if not csrf_ok(request, form.get(CSRF_FIELD)):
            return Response("CSRF token missing or wrong", status_code=403)
        who = await person_or_login(request)
        if isinstance(who, Response):
            return Response("log in first", status_code=401)
        entry = entry_for(request)
        if entry is None:
            return Response("not in the catalog", status_code=404)
        fields = form_fields(entry.schema())
        data = _form_data(form)
        outcome = validate_form(entry.model, fields, data, ignore={CSRF_FIELD})
        if isinstance(outcome, FormErrors):
            inputs = render_fields(fields, data, outcome.errors, submitted=True)
            return page(
                request,
                "start.html",
                status=400,
                person=who,
                entry=entry,
                inputs=inputs,
                errors=outcome.errors,
            )
        arg: Any = entry.template.build(outcome) if entry.template else outcome
        workflow_id = f"web-{entry.workflow_type}-{uuid.uuid4().hex[:12]}"
        about = _subject_of(outcome)
        summary = f"{entry.title}{' for ' + about if about else ''}, started by {who.subject} on the web"
        client = await _starting_client(await temporal(), identity_url, who.session)
        await client.start_workflow(
            entry.workflow_type, arg, id=workflow_id, task_queue=settings.task_queue, static_summary=summary
        )
        # The verified starter becomes visible once the workflow's first task records it; wait
        # briefly so the run page (which shows a run only to its verified starter) finds it.
        for _ in range(20):
            if await run_view(await temporal(), workflow_id, who.subject, pin()) is not None:
                break
            await asyncio.sleep(0.25)
        return RedirectResponse(f"/runs/{workflow_id}", status_code=303)

    async def runs_page(request: Request) -> Response:
        who = await person_or_login(request)
        if isinstance(who, Response):
            return who
        client = await temporal()
        views = [
            v
            for i in await my_run_ids(client, who.subject, pin())
            if (v := await run_view(client, i, who.subject, pin()))
        ]
        return page(request, "runs.html", person=who, runs=views)

    async def run_page(request: Request) -> Response:
        who = await person_or_login(request)
        if isinstance(who, Response):
            return who
        view = await run_view(await temporal(), request.path_params["id"], who.subject, pin())
        if view is None:
            return page(request, "notfound.html", status=404, person=who)
        ui = settings.workflow_url(view["id"])
        return page(request, "run.html", person=who, run=view, ui=ui)

    async def run_json(request: Request) -> Response:
        who = await current_person(request, identity_url)
        if who is None:
            return JSONResponse({"error": "log in first"}, status_code=401)
        view = await run_view(await temporal(), request.path_params["id"], who.subject, pin())
        if view is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        return JSONResponse(_jsonable(view))

    return Starlette(
        routes=[
            Route("/", home),
            Route("/login", login_page, methods=["GET"]),
            Route("/login", login_submit, methods=["POST"]),
            Route("/logout", logout, methods=["POST"]),
            Route("/start/{key}", start_page, methods=["GET"]),
            Route("/start/{key}", start_submit, methods=["POST"]),
            Route("/runs", runs_page),
            Route("/runs/{id}", run_page),
            Route("/runs/{id}/status.json", run_json),
            Mount("/static", StaticFiles(directory=str(_HERE / "static")), name="static"),
        ],
        middleware=[Middleware(_Headers)],
    )


def _form_data(form: Any) -> dict[str, str | list[str]]:
    out: dict[str, str | list[str]] = {}
    for key in form:
        values = [str(v) for v in form.getlist(key)]
        out[key] = values[0] if len(values) == 1 else values
    return out


def _subject_of(instance: Any) -> str:
    for name in ("customer_id", "customer", "account_id", "id"):
        value = getattr(instance, name, None)
        if isinstance(value, str) and value:
            return value[:40]
    return ""


def _jsonable(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=str))


async def _starting_client(base: Any, identity_url: str, session: str) -> Any:
    """A client whose starts carry this person's start assertion (the identity service signs it)."""
    import httpx
    from temporalio.client import Client

    from retrofit.identity.starter_header import StarterHeaderInterceptor

    async def token_for(workflow_id: str, workflow_type: str) -> str:
        async with httpx.AsyncClient(base_url=identity_url, timeout=10.0) as http:
            reply = await http.post(
                "/identity/starts",
                json={"workflow_id": workflow_id, "workflow_type": workflow_type},
                headers={"Authorization": f"Bearer {session}"},
            )
        reply.raise_for_status()
        return str(reply.json()["assertion"])

    config = base.config()
    config["interceptors"] = [*config["interceptors"], StarterHeaderInterceptor(token_for)]
    return Client(**config)
