"""`retrofit audit ...` — read, verify and export the audit trail (ops, auditors)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Literal

import typer

from retrofit.audit.export import export
from retrofit.audit.store import AuditStore
from retrofit.audit.url import sqlite_file
from retrofit.cli.output import audit_table, console, err_console, fail
from retrofit.settings import RetrofitSettings

app = typer.Typer(help="Read, verify and export the audit trail.", no_args_is_help=True)

DB_OPTION = typer.Option(None, "--db", help="Audit store URL (default: RETROFIT_AUDIT_DB_URL).")


def _url(db: str | None) -> str:
    return db or RetrofitSettings().audit_db_url


async def _open(db: str | None) -> AuditStore:
    url = _url(db)
    path = sqlite_file(url)
    if path is not None and not path.exists():
        # Opening would create an empty file and then fail on the missing table.
        fail(f"no audit store at {path}: nothing has been recorded there yet (RETROFIT_AUDIT_DB_URL={url})")
    try:
        return await AuditStore.open(url, migrate=False)
    except Exception as exc:
        fail(f"cannot open the audit store {url}: {exc}")
        raise


@app.command()
def tail(n: int = typer.Option(20, "-n", help="How many records."), db: str | None = DB_OPTION) -> None:
    """The latest records, oldest first."""

    async def go() -> None:
        async with await _open(db) as store:
            console.print(audit_table(await store.tail(n), f"last {n} audit records"))

    asyncio.run(go())


@app.command()
def show(workflow_id: str, db: str | None = DB_OPTION) -> None:
    """Every record of one workflow, in order."""

    async def go() -> None:
        async with await _open(db) as store:
            records = await store.for_workflow(workflow_id)
        if not records:
            fail(f"no audit records for workflow {workflow_id!r}")
        console.print(audit_table(records, f"audit trail of {workflow_id}"))

    asyncio.run(go())


@app.command()
def verify(db: str | None = DB_OPTION) -> None:
    """Check the hash chain; exit 1 naming the first bad record."""

    async def go() -> None:
        async with await _open(db) as store:
            report = await store.verify()
        if report.ok:
            console.print(f"[green]audit chain intact[/]: {report.checked} records, head {report.head_hash}")
            return
        brk = report.first_break
        assert brk is not None
        err_console.print(
            f"[bold red]audit chain broken[/] at seq {brk.seq} (event {brk.event_id}): {brk.reason}"
        )
        raise typer.Exit(1)

    asyncio.run(go())


@app.command("export")
def export_command(
    fmt: str = typer.Option("jsonl", "--format", help="jsonl or csv."),
    output: Path | None = typer.Option(None, "--output", "-o", help="File to write (default stdout)."),
    workflow: str | None = typer.Option(None, "--workflow", help="Only this workflow id."),
    db: str | None = DB_OPTION,
) -> None:
    """Export records as JSON lines or CSV."""
    if fmt not in ("jsonl", "csv"):
        fail(f"--format must be jsonl or csv, not {fmt!r}")
    chosen: Literal["jsonl", "csv"] = "csv" if fmt == "csv" else "jsonl"

    async def go() -> int:
        async with await _open(db) as store:
            if output is None:
                return await export(store, chosen, sys.stdout, workflow_id=workflow)
            with output.open("w", newline="", encoding="utf-8") as fh:
                return await export(store, chosen, fh, workflow_id=workflow)

    count = asyncio.run(go())
    err_console.print(f"exported {count} records" + (f" to {output}" if output else ""))
