"""`retrofit mcp serve`: the catalog's gated actions as MCP tools, for any MCP client.

stdio (the default; Claude Desktop and IDE agents spawn it) calls as the local user's
`retrofit login` session; `--http` serves streamable HTTP where every request needs a bearer
from the identity service. Every call is one `SingleAction` workflow through the gate.
On stdio, stdout is the MCP channel: everything this command says goes to stderr.
"""

from __future__ import annotations

import typer

from retrofit.cli.identity_client import IdentityError
from retrofit.cli.output import err_console, fail, run_async
from retrofit.mcp.serving.selection import ACTIONS_ENV, SelectionError, select_actions, split_patterns
from retrofit.sdk.errors import PluginError
from retrofit.settings import RetrofitSettings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8236


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    actions: list[str] = typer.Option(
        [],
        "--actions",
        envvar=ACTIONS_ENV,
        help="Serve these actions: names (ledger.get_customer) or whole connectors (ledger.*); "
        "repeatable or comma separated. Default: every READ action.",
    ),
    http: bool = typer.Option(False, "--http", help="Streamable HTTP (bearer auth) instead of stdio."),
    host: str = typer.Option(DEFAULT_HOST, "--host", help="HTTP: address to listen on."),
    port: int = typer.Option(DEFAULT_PORT, "--port", help="HTTP: port to listen on."),
) -> None:
    """Serve the gated actions over MCP. Each call starts one SingleAction workflow as the
    verified caller: policy, approval (the call waits and reports progress), audit."""
    from retrofit.mcp.serving import (
        GatedCalls,
        ServedTools,
        http_app,
        local_caller,
        mcp_server,
        serve_stdio,
    )
    from retrofit.worker import configured_connectors, connect

    settings = RetrofitSettings()
    try:
        specs = [a for c in configured_connectors(settings) for a in c.spec.actions]
        served = ServedTools.of(select_actions(specs, split_patterns(actions)))
    except (PluginError, SelectionError, ValueError) as exc:
        fail(str(exc))
        return

    async def go() -> None:
        # stdio: who calls is known before anything is served; no login, no server.
        caller = None if http else await local_caller(settings)
        temporal = await connect(settings)
        server = mcp_server(served, GatedCalls(settings, temporal), fixed_caller=caller)
        names = ", ".join(served.by_name) or "none"
        if caller is not None:
            err_console.print(f"retrofit mcp serve (stdio) as {caller.subject}: {names}")
            await serve_stdio(server)
            return
        import uvicorn

        app = http_app(server, settings, host=host)
        err_console.print(
            f"retrofit mcp serve: http://{host}:{port}/mcp (Authorization: Bearer <identity session>): {names}"
        )
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
        await uvicorn.Server(config).serve()

    run_async(go(), IdentityError)
