"""Shared rendering for CLI commands."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Coroutine, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from retrofit.audit.events import AuditRecord
from retrofit.redaction import summarize


def _width(stream: Any) -> int | None:
    # Piped output (CI logs, `make demo`) gets wide tables instead of rich's 80-column default;
    # a terminal or an explicit COLUMNS decides for itself.
    return None if stream.isatty() or "COLUMNS" in os.environ else 150


console = Console(width=_width(sys.stdout))
err_console = Console(stderr=True, width=_width(sys.stderr))


def run_async(coro: Coroutine[Any, Any, None], *expected: type[Exception]) -> None:
    """Run a command's coroutine; `expected` errors and an unreachable Temporal become one clear
    line and exit code 1 instead of a traceback; Ctrl-C ends quietly."""
    try:
        asyncio.run(coro)
    except expected as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        pass
    except RuntimeError as exc:
        # The Temporal client reports an unreachable server as a RuntimeError ("Failed client connect").
        if "connect" in str(exc).lower():
            fail(f"cannot reach Temporal: {exc}")
        raise


def fail(message: str, code: int = 1) -> None:
    import typer

    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def audit_table(records: Sequence[AuditRecord], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("seq", "time (UTC)", "kind", "who", "step", "action", "details", "hash"):
        table.add_column(col, overflow="fold")
    for r in records:
        at = r.occurred_at or r.recorded_at
        who = r.actor.name + (f" ({r.actor.identity})" if r.actor.identity else "")
        # Audit data is untrusted text: escape it so rich never reads it as markup.
        table.add_row(
            str(r.seq),
            at.strftime("%H:%M:%S"),
            r.kind.value,
            escape(who),
            "" if r.step is None else str(r.step),
            escape(r.action or ""),
            escape(describe(r)),
            r.hash[:10],
        )
    return table


def describe(record: AuditRecord) -> str:
    """The one line of a record's data that matters for its kind."""
    d: dict[str, Any] = record.data
    kind = record.kind.value
    if kind == "action.proposed":
        return summarize(d.get("arguments", {}), 60)
    if kind in ("policy.allowed", "policy.denied"):
        decision = d.get("decision", {})
        approved = d.get("approved_by")
        return f"{decision.get('outcome')} by {decision.get('matched')}" + (
            f"; approved by {', '.join(approved)}" if approved else ""
        )
    if kind == "approval.requested":
        return f"{d.get('request_id')} until {str(d.get('deadline', ''))[:19]}"
    if kind in ("approval.granted", "approval.rejected"):
        reason = f": {d.get('reason')}" if d.get("reason") else ""
        return f"{d.get('request_id')} {d.get('decision')} via {d.get('via')}{reason}"
    if kind == "approval.refused":
        return str(d.get("problem", ""))[:80]
    if kind == "action.started":
        return f"attempt {record.attempt}"
    if kind in ("action.attempt_failed", "action.failed"):
        return f"{d.get('error_type') or d.get('kind')}: {str(d.get('error', ''))[:60]}"
    if kind == "action.succeeded":
        return summarize(d.get("output", {}), 60)
    if kind == "action.invalid":
        return "; ".join(d.get("errors", []))[:80]
    return summarize(d, 60) if d else ""


def print_json(value: object) -> None:
    console.print_json(json.dumps(value, default=str))
