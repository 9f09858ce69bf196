"""`retrofit audit ...` — read, verify and export the audit trail (ops, auditors)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Literal

import typer

from retrofit.audit.anchored_verify import AnchoredReport, verify_anchored
from retrofit.audit.checkpoint import public_key_text
from retrofit.audit.checkpoint_settings import CheckpointConfig, CheckpointConfigError, checkpoint_config
from retrofit.audit.checkpointing import Checkpointer, CheckpointRefused, Written
from retrofit.audit.export import export
from retrofit.audit.store import AuditStore
from retrofit.audit.url import sqlite_file
from retrofit.audit.witness import Witness, WitnessError, open_witness
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


# `retrofit audit verify` exit codes (README "Audit trail"): an auditor's script can tell
# "intact and anchored" from "tampered" from "intact, but nothing outside the database vouches
# for the head".
EXIT_TAMPERED = 1
EXIT_UNANCHORED = 3


def _checkpoint_config(db: str | None) -> CheckpointConfig:
    try:
        return checkpoint_config(RetrofitSettings(), db)
    except (CheckpointConfigError, ValueError) as exc:
        fail(str(exc))
        raise


def _witness(config: CheckpointConfig) -> Witness | None:
    if config.witness is None:
        return None
    try:
        return open_witness(config.witness)
    except WitnessError as exc:
        fail(str(exc))
        raise


@app.command()
def verify(db: str | None = DB_OPTION) -> None:
    """Check the hash chain and hold it to every signed checkpoint in the witness.

    Exit 0: intact and anchored; 1: tampered (the chain, a checkpoint or the witness);
    3: intact but unanchored (no witness configured, or no checkpoint of this store in it).
    """

    config = _checkpoint_config(db)

    async def go() -> AnchoredReport:
        witness = _witness(config)
        try:
            keys = config.trusted_keys()
        except CheckpointConfigError as exc:
            fail(str(exc))
            raise
        try:
            async with await _open(db) as store:
                return await verify_anchored(store, witness, config.store_id, keys)
        finally:
            if witness is not None:
                witness.close()

    report = asyncio.run(go())
    chain = report.chain
    if not chain.ok:
        brk = chain.first_break
        assert brk is not None
        err_console.print(
            f"[bold red]audit chain broken[/] at seq {brk.seq} (event {brk.event_id}): {brk.reason}"
        )
    elif report.status == "tampered":
        # The links alone look fine — exactly what a re-hash or a truncation leaves behind.
        err_console.print(
            f"[bold red]audit trail tampered[/]: the chain links up ({chain.checked} records, head "
            f"{chain.head_hash}) but does not match its signed checkpoints"
        )
    else:
        console.print(f"[green]audit chain intact[/]: {chain.checked} records, head {chain.head_hash}")
    if report.status == "tampered":
        for finding in report.findings:
            err_console.print(f"[bold red]checkpoint check failed[/]: {finding}")
        raise typer.Exit(EXIT_TAMPERED)
    if report.status == "unanchored":
        for finding in report.findings:
            err_console.print(f"[yellow]head unanchored[/]: {finding}")
        raise typer.Exit(EXIT_UNANCHORED)
    latest = report.latest
    if latest is None:
        console.print(
            f"[green]anchored[/]: the store is empty and the witness {report.witness} holds nothing"
        )
        return
    console.print(
        f"[green]anchored[/]: agrees with the {report.checkpoints} checkpoint"
        f"{'' if report.checkpoints == 1 else 's'} in {report.witness}; "
        f"latest {latest.describe()}, key {latest.key_id}"
    )
    if report.after_latest is not None:
        first, last = report.after_latest
        console.print(
            f"{last - first + 1} records after the last checkpoint (seq {first}..{last}): intact, "
            "anchored at the next checkpoint"
        )


@app.command()
def checkpoint(db: str | None = DB_OPTION) -> None:
    """Sign the chain's head and write it to the witness (RETROFIT_AUDIT_WITNESS).

    Checks the whole chain first: refuses (exit 1, nothing signed) when it is broken or does
    not extend the latest checkpoint.
    """

    config = _checkpoint_config(db)
    if config.witness is None:
        fail("no witness configured (RETROFIT_AUDIT_WITNESS=none): nowhere to keep a checkpoint")

    async def go() -> Written | None:
        witness = _witness(config)
        assert witness is not None
        try:
            key = config.signing_key()
            async with await _open(db) as store:
                checkpointer = Checkpointer(store, witness, key, config.store_id, config.trusted_keys())
                return await checkpointer.checkpoint(full=True)
        except (CheckpointRefused, WitnessError, CheckpointConfigError) as exc:
            fail(f"no checkpoint written: {exc}")
            raise
        finally:
            witness.close()

    written = asyncio.run(go())
    if written is None:
        console.print("the audit store is empty: nothing to checkpoint")
        return
    console.print(
        f"[green]checkpoint written[/]: {written.checkpoint.describe()}, "
        f"{written.checkpoint.count} records, key {written.checkpoint.key_id}\n  -> {written.where}"
    )


@app.command("public-key")
def public_key(db: str | None = DB_OPTION) -> None:
    """Print the checkpoint key's public half: the RETROFIT_AUDIT_PUBLIC_KEY value for auditors."""

    config = _checkpoint_config(db)
    try:
        key = config.signing_key()
    except CheckpointConfigError as exc:
        fail(str(exc))
        raise
    console.print(public_key_text(key.public_key()), highlight=False, soft_wrap=True)


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
