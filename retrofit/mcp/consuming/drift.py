"""Compare a server's live listing with the lock: what `retrofit mcp check` reports.

`tool_state` is also what refuses a drifted call at call time (`connector._check_drift`); here
it reports every tool at once, so ops can check servers before a release or from a cron job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import anyio
from mcp_types import Tool

from retrofit.mcp.consuming.config import McpServerConfig
from retrofit.mcp.consuming.lock import LockedServer, LockedTool, schema_hash
from retrofit.mcp.consuming.sessions import connected, list_tools


class ToolState(StrEnum):
    SAME = "same"
    CHANGED = "schema changed"
    GONE = "not listed"
    UNREACHABLE = "server unreachable"


@dataclass(frozen=True)
class ToolCheck:
    action: str  # `<server>.<action>`
    state: ToolState
    detail: str = ""


def tool_state(tool: LockedTool, live: Sequence[Tool]) -> tuple[ToolState, str | None]:
    """One locked tool against a live listing: its state, and its live schema hash when listed."""
    found = next((t for t in live if t.name == tool.tool), None)
    if found is None:
        return ToolState.GONE, None
    live_hash = schema_hash(found.input_schema)
    return (ToolState.SAME if live_hash == tool.schema_sha256 else ToolState.CHANGED), live_hash


def compare(server: str, locked: LockedServer, live: Sequence[Tool]) -> list[ToolCheck]:
    checks: list[ToolCheck] = []
    for tool in locked.tools:
        state, live_hash = tool_state(tool, live)
        detail = ""
        if state is ToolState.CHANGED and live_hash is not None:
            detail = f"locked {tool.schema_sha256[:12]}, live {live_hash[:12]}"
        checks.append(ToolCheck(f"{server}.{tool.action}", state, detail))
    return checks


async def check_server(server: McpServerConfig, locked: LockedServer) -> list[ToolCheck]:
    try:
        with anyio.fail_after(server.timeout_seconds):
            async with connected(server) as client:
                live = await list_tools(client)
    except Exception as exc:
        while isinstance(exc, ExceptionGroup) and exc.exceptions:
            exc = exc.exceptions[0]
        reason = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"[:200]
        return [ToolCheck(f"{server.name}.{t.action}", ToolState.UNREACHABLE, reason) for t in locked.tools]
    return compare(server.name, locked, live)
