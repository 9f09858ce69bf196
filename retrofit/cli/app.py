"""`retrofit` — the command line for integrators, ops and business users."""

from __future__ import annotations

import typer

from retrofit.cli import audit_commands, connector_commands, run_commands

app = typer.Typer(
    name="retrofit",
    help="Put AI agents in front of legacy systems, safely: durable workflows, policy, approvals, audit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
run_commands.register(app)
app.add_typer(connector_commands.app, name="connectors")
app.add_typer(audit_commands.app, name="audit")


def main() -> None:
    app()
