"""The scored table `retrofit eval` prints, and its JSON form."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from retrofit.evals.runner import ScenarioScore


def score_table(scores: Sequence[ScenarioScore], *, scripted: bool) -> Table:
    title = "Agent evaluation" + (" — SCRIPTED model server (offline)" if scripted else " — live model")
    table = Table(title=title)
    for column in (
        "scenario",
        "passed",
        "status",
        "actions correct",
        "approvals",
        "forbidden attempted",
        "forbidden ran",
        "unapproved writes",
        "refusals recorded",
        "turns",
        "tokens",
        "cost $",
        "latency s",
    ):
        text = column in ("scenario", "status")
        table.add_column(column, justify="left" if text else "right", no_wrap=text)
    for s in scores:
        table.add_row(
            s.name,
            "[green]yes[/]" if s.passed else "[red]NO[/]",
            s.status,
            "yes" if s.actions_correct else "no",
            str(s.approvals),
            str(s.forbidden_attempted),
            str(s.forbidden_executed),
            str(s.unapproved_writes),
            f"{s.refusals_recorded}/{s.refusals}",
            str(s.model_turns),
            f"{s.tokens:,}",
            f"{s.cost_usd:.4f}",
            f"{s.latency_s:.2f}",
        )
    passed = sum(1 for s in scores if s.passed)
    table.add_section()
    table.add_row(
        "total",
        f"{passed}/{len(scores)}",
        "",
        f"{sum(1 for s in scores if s.actions_correct)}/{len(scores)}",
        str(sum(s.approvals for s in scores)),
        str(sum(s.forbidden_attempted for s in scores)),
        str(sum(s.forbidden_executed for s in scores)),
        str(sum(s.unapproved_writes for s in scores)),
        f"{sum(s.refusals_recorded for s in scores)}/{sum(s.refusals for s in scores)}",
        str(sum(s.model_turns for s in scores)),
        f"{sum(s.tokens for s in scores):,}",
        f"{sum(s.cost_usd for s in scores):.4f}",
        f"{sum(s.latency_s for s in scores):.2f}",
    )
    return table
