"""The embedded stack in one process: Temporal dev server, (demo legacy systems), one worker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client

from retrofit.embedded.dev_server import DevServer
from retrofit.settings import RetrofitSettings
from retrofit.worker import build_worker, connect


@dataclass
class RunningStack:
    client: Client
    settings: RetrofitSettings
    ui_url: str
    demo_systems: dict[str, str]  # name -> URL


@contextlib.asynccontextmanager
async def embedded_stack(
    settings: RetrofitSettings,
    *,
    demo: bool,
    port: int = 7233,
    ui_port: int = 8233,
    persist: bool = True,
) -> AsyncIterator[RunningStack]:
    data_dir = Path(settings.data_dir)
    server = DevServer(
        port=port,
        ui_port=ui_port,
        db_file=data_dir / "temporal.db" if persist else None,
        log_file=data_dir / "temporal-dev-server.log",
    )
    await asyncio.to_thread(server.start)
    demo_systems: dict[str, str] = {}
    stack = contextlib.AsyncExitStack()
    try:
        stack.callback(server.stop)
        if demo:
            demo_systems = _start_demo_systems(stack)
        settings = settings.model_copy(update={"temporal_address": server.address, "ui_url": server.ui_url})
        client = await connect(settings, wait=30)
        worker = build_worker(client, settings)
        await stack.enter_async_context(worker)
        yield RunningStack(client=client, settings=settings, ui_url=server.ui_url, demo_systems=demo_systems)
    finally:
        await stack.aclose()


def _start_demo_systems(stack: contextlib.AsyncExitStack) -> dict[str, str]:
    # Imported lazily: the demo legacy systems are not part of a production worker.
    from legacy.ledger.server import LedgerServer

    ledger: Any = LedgerServer(port=8701)
    ledger.start()
    stack.callback(ledger.stop)
    return {"ledger (REST)": ledger.url}
