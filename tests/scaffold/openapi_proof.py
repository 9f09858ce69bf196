"""What the OpenAPI proof tests share: a generated package written and installed once per module,
a loopback server playing the system, and one READ action run through the gate on real Temporal."""

from __future__ import annotations

import importlib
import json
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from connectors.scaffold.openapi import read_openapi
from connectors.scaffold.package import GeneratedPackage
from connectors.scaffold.selection import Selection
from connectors.scaffold.writer import connector_class_name, package_name, write_package
from retrofit.gate.policy import Outcome, Policy, Rule
from retrofit.http_serving import ThreadedUvicorn
from retrofit.plugin import RetrofitPlugin
from retrofit.registry import connectors_from_classes
from retrofit.sdk import Connector, Effect
from tests.scaffold.support import installed
from workflows.single_action.workflow import SingleAction, SingleActionInput

READS_ONLY = Policy(
    by_effect={
        Effect.READ: Rule(outcome=Outcome.ALLOW),
        Effect.WRITE: Rule(outcome=Outcome.DENY, reason="the proof runs reads only"),
        Effect.DESTRUCTIVE: Rule(outcome=Outcome.DENY, reason="the proof runs reads only"),
    }
)


@dataclass
class Generated:
    package: GeneratedPackage
    out: Path
    env: dict[str, str]  # sees the installed package (PYTHONPATH), for subprocesses
    site: Path
    seconds: dict[str, float] = field(default_factory=dict)

    def connector_class(self) -> type[Connector]:
        """The installed connector class, imported into this process from its --target dir."""
        if str(self.site) not in sys.path:
            sys.path.insert(0, str(self.site))
        module = importlib.import_module(f"{package_name(self.package.connector.name)}.connector")
        cls: type[Connector] = getattr(module, connector_class_name(self.package.connector.name))
        return cls


@contextmanager
def generated(name: str, spec: Path, tmp: Path, operations: str | None = None) -> Iterator[Generated]:
    started = time.perf_counter()
    package = read_openapi(name, str(spec), Selection.parse(operations))
    out = tmp / f"{name}-connector"
    write_package(package, out)
    written = time.perf_counter()
    site = tmp / "site"
    with installed(out, site) as env:
        seconds = {"read+write": written - started, "install": time.perf_counter() - written}
        try:
            yield Generated(package, out, env, site, seconds)
        finally:
            # The site dir holds the package's dist-info: left on sys.path, every later test in
            # this process would see one more installed connector.
            while str(site) in sys.path:
                sys.path.remove(str(site))


@dataclass
class Exchange:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    raw_path: str  # as sent: `path` is decoded (`%2F` reads as `/`)


@contextmanager
def system_on_loopback(
    routes: dict[str, Callable[[Request], Awaitable[Response]]],
) -> Iterator[tuple[ThreadedUvicorn, list[Exchange]]]:
    """A tiny HTTP server answering `routes` (path → handler), recording every exchange."""
    seen: list[Exchange] = []

    def recording(
        handler: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            seen.append(
                Exchange(
                    request.method,
                    request.url.path,
                    dict(request.query_params),
                    dict(request.headers),
                    request.scope.get("raw_path", b"").decode("latin-1"),
                )
            )
            return await handler(request)

        return endpoint

    async def health(_: Request) -> Response:
        return JSONResponse({"ok": True})

    app = Starlette(
        routes=[
            Route("/_health", health),
            *(Route(p, recording(h), methods=["GET"]) for p, h in routes.items()),
        ]
    )
    with ExitStack() as stack:
        server = stack.enter_context(ThreadedUvicorn(app, name="openapi-proof", health_path="/_health"))
        yield server, seen


def json_of(example: Any) -> Any:
    """A YAML example as JSON would carry it (YAML reads unquoted timestamps as datetimes)."""
    return json.loads(json.dumps(example, default=lambda o: o.isoformat()))


async def run_through_gate(
    env: WorkflowEnvironment,
    connector: type[Connector],
    settings: Any,
    audit_url: str,
    action: str,
    arguments: dict[str, Any],
) -> tuple[dict[str, Any], str]:
    """Run one action with the full treatment (catalog, policy, activity, audit) on real Temporal."""
    name = connector.name
    plugin = RetrofitPlugin(
        connectors=connectors_from_classes([connector]),
        workflows=[SingleAction],
        audit_url=audit_url,
        policy=READS_ONLY,
        settings_overrides={name: settings},
    )
    task_queue = f"openapi-proof-{uuid.uuid4()}"
    workflow_id = f"openapi-proof-{uuid.uuid4().hex[:8]}"
    async with Worker(env.client, task_queue=task_queue, plugins=[plugin]):
        result = await env.client.execute_workflow(
            "SingleAction",
            SingleActionInput(action=action, arguments=arguments),
            id=workflow_id,
            task_queue=task_queue,
            result_type=dict,
        )
    assert isinstance(result, dict)
    return result, workflow_id
