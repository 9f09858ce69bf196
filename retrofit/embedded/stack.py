"""The embedded stack in one process: Temporal dev server, the identity + codec server, (demo
legacy systems), one worker.

The identity server always runs (default http://localhost:8234) and the dev server's Web UI is
pointed at it (`--ui-codec-endpoint`), so the stack runs in verified mode: people log in there and
their answers are signed. With `demo` and no RETROFIT_IDENTITY_DIRECTORY it reads the shipped demo
directory (alice, bob, carol, dave, erin; passwords "demo-<name>", demo only).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client

from retrofit.embedded.demo_systems import load_demo_starter
from retrofit.embedded.dev_server import DevServer, DevServerError, free_port, port_is_free
from retrofit.embedded.identity_server import DEFAULT_PORT, DEMO_DIRECTORY, IdentityServer
from retrofit.embedded.model_server import ModelInUse, start_model
from retrofit.llm.settings import LlmSettings
from retrofit.sdk.connector import ConnectorSettings
from retrofit.settings import RetrofitSettings
from retrofit.worker import build_worker, connect, load_worker_config


@dataclass
class RunningStack:
    client: Client
    settings: RetrofitSettings
    ui_url: str
    demo_systems: dict[str, str]  # name -> URL
    model: ModelInUse
    connector_settings: dict[str, ConnectorSettings]  # what the worker's connectors were pointed at
    demo_admin: dict[str, str]  # demo system -> base URL of its `/_admin/` control plane
    identity_url: str = ""  # the identity + codec server: log in at <identity_url>/login


@contextlib.asynccontextmanager
async def embedded_stack(
    settings: RetrofitSettings,
    *,
    demo: bool,
    port: int = 7233,
    ui_port: int = 8233,
    identity_port: int = DEFAULT_PORT,
    persist: bool = True,
    ephemeral: bool = False,
    llm: LlmSettings | None = None,
) -> AsyncIterator[RunningStack]:
    """The stack; `ephemeral`: free ports for everything (the demo systems included) and no
    persisted Temporal database, so it runs beside a `retrofit dev` (the eval harness does)."""
    data_dir = Path(settings.data_dir)
    if ephemeral:
        port, ui_port, identity_port, persist = free_port(), free_port(), free_port(), False
    settings = identity_settings(settings, demo=demo, ui_port=ui_port, identity_port=identity_port)
    config = load_worker_config(settings)  # bad plugins or policy stop us before anything starts
    if not port_is_free("127.0.0.1", identity_port):
        raise DevServerError(
            f"port {identity_port} (the identity + codec server) is in use: another `retrofit dev` "
            "or `retrofit codec-server` may be running; stop it or choose --identity-port"
        )
    identity = IdentityServer(settings, port=identity_port)
    server = DevServer(
        port=port,
        ui_port=ui_port,
        db_file=data_dir / "temporal.db" if persist else None,
        log_file=data_dir / "temporal-dev-server.log",
        ui_codec_endpoint=settings.identity_url,
    )
    await asyncio.to_thread(identity.start)
    demo_systems: dict[str, str] = {}
    stack = contextlib.AsyncExitStack()
    try:
        stack.callback(identity.stop)
        await asyncio.to_thread(server.start)
        stack.callback(server.stop)
        overrides: dict[str, ConnectorSettings] = {}
        model = ModelInUse(llm or LlmSettings(), "")
        admin: dict[str, str] = {}
        if demo:
            started = load_demo_starter()(stack, data_dir / "demo", ephemeral)
            demo_systems, overrides, admin = started.urls, started.connector_settings, started.admin
            model = start_model(stack, model.settings, ephemeral=ephemeral)
        settings = settings.model_copy(update={"temporal_address": server.address, "ui_url": server.ui_url})
        # A worker process serves metrics; an ephemeral stack (the eval harness) does not: it runs
        # beside a `retrofit dev` or worker that may hold RETROFIT_METRICS_PORT.
        client = await connect(settings, wait=30, serve_metrics=not ephemeral)
        worker = build_worker(
            client, settings, config=config, settings_overrides=overrides, llm_settings=model.settings
        )
        await stack.enter_async_context(worker)
        yield RunningStack(
            client=client,
            settings=settings,
            ui_url=server.ui_url,
            demo_systems=demo_systems,
            model=model,
            connector_settings=overrides,
            demo_admin=admin,
            identity_url=settings.identity_url,
        )
    finally:
        await stack.aclose()


def identity_settings(
    settings: RetrofitSettings, *, demo: bool, ui_port: int, identity_port: int
) -> RetrofitSettings:
    """Where the embedded identity server is, which UI origin may call it with the session
    cookie, and (demo) the shipped demo directory unless one is configured."""
    ui_origin = f"http://localhost:{ui_port}"
    origins = [o.strip() for o in settings.codec_cors_origins.split(",") if o.strip()]
    update: dict[str, Any] = {
        "identity_url": f"http://localhost:{identity_port}",
        "ui_url": ui_origin,
        "codec_cors_origins": ",".join(dict.fromkeys([*origins, ui_origin])),
    }
    if demo and settings.identity_directory is None:
        update["identity_directory"] = DEMO_DIRECTORY
    return settings.model_copy(update=update)
