"""The scored table `retrofit eval` prints, and its JSON form."""

from __future__ import annotations

from collections.abc import Sequence

from rich.markup import escape
from rich.table import Table

from retrofit.evals.gate import EvalReport
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
        "model s",
        "framework s",
    ):
        text = column in ("scenario", "status")
        table.add_column(column, justify="left" if text else "right", no_wrap=text)
    for s in scores:
        table.add_row(
            escape(s.name),
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
            f"{s.model_s:.2f}",
            f"{s.framework_s:.2f}",
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
        f"{sum(s.model_s for s in scores):.2f}",
        f"{sum(s.framework_s for s in scores):.2f}",
    )
    return table


def case_table(report: EvalReport) -> Table:
    """One row per case (scenario): its pass rate against its threshold, the means over its runs,
    and how it compares with the baseline."""
    table = Table(title=f"Cases — {report.repeat} run(s) each, overall pass rate {report.pass_rate:.2f}")
    for column in (
        "case",
        "pass rate",
        "needed",
        "tokens",
        "cost $",
        "turns",
        "latency s (p95)",
        "model s",
        "framework s",
        "judge",
        "baseline",
    ):
        text = column in ("case", "baseline")
        table.add_column(column, justify="left" if text else "right", no_wrap=column == "case")
    for c in report.cases:
        verdict = "[green]ok[/]" if c.passed else "[red]below[/]"
        versus = f"[red]REGRESSION: {escape(c.regression)}[/]" if c.regression else ""
        if c.worse:
            versus = (versus + " " if versus else "") + "worse: " + escape(", ".join(c.worse))
        table.add_row(
            escape(c.name),
            f"{c.pass_rate:.2f} {verdict}",
            f"{c.min_pass_rate:.2f}",
            f"{c.tokens_mean:,.0f}",
            f"{c.cost_usd_mean:.4f}",
            f"{c.turns_mean:.1f}",
            f"{c.latency_s_mean:.2f} ({c.latency_s_p95:.2f})",
            f"{c.model_s_mean:.2f}",
            f"{c.framework_s_mean:.2f}",
            "" if c.judge_score_mean is None else f"{c.judge_score_mean:.2f}",
            versus,
        )
    return table
