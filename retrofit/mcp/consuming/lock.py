"""The lock: what each external MCP server's chosen tools looked like when the operator imported them.

`retrofit mcp import` writes it beside the servers file (`mcp-servers.toml` → `mcp-servers.lock.json`);
workers build their actions from it, never from a live listing, and every call checks the live
schema against the pinned hash. A server that changes a tool cannot silently widen what runs.

The lock pins what the *server* said (name, description, input schema, annotations). The effect
is resolved again from the servers file when a worker loads, because the operator's word is
final and may be edited without re-importing; the lock records the effect at import for review.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from retrofit.sdk.effect import Effect

LOCK_VERSION = 1
_MAX_DESCRIPTION = 2000


class LockedTool(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tool: str = Field(description="the tool's name on the MCP server")
    action: str = Field(description="the action name under the connector (`<server>.<action>`)")
    description: str
    input_schema: dict[str, Any]
    schema_sha256: str
    annotations: dict[str, Any] | None = None
    effect: Effect = Field(description="resolved at import; the servers file is read again at load")


class LockedServer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    server_info: str = ""
    tools: tuple[LockedTool, ...] = ()


class McpLock(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = LOCK_VERSION
    servers: tuple[LockedServer, ...] = ()

    def server(self, name: str) -> LockedServer | None:
        return next((s for s in self.servers if s.name == name), None)


class LockError(Exception):
    """The lock is missing, unreadable or does not cover the servers file: run `retrofit mcp import`."""


def schema_hash(schema: dict[str, Any]) -> str:
    """SHA-256 of the schema as canonical JSON (sorted keys, no spaces): key order never counts."""
    canonical = json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def short_description(text: str | None, fallback: str) -> str:
    text = (text or "").strip() or fallback
    return text if len(text) <= _MAX_DESCRIPTION else text[: _MAX_DESCRIPTION - 1] + "…"


def lock_path(servers_file: Path) -> Path:
    return servers_file.with_name(f"{servers_file.stem}.lock.json")


def write_lock(path: Path, lock: McpLock) -> None:
    # Written whole and renamed, so a worker never reads half a lock.
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(lock.model_dump(mode="json"), indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def read_lock(path: Path) -> McpLock:
    if not path.exists():
        raise LockError(f"no MCP lock at {path}: run `retrofit mcp import` first")
    try:
        lock = McpLock.model_validate_json(path.read_text())
    except ValueError as exc:
        raise LockError(f"MCP lock {path} is not valid: {exc}") from exc
    if lock.version != LOCK_VERSION:
        raise LockError(f"MCP lock {path} has version {lock.version}; run `retrofit mcp import` again")
    for server in lock.servers:
        for tool in server.tools:
            if schema_hash(tool.input_schema) != tool.schema_sha256:
                raise LockError(
                    f"MCP lock {path}: {server.name}.{tool.action} schema does not match its hash"
                )
    return lock
