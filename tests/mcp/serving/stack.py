"""The test stack for `retrofit mcp serve`: the real identity service (signing with the test key
the workers pin), a ledger worker on the dev server, and the MCP server over streamable HTTP on
loopback, in this process — or its settings for a `retrofit mcp serve` subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import mcp_types as types
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from temporalio.client import Client as TemporalClient

from connectors.ledger.connector import LedgerConnector
from retrofit.cli.identity_client import IdentityClient
from retrofit.embedded.identity_server import demo_password
from retrofit.mcp.serving import GatedCalls, ServedTools, http_app, mcp_server, select_actions
from retrofit.registry import connectors_from_classes
from retrofit.settings import RetrofitSettings
from tests.identity_service import Identity

RETROFIT = str(Path(sys.executable).parent / "retrofit")
LEDGER_SPECS = [a for c in connectors_from_classes([LedgerConnector]) for a in c.spec.actions]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_settings(
    temporal: TemporalClient, task_queue: str, identity: Identity, data_dir: Path
) -> RetrofitSettings:
    return RetrofitSettings(
        temporal_address=temporal.service_client.config.target_host,
        task_queue=task_queue,
        identity_url=identity.url,
        data_dir=data_dir,
    )


def subprocess_env(settings: RetrofitSettings, identity: Identity) -> dict[str, str]:
    """`RETROFIT_*` for a `retrofit mcp serve` subprocess pointed at the test stack."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETROFIT_")}
    env.update(
        RETROFIT_TEMPORAL_ADDRESS=settings.temporal_address,
        RETROFIT_TASK_QUEUE=settings.task_queue,
        RETROFIT_IDENTITY_URL=identity.url,
        RETROFIT_DATA_DIR=str(settings.data_dir),
    )
    return env


async def session_of(identity: Identity, user: str) -> dict[str, Any]:
    """`user` logs in at the identity service (their demo password): the bearer an MCP client sends."""
    return await IdentityClient(RetrofitSettings(identity_url=identity.url)).open_session(
        user, demo_password(user)
    )


@dataclass
class HttpServer:
    url: str

    @contextlib.asynccontextmanager
    async def client(self, bearer: str | None, **options: Any) -> AsyncIterator[Client]:
        """The SDK's client, sending `bearer`; the HTTP client is ours to close (the SDK closes
        only one it made itself)."""
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        http = create_mcp_http_client(headers=headers, timeout=httpx2.Timeout(30.0, read=120.0))
        async with http, Client(streamable_http_client(self.url, http_client=http), **options) as mcp:
            yield mcp


@contextlib.asynccontextmanager
async def mcp_http(
    settings: RetrofitSettings, temporal: TemporalClient, patterns: Sequence[str] = ()
) -> AsyncIterator[HttpServer]:
    """`retrofit mcp serve --http` in this process, on a free loopback port."""
    served = ServedTools.of(select_actions(LEDGER_SPECS, patterns))
    app = http_app(mcp_server(served, GatedCalls(settings, temporal)), settings, host="127.0.0.1")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=5)
    )
    task = asyncio.ensure_future(server.serve())
    for _ in range(200):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield HttpServer(f"http://127.0.0.1:{port}/mcp")
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=15)


WORKFLOW_IN_URL = re.compile(r"/workflows/(mcp-[A-Za-z0-9_-]+)")
Connect = Callable[[], contextlib.AbstractAsyncContextManager[Client]]


async def call_waiting(
    connect: Connect, tool: str, arguments: dict[str, Any]
) -> tuple[asyncio.Task[types.CallToolResult], list[str], str]:
    """Start a call that waits for a person: the call, its progress messages so far, and the
    workflow id its first progress message names (in the Temporal UI link)."""
    messages: list[str] = []
    found: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")
        match = WORKFLOW_IN_URL.search(message or "")
        if match and not found.done():
            found.set_result(match.group(1))

    async def run() -> types.CallToolResult:
        async with connect() as mcp:
            return await mcp.call_tool(tool, arguments, progress_callback=on_progress)

    task = asyncio.ensure_future(run())
    either: set[asyncio.Future[Any]] = {task, found}
    done, _ = await asyncio.wait(either, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        raise AssertionError(f"{tool} did not wait for a person: {task.result()}")
    assert found in done, f"no progress naming the workflow: {messages}"
    return task, messages, found.result()
