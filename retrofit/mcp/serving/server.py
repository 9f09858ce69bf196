"""The MCP server: the served actions as tools, each call through the gate as its caller.

`mcp_server(...)` builds the SDK's low-level `Server` (tools/list, tools/call); `serve_stdio` runs
it for one local user, `http_app` as streamable HTTP where every request needs a bearer the
identity service accepts.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

import mcp_types as types
from mcp.server.auth.settings import AuthSettings
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from starlette.applications import Starlette

from retrofit.mcp.serving.caller import Caller, IdentityTokenVerifier, caller_of
from retrofit.mcp.serving.calls import GatedCalls, tool_error
from retrofit.mcp.serving.tools import ServedTools
from retrofit.settings import RetrofitSettings

SERVER_NAME = "retrofit"
INSTRUCTIONS = (
    "Retrofit's gated actions on legacy systems. Every call is a Temporal workflow: the operator's "
    "policy, a person's approval where it asks for one (the call waits and reports progress), and "
    "a tamper-evident audit trail. You cannot approve your own calls."
)


def mcp_server(tools: ServedTools, calls: GatedCalls, *, fixed_caller: Caller | None = None) -> Server[Any]:
    """`fixed_caller`: stdio's local user; over HTTP each request's verified bearer is the caller."""

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools.tools())

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        caller = fixed_caller or caller_of(ctx.request)
        if caller is None:  # the bearer middleware lets nobody through; never start unverified
            return tool_error(
                "not authenticated: send Authorization: Bearer <session from the identity service>"
            )
        spec = tools.by_name.get(params.name)
        if spec is None:
            return tool_error(f"no tool {params.name!r} is served here (tools/list shows what is)")

        async def progress(step: float, message: str) -> None:
            await ctx.session.report_progress(step, None, message)

        return await calls.call(caller, spec, dict(params.arguments or {}), progress)

    return Server(
        SERVER_NAME,
        version=_version(),
        title="Retrofit gated actions",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


async def serve_stdio(server: Server[Any]) -> None:
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def http_app(server: Server[Any], settings: RetrofitSettings, *, host: str) -> Starlette:
    """Streamable HTTP at `/mcp`; a request without a bearer the identity service accepts is a
    401 from the SDK's bearer middleware before any MCP handler runs."""
    identity = settings.identity_url.rstrip("/")
    return server.streamable_http_app(
        host=host,
        auth=AuthSettings(issuer_url=identity, resource_server_url=None),
        token_verifier=IdentityTokenVerifier(settings),
    )


def _version() -> str:
    try:
        return version("retrofit")
    except PackageNotFoundError:
        return ""
