"""Build the MCP-backed connectors a worker serves, from the servers file and its lock.

A worker never lists a server to decide what to serve: the lock says which tools exist and what
their schemas are; the servers file says which of them the operator still chooses and with what
effect. A server in the file but not in the lock, or a tool chosen by exact name but not locked,
stops the worker with a message to run `retrofit mcp import`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from retrofit.mcp.consuming.config import McpServerConfig, is_exact, load_servers
from retrofit.mcp.consuming.connector import McpConnector, connector_class
from retrofit.mcp.consuming.effects import resolve_effect
from retrofit.mcp.consuming.lock import LockedServer, LockError, lock_path, read_lock
from retrofit.registry import LoadedConnector, connectors_from_classes
from retrofit.sdk.errors import PluginError

# One class per (server config, locked tools, effects): the action catalog refuses a second,
# different definition under the same name, and a worker built twice in one process (tests,
# `retrofit dev` restarts) must find the same classes.
_classes: dict[str, type[McpConnector]] = {}


def mcp_connector_classes(servers_file: Path) -> list[type[McpConnector]]:
    """The connector classes for every server in `servers_file` (raises LockError, ValueError)."""
    config = load_servers(servers_file)
    path = lock_path(servers_file)
    lock = read_lock(path)
    return [_class_for(server, lock.server(server.name), path) for server in config.servers]


def _class_for(server: McpServerConfig, locked: LockedServer | None, path: Path) -> type[McpConnector]:
    if locked is None:
        raise LockError(f"MCP server {server.name!r} is not in {path}: run `retrofit mcp import`")
    tools = tuple(t for t in locked.tools if server.chooses(t.tool))
    locked_names = {t.tool for t in locked.tools}
    missing = [p for p in server.tools if is_exact(p) and p not in locked_names]
    if missing or not tools:
        raise LockError(
            f"MCP server {server.name!r}: tools {missing or list(server.tools)} are not in {path}: "
            "run `retrofit mcp import`"
        )
    chosen = locked.model_copy(update={"tools": tools})
    effects = {t.action: resolve_effect(t.annotations, server.effects.get(t.tool)) for t in tools}
    key = json.dumps(
        [server.model_dump(mode="json"), chosen.model_dump(mode="json"), effects], sort_keys=True
    )
    if key not in _classes:
        _classes[key] = connector_class(server, chosen, effects)
    return _classes[key]


def with_mcp_connectors(
    connectors: Sequence[LoadedConnector], servers_file: Path | None
) -> list[LoadedConnector]:
    """`connectors` plus the MCP-backed ones; a server named like a plugin connector is refused."""
    if servers_file is None:
        return list(connectors)
    try:
        classes = mcp_connector_classes(servers_file)
    except (LockError, ValueError, OSError) as exc:
        raise PluginError(f"MCP servers file {servers_file}", str(exc)) from exc
    taken = {c.spec.name for c in connectors}
    for cls in classes:
        if cls.name in taken:
            raise PluginError(
                f"MCP servers file {servers_file}",
                f"server name {cls.name!r} is already a connector's name; rename the server",
            )
    return [*connectors, *connectors_from_classes(classes)]
