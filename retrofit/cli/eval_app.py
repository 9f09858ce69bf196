"""`retrofit eval`: the scenario harness (`retrofit eval SCENARIOS...`, short for `retrofit eval run
SCENARIOS...`) and the drift report from the audit trail (`retrofit eval report`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:  # typer vendors click; its Context is what TyperGroup's methods take
    from typer._click import Context

from retrofit.cli import eval_commands, eval_report_command

_DEFAULT = "run"


class _ScenariosByDefault(TyperGroup):
    """A group whose first argument, when it names no subcommand, belongs to `run`: so
    `retrofit eval evals/ --live` keeps working beside `retrofit eval report`."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [_DEFAULT, *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_ScenariosByDefault,
    no_args_is_help=True,
    help="Score the agent: scenario files (`retrofit eval SCENARIOS...`) or recorded runs (`report`).",
)
app.command(_DEFAULT)(eval_commands.eval_scenarios)
app.command("report")(eval_report_command.report)
