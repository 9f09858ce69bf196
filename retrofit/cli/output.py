"""Shared rendering for CLI commands."""

from __future__ import annotations

import json
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from retrofit.audit.events import AuditRecord
from retrofit.redaction import summarize

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> None:
    import typer

    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def audit_table(records: Sequence[AuditRecord], title: str) -> Table:
    table = Table(title=title, show_lines=False)
    for col in ("seq", "when (UTC)", "kind", "actor", "step", "action", "attempt", "details", "hash"):
        table.add_column(col, overflow="fold")
    for r in records:
        at = r.occurred_at or r.recorded_at
        table.add_row(
            str(r.seq),
            at.strftime("%Y-%m-%d %H:%M:%S"),
            r.kind.value,
            f"{r.actor.kind.value}:{r.actor.name}",
            "" if r.step is None else str(r.step),
            r.action or "",
            "" if r.attempt is None else str(r.attempt),
            summarize(r.data, 70) if r.data else "",
            r.hash[:10],
        )
    return table


def print_json(value: object) -> None:
    console.print_json(json.dumps(value, default=str))
