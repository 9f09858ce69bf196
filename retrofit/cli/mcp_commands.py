"""`retrofit mcp ...`: Model Context Protocol, both ways (retrofit/mcp).

`serve` offers the gated actions to MCP clients (`retrofit/cli/mcp_serve_command.py`); `import`
pins an external MCP server's tools for use as actions (`retrofit/cli/mcp_import_command.py`).
"""

from __future__ import annotations

import typer

from retrofit.cli import mcp_import_command, mcp_serve_command

app = typer.Typer(
    help="MCP both ways: serve the gated actions, and use external MCP servers' tools as actions."
)
mcp_serve_command.register(app)
mcp_import_command.register(app)
