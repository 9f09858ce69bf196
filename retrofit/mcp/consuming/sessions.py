"""Open one MCP client session to a configured server (stdio subprocess or streamable HTTP).

Credentials are read from the worker's environment by the names the operator gave, at the
moment of the call, and go only to that server: a stdio child gets exactly the variables named
in `env_from` (plus the SDK's minimal default environment), an HTTP server gets the headers
named in `header_env`. Nothing here logs or returns them.
"""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TextIO

import httpx2
from mcp import Client, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp_types import Tool

from retrofit.mcp.consuming.config import McpServerConfig
from retrofit.mcp.consuming.errors import CredentialMissing

_MAX_PAGES = 50


@functools.cache
def _devnull() -> TextIO:
    # The child's stderr is not ours to log: a hostile server could flood the worker's logs.
    return open(os.devnull, "w")  # one handle for the whole process, never closed


def _named(server: McpServerConfig, names: dict[str, str], what: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for target, env_name in names.items():
        value = os.environ.get(env_name)
        if value is None:
            raise CredentialMissing(
                f"MCP server {server.name!r}: {what} {target!r} names the environment variable "
                f"{env_name!r}, which is not set in this process's environment"
            )
        values[target] = value
    return values


class AuthStatus:
    """The HTTP status of a refused credential, if the server answered one (401/403).

    The SDK folds every non-2xx answer into one generic JSON-RPC error; this keeps the one fact
    that decides whether a retry can help (a refused credential never heals by retrying)."""

    def __init__(self) -> None:
        self.refused: int | None = None

    async def observe(self, response: httpx2.Response) -> None:
        if response.status_code in (401, 403):
            self.refused = response.status_code


@asynccontextmanager
async def connected(server: McpServerConfig, auth: AuthStatus | None = None) -> AsyncIterator[Client]:
    """An initialised client for `server`; the caller bounds the whole use with a timeout."""
    async with AsyncExitStack() as stack:
        if server.command is not None:
            params = StdioServerParameters(
                command=server.command, args=list(server.args), env=_named(server, server.env_from, "env")
            )
            transport = stdio_client(params, errlog=_devnull())
        else:
            assert server.url is not None  # the config allows exactly one transport
            http = await stack.enter_async_context(
                create_mcp_http_client(
                    headers=_named(server, server.header_env, "header"),
                    timeout=httpx2.Timeout(server.timeout_seconds),
                )
            )
            if auth is not None:
                http.event_hooks["response"].append(auth.observe)
            transport = streamable_http_client(server.url, http_client=http)
        # No response cache: every call must see the server's current listing (drift check).
        client = await stack.enter_async_context(
            Client(transport, cache=None, read_timeout_seconds=server.timeout_seconds)
        )
        yield client


async def list_tools(client: Client) -> list[Tool]:
    """Every tool the server lists, across pages (bounded: a paginator that never ends stops here)."""
    tools: list[Tool] = []
    cursor: str | None = None
    for _ in range(_MAX_PAGES):
        page = await client.list_tools(cursor=cursor, cache_mode="bypass")
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            break
    return tools
