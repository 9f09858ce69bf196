"""Retrofit as an MCP server: the catalog's gated actions as MCP tools (`retrofit mcp serve`).

- `selection`: which actions are served (the operator's patterns; READ-only by default)
- `tools`: an action as an MCP tool (name, schema, description, annotations from the effect)
- `caller`: who calls, verified by the identity service (HTTP bearer, or stdio's local login)
- `calls`: one call = one `SingleAction` workflow started as the caller; progress while it waits
- `server`: the SDK's low-level server over stdio or streamable HTTP

Host-only: nothing here is imported by workflow code.
"""

from retrofit.mcp.serving.caller import Caller, IdentityTokenVerifier, local_caller
from retrofit.mcp.serving.calls import GatedCalls
from retrofit.mcp.serving.selection import ACTIONS_ENV, SelectionError, select_actions, split_patterns
from retrofit.mcp.serving.server import http_app, mcp_server, serve_stdio
from retrofit.mcp.serving.tools import ServedTools, as_tool, tool_annotations, tool_name

__all__ = [
    "ACTIONS_ENV",
    "Caller",
    "GatedCalls",
    "IdentityTokenVerifier",
    "SelectionError",
    "ServedTools",
    "as_tool",
    "http_app",
    "local_caller",
    "mcp_server",
    "select_actions",
    "serve_stdio",
    "split_patterns",
    "tool_annotations",
    "tool_name",
]
