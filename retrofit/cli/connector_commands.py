"""`retrofit connectors ...` — for integrators."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from retrofit.cli.output import console, fail
from retrofit.sdk.errors import PluginError

app = typer.Typer(help="Connector plugins and their actions (integrators).", no_args_is_help=True)


@app.command("list")
def list_connectors(
    schemas: bool = typer.Option(False, "--schemas", help="Also print each action's input JSON schema."),
) -> None:
    """List every discovered connector plugin and its actions, and whether its settings load
    from the environment (a misconfigured one is listed with the variable to set)."""
    try:
        from retrofit.registry import misconfigured
        from retrofit.settings import RetrofitSettings
        from retrofit.worker import configured_connectors

        loaded = configured_connectors(RetrofitSettings())
    except PluginError as exc:
        fail(str(exc))
        return
    problems = misconfigured(loaded)
    table = Table(title="Connectors (entry-point group retrofit.connectors, and RETROFIT_MCP_SERVERS_FILE)")
    for col in ("action", "effect", "timeout", "max attempts", "compensate", "description"):
        table.add_column(col, overflow="fold")
    for item in loaded:
        for spec in item.spec.actions:
            table.add_row(
                spec.name,
                spec.effect.value,
                f"{spec.timeout.total_seconds():g}s",
                str(spec.retry.maximum_attempts),
                spec.compensate or "",
                spec.description.splitlines()[0],
            )
    console.print(table)
    for item in loaded:
        console.print(f"[bold]{item.spec.name}[/] — {item.spec.plugin}")
        problem = problems.get(item.spec.name)
        if problem is not None:
            # The same line `retrofit worker` stops with: which variable, never a value.
            console.print(f"  [bold red]misconfigured[/]: {escape('; '.join(problem.problems))}")
        if schemas:
            for spec in item.spec.actions:
                console.print(f"  {spec.name} input:")
                console.print_json(data=spec.input_schema())


from retrofit.cli import connector_new_command  # noqa: E402 - registers `connectors new` on this app

connector_new_command.register(app)
