"""`retrofit mcp import` / `check`: pin external MCP servers' tools in the lock workers build
actions from, and compare the servers' live tools with it.

Reads the servers file (`--servers` or RETROFIT_MCP_SERVERS_FILE), connects to each server,
lists its tools, and writes `<file>.lock.json` beside it with every chosen tool's name, input
schema and its hash, annotations and effect. Review the diff of the lock like code: it is what
your workers will run. Nothing is written when any server fails to import.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from retrofit.cli.output import console, fail, run_async
from retrofit.settings import RetrofitSettings


def register(app: typer.Typer) -> None:
    app.command("import")(import_tools)
    app.command("check")(check_tools)


def import_tools(
    servers: Path | None = typer.Option(
        None,
        "--servers",
        help="The servers file (TOML). Default: RETROFIT_MCP_SERVERS_FILE.",
    ),
) -> None:
    """List each configured MCP server's tools and pin the chosen ones in the lock beside the file."""
    from retrofit.mcp.consuming.config import load_servers
    from retrofit.mcp.consuming.importer import ImportProblem, import_servers
    from retrofit.mcp.consuming.lock import lock_path, write_lock

    path = servers or RetrofitSettings().mcp_servers_file
    if path is None:
        fail("no servers file: pass --servers or set RETROFIT_MCP_SERVERS_FILE")
        return
    try:
        config = load_servers(path)
    except (OSError, ValueError) as exc:
        fail(f"MCP servers file {path}: {exc}")
        return
    if not config.servers:
        fail(f"MCP servers file {path} lists no servers")
        return

    async def go() -> None:
        lock = await import_servers(config.servers)
        target = lock_path(path)
        write_lock(target, lock)
        table = Table("action", "effect", "annotations", "schema sha256")
        for server in lock.servers:
            for tool in server.tools:
                hints = ", ".join(f"{k}={v}" for k, v in (tool.annotations or {}).items()) or "(none)"
                table.add_row(
                    f"{server.name}.{tool.action}", tool.effect.value.upper(), hints, tool.schema_sha256[:16]
                )
        console.print(table)
        count = sum(len(s.tools) for s in lock.servers)
        console.print(f"Locked {count} tools of {len(lock.servers)} servers in {target}")

    run_async(go(), ImportProblem)


def check_tools(
    servers: Path | None = typer.Option(
        None, "--servers", help="The servers file (TOML). Default: RETROFIT_MCP_SERVERS_FILE."
    ),
) -> None:
    """Compare each server's live tools with the lock; exit 1 when any schema drifted, a tool is
    gone or a server is unreachable (workers refuse drifted calls; this tells you first)."""
    from retrofit.mcp.consuming.config import load_servers
    from retrofit.mcp.consuming.drift import ToolState, check_server
    from retrofit.mcp.consuming.lock import LockError, lock_path, read_lock

    path = servers or RetrofitSettings().mcp_servers_file
    if path is None:
        fail("no servers file: pass --servers or set RETROFIT_MCP_SERVERS_FILE")
        return
    try:
        config = load_servers(path)
        lock = read_lock(lock_path(path))
    except (OSError, ValueError, LockError) as exc:
        fail(str(exc))
        return

    bad = 0

    async def go() -> None:
        nonlocal bad
        table = Table("action", "state", "detail")
        for server in config.servers:
            locked = lock.server(server.name)
            if locked is None:
                table.add_row(f"{server.name}.*", "not locked", "run `retrofit mcp import`")
                bad += 1
                continue
            for check in await check_server(server, locked):
                table.add_row(check.action, check.state.value, check.detail)
                bad += check.state is not ToolState.SAME
        console.print(table)

    run_async(go())
    if bad:
        fail(f"{bad} locked tools differ from what their servers list now")
