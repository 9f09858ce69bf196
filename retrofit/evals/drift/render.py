"""The drift report as a person reads it (a table and a list of flags) or a CI job does (JSON).

Labels were made printable when the records were read; they are escaped here as well, so a model
name such as "[red]x" is shown as written and never read as rich markup.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from retrofit.evals.drift.report import DriftReport, Window
from retrofit.evals.drift.scoring import GroupScore

_COLUMNS = (
    "window",
    "runs",
    "answered",
    "stopped",
    "refused",
    "invalid args",
    "rejected",
    "tokens/turn",
    "$/turn",
    "p50/p95 ms",
)


def _when(window: Window) -> str:
    return f"{window.start:%Y-%m-%d %H:%M} → {window.end:%Y-%m-%d %H:%M} UTC"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def _number(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _row(name: str, figures: GroupScore | None) -> list[str]:
    if figures is None:
        return [name, "0", *("–" for _ in _COLUMNS[2:])]
    stopped = "\n".join(f"{reason} {count}" for reason, count in figures.stopped.items()) or "–"
    return [
        name,
        str(figures.runs),
        _percent(figures.answered_rate),
        escape(stopped),
        _percent(figures.refusal_rate),
        _percent(figures.invalid_rate),
        _percent(figures.rejection_rate),
        _number(figures.tokens_per_turn, 0),
        ("–" if figures.cost_per_turn is None else f"{figures.cost_per_turn:.3g}")
        + ("+" if figures.unpriced_turns else ""),
        f"{_number(figures.latency_p50_ms, 0)}/{_number(figures.latency_p95_ms, 0)}",
    ]


def report_table(report: DriftReport) -> RenderableType:
    title = f"Agent drift by {report.by.value}: now {_when(report.current)}, before {_when(report.previous)}"
    table = Table(title=title, title_justify="left")
    table.add_column(report.by.value, overflow="fold")
    for column in _COLUMNS:
        text = column in ("window", "stopped")
        table.add_column(column, justify="left" if text else "right")
    for group in report.groups:
        table.add_row(escape(group.group), *_row("before", group.previous), end_section=False)
        table.add_row("", *_row("now", group.current), end_section=True)
    lines: list[RenderableType] = [table]
    if not report.groups:
        lines.append(Text("No agent runs in either window."))
    for group in report.groups:
        for flag in group.flags:
            lines.append(
                Text.assemble(
                    ("DRIFT ", "bold red"),
                    f"{group.group}: {flag.metric} {flag.change} (threshold {flag.threshold})",
                )
            )
        if group.note:
            lines.append(Text(f"{group.group}: {group.note}", style="dim"))
    if report.groups and not report.flagged:
        lines.append(Text("No drift past the thresholds."))
    if any(g.current is not None and g.current.unpriced_turns for g in report.groups):
        lines.append(Text("$/turn ending in +: some turns had no price, so it is a lower bound."))
    return Group(*lines)


def report_json(report: DriftReport) -> str:
    return report.model_dump_json(indent=2)
