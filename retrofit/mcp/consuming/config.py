"""The operator's list of external MCP servers (TOML named by RETROFIT_MCP_SERVERS_FILE).

Credentials are named (env var names), never stored as values; tools are chosen by name or
glob, so a tool the operator did not list never becomes an action.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from retrofit.sdk.effect import Effect

_NAME = r"^[a-z][a-z0-9_]*$"
_GLOB = re.compile(r"[*?\[]")


def is_exact(pattern: str) -> bool:
    """A tool pattern without glob characters: the operator named one tool, which must exist."""
    return _GLOB.search(pattern) is None


class McpServerConfig(BaseModel):
    """One external MCP server; its name becomes the connector name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME)
    command: str | None = None
    args: tuple[str, ...] = ()
    env_from: dict[str, str] = Field(
        default_factory=dict, description="child env var -> operator env var holding the value"
    )
    url: str | None = None
    header_env: dict[str, str] = Field(
        default_factory=dict, description="HTTP header -> env var holding its value"
    )
    tools: tuple[str, ...] = Field(min_length=1, description="tool names or globs")
    effects: dict[str, Effect] = Field(default_factory=dict)
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    retries: int = Field(default=3, ge=1, le=20)
    # A tool's answer (text plus structured content) larger than this fails the call: a hostile
    # or broken server must not flood the audit trail, Temporal history or a model's context.
    max_result_chars: int = Field(default=100_000, ge=1, le=10_000_000)

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError(f"MCP server {self.name!r}: give exactly one of command or url")
        return self

    def chooses(self, tool: str) -> bool:
        """Whether the operator listed this tool (exact name or glob)."""
        return any(fnmatch.fnmatchcase(tool, pattern) for pattern in self.tools)


class McpServersFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    servers: tuple[McpServerConfig, ...] = ()


def load_servers(path: Path) -> McpServersFile:
    """Parse and validate the operator's file; a bad file is a clear error at worker start."""
    with path.open("rb") as handle:
        return McpServersFile.model_validate(tomllib.load(handle))
