"""The embedded stack in one process: Temporal dev server, (demo legacy systems), one worker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client

from retrofit.embedded.dev_server import DevServer, free_port
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


@contextlib.asynccontextmanager
async def embedded_stack(
    settings: RetrofitSettings,
    *,
    demo: bool,
    port: int = 7233,
    ui_port: int = 8233,
    persist: bool = True,
    ephemeral: bool = False,
    llm: LlmSettings | None = None,
) -> AsyncIterator[RunningStack]:
    """The stack; `ephemeral`: free ports for everything (the demo systems included) and no
    persisted Temporal database, so it runs beside a `retrofit dev` (the eval harness does)."""
    data_dir = Path(settings.data_dir)
    if ephemeral:
        port, ui_port, persist = free_port(), free_port(), False
    config = load_worker_config(settings)  # bad plugins or policy stop us before anything starts
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
        overrides: dict[str, ConnectorSettings] = {}
        model = ModelInUse(llm or LlmSettings(), "")
        admin: dict[str, str] = {}
        if demo:
            demo_systems, overrides, admin = _start_demo_systems(
                stack, data_dir / "demo", ephemeral=ephemeral
            )
            model = start_model(stack, model.settings, ephemeral=ephemeral)
        settings = settings.model_copy(update={"temporal_address": server.address, "ui_url": server.ui_url})
        client = await connect(settings, wait=30)
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
        )
    finally:
        await stack.aclose()


def _start_demo_systems(
    stack: contextlib.AsyncExitStack, directory: Path, *, ephemeral: bool
) -> tuple[dict[str, str], dict[str, ConnectorSettings], dict[str, str]]:
    """Start the demo legacy systems on their fixed loopback ports (or free ones) and point the
    connectors at them."""
    # Imported lazily: the demo legacy systems are not part of a production worker.
    from connectors.crm.connector import CrmConnector
    from connectors.erp.connector import ErpConnector
    from connectors.ledger.connector import LedgerConnector
    from connectors.northwind.connector import NorthwindConnector
    from legacy.crm.server import CrmServer
    from legacy.erp.server import ErpServer
    from legacy.ledger.server import LedgerServer
    from legacy.sqldb.database import SqlDemoDatabase

    ledger: Any = LedgerServer(port=0 if ephemeral else 8701)
    ledger.start()
    stack.callback(ledger.stop)
    erp: Any = ErpServer(port=0 if ephemeral else 8702)
    erp.start()
    stack.callback(erp.stop)
    crm: Any = CrmServer(port=0 if ephemeral else 8703)
    crm.start()
    stack.callback(crm.stop)
    northwind = SqlDemoDatabase(directory)
    northwind.prepare()
    urls = {
        "ledger (REST)": ledger.url,
        "ERP (SOAP)": erp.wsdl_url,
        "CRM (REST, OAuth2)": crm.url,
        "Northwind (SQL)": str(northwind.path),
    }
    overrides = {
        "ledger": LedgerConnector.load_settings(base_url=ledger.url, api_key=ledger.api_key),
        "erp": ErpConnector.load_settings(wsdl=erp.wsdl_url),
        "crm": CrmConnector.load_settings(base_url=crm.url, client_secret=crm.client_secret),
        "northwind": NorthwindConnector.load_settings(url=northwind.url),
    }
    return urls, overrides, {"ledger": ledger.url, "erp": erp.url, "crm": crm.url}
