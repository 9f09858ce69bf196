"""Compare a server's live listing with the lock: what `retrofit mcp check` reports.

The same comparison refuses a drifted call at call time (`connector._check_drift`); this one
reports every tool at once, so ops can check servers before a release or from a cron job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import anyio
from mcp_types import Tool

from retrofit.mcp.consuming.config import McpServerConfig
from retrofit.mcp.consuming.lock import LockedServer, schema_hash
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


def compare(server: str, locked: LockedServer, live: Sequence[Tool]) -> list[ToolCheck]:
    listed = {t.name: t for t in live}
    checks: list[ToolCheck] = []
    for tool in locked.tools:
        name = f"{server}.{tool.action}"
        found = listed.get(tool.tool)
        if found is None:
            checks.append(ToolCheck(name, ToolState.GONE))
            continue
        live_hash = schema_hash(found.input_schema)
        if live_hash == tool.schema_sha256:
            checks.append(ToolCheck(name, ToolState.SAME))
        else:
            checks.append(
                ToolCheck(name, ToolState.CHANGED, f"locked {tool.schema_sha256[:12]}, live {live_hash[:12]}")
            )
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
