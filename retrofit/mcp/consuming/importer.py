"""`retrofit mcp import`: list each configured server's tools and pin the chosen ones in the lock.

Refused here, before any worker runs them: a tool whose schema the generated model cannot
enforce, a tool name the operator listed exactly that the server does not offer, an `effects`
entry for a tool that is not chosen (a typo would otherwise leave a dangerous tool at its default),
and two tools that map to the same action name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import anyio
from mcp_types import Tool

from retrofit.mcp.consuming.config import McpServerConfig, is_exact
from retrofit.mcp.consuming.effects import resolve_effect
from retrofit.mcp.consuming.lock import LockedServer, LockedTool, McpLock, schema_hash, short_description
from retrofit.mcp.consuming.schema_models import input_model
from retrofit.mcp.consuming.sessions import connected, list_tools

_ACTION = re.compile(r"[^a-z0-9_]")


class ImportProblem(Exception):
    """A server cannot be imported as configured; the message names the server and the tool."""


def action_name(tool: str) -> str:
    """The action name for a tool: lowercase identifier (`get-time` → `get_time`)."""
    name = _ACTION.sub("_", tool.lower()).strip("_") or "tool"
    return name if name[0].isalpha() else f"t_{name}"


def annotations_of(tool: Tool) -> dict[str, Any] | None:
    if tool.annotations is None:
        return None
    return tool.annotations.model_dump(mode="json", by_alias=True, exclude_none=True) or None


def lock_server(server: McpServerConfig, tools: Sequence[Tool], server_info: str = "") -> LockedServer:
    """Pin the tools `server` chooses from a listing (pure: the listing is given)."""
    offered = {t.name for t in tools}
    for pattern in server.tools:
        if is_exact(pattern) and pattern not in offered:
            raise ImportProblem(f"MCP server {server.name!r} does not offer the tool {pattern!r}")
    chosen = [t for t in tools if server.chooses(t.name)]
    if not chosen:
        raise ImportProblem(f"MCP server {server.name!r}: no tool matches {list(server.tools)}")
    chosen_names = {t.name for t in chosen}
    stray = sorted(set(server.effects) - chosen_names)
    if stray:
        raise ImportProblem(f"MCP server {server.name!r}: effects name tools that are not chosen: {stray}")
    locked: list[LockedTool] = []
    seen: dict[str, str] = {}
    for tool in sorted(chosen, key=lambda t: t.name):
        action = action_name(tool.name)
        if action in seen:
            raise ImportProblem(
                f"MCP server {server.name!r}: tools {seen[action]!r} and {tool.name!r} "
                f"both become the action {action!r}"
            )
        seen[action] = tool.name
        input_model(
            f"{server.name}__{action}", tool.name, tool.input_schema
        )  # refuses what it cannot enforce
        annotations = annotations_of(tool)
        locked.append(
            LockedTool(
                tool=tool.name,
                action=action,
                description=short_description(tool.description, f"MCP tool {tool.name} of {server.name}"),
                input_schema=tool.input_schema,
                schema_sha256=schema_hash(tool.input_schema),
                annotations=annotations,
                effect=resolve_effect(annotations, server.effects.get(tool.name)),
            )
        )
    return LockedServer(name=server.name, server_info=server_info, tools=tuple(locked))


async def import_server(server: McpServerConfig) -> LockedServer:
    """Connect to `server`, list its tools and pin the chosen ones."""
    try:
        with anyio.fail_after(server.timeout_seconds):
            async with connected(server) as client:
                tools = await list_tools(client)
                info = client.server_info
    except ImportProblem:
        raise
    except Exception as exc:
        raise ImportProblem(f"MCP server {server.name!r} could not be listed: {_reason(exc)}") from exc
    label = f"{info.name} {info.version}".strip()[:200] if info is not None else ""
    return lock_server(server, tools, label)


async def import_servers(servers: Sequence[McpServerConfig]) -> McpLock:
    return McpLock(servers=tuple([await import_server(s) for s in servers]))


def _reason(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"[:300]
