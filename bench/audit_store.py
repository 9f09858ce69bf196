"""The audit store on SQLite: batched appends per second, and `verify()` of 100k records.

- append: `AuditStore.append` in batches (hash chain, idempotency check, one transaction per batch)
  into a fresh file, with a worker's `CheckpointLoop` running beside it — every second here
  (workers: every minute), each tick checking the new links and signing the head into a
  directory witness, plus the final checkpoint at stop; baseline: the same rows, already
  hashed, inserted with plain `sqlite3` `executemany` in one transaction per batch — what a
  store without a chain or ids would pay.
- verify: `retrofit audit verify`'s check (`verify_anchored`): the whole chain re-hashed from the
  genesis and held to every checkpoint in the witness; baseline: reading every row's columns
  with plain `sqlite3`, which any verify has to do.

The events look like the gate's: redacted arguments and outputs, ids, keys, timestamps.

    .venv/bin/python bench/audit_store.py [--events 100000] [--batch 500]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from results_table import Result, print_table, write_results

from retrofit.audit.anchored_verify import verify_anchored
from retrofit.audit.checkpoint_settings import CheckpointConfig, checkpoint_config
from retrofit.audit.checkpointing import CheckpointLoop
from retrofit.audit.events import Actor, ActorKind, AuditEvent, AuditKind
from retrofit.audit.store import SQLITE_INSERT, AuditStore
from retrofit.audit.witness import open_witness
from retrofit.settings import RetrofitSettings

APPEND_TARGET = 20_000  # events/s
CHECKPOINT_EVERY_S = 1.0  # workers checkpoint every 60 s; more often here, so the run pays for several
VERIFY_TARGET = 2.0  # seconds for 100k records
KINDS = (AuditKind.PROPOSED, AuditKind.ALLOWED, AuditKind.STARTED, AuditKind.SUCCEEDED)


def make_events(count: int) -> list[AuditEvent]:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    events = []
    for i in range(count):
        step, kind = divmod(i, len(KINDS))
        wf = f"CreditLimitReview-{step // 3:08d}"
        data: dict[str, object] = {
            "arguments": {"customer_id": f"C-{1000 + step % 8}", "credit_limit": "9000.00"}
        }
        if KINDS[kind] is AuditKind.SUCCEEDED:
            data["output"] = {"id": f"C-{1000 + step % 8}", "name": "Atlas Industrial", "balance": "98412.33"}
        events.append(
            AuditEvent(
                event_id=f"{wf}/run-1/{step % 3 + 1}/{KINDS[kind].value}",
                kind=KINDS[kind],
                actor=Actor(kind=ActorKind.WORKFLOW, name="CreditLimitReview"),
                workflow_id=wf,
                run_id="run-1",
                workflow_type="CreditLimitReview",
                step=step % 3 + 1,
                action="ledger.set_credit_limit",
                effect="write",
                idempotency_key=f"{wf}#{step % 3 + 1}",
                attempt=1 if KINDS[kind] in (AuditKind.STARTED, AuditKind.SUCCEEDED) else None,
                data=data,
                occurred_at=start + timedelta(milliseconds=i),
            )
        )
    return events


def checkpoints_for(url: str, data_dir: Path) -> CheckpointConfig:
    config = checkpoint_config(RetrofitSettings(data_dir=data_dir, audit_db_url=url))
    return replace(config, interval_seconds=CHECKPOINT_EVERY_S)


async def append_all(url: str, events: list[AuditEvent], batch: int, checkpoints: CheckpointConfig) -> float:
    async with await AuditStore.open(url) as store:
        loop = CheckpointLoop(checkpoints)
        await loop.start()
        started = time.perf_counter()
        try:
            for i in range(0, len(events), batch):
                await store.append(events[i : i + batch])
        finally:
            await loop.stop()  # the final checkpoint is part of the cost
        elapsed = time.perf_counter() - started
        assert await store.count() == len(events)
    assert loop.refusals == 0 and loop.last is not None and loop.last.checkpoint.seq == len(events)
    return elapsed


def raw_insert(source: Path, target: Path, batch: int) -> float:
    """Copy the store's rows into an empty copy of its table with plain sqlite3, batch by batch."""
    with sqlite3.connect(source) as src:
        rows = src.execute("SELECT * FROM audit_events ORDER BY seq").fetchall()
        schema = src.execute("SELECT sql FROM sqlite_master WHERE name = 'audit_events'").fetchone()[0]
    conn = sqlite3.connect(target, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(schema)
        started = time.perf_counter()
        for i in range(0, len(rows), batch):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(SQLITE_INSERT.string, rows[i : i + batch])
            conn.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        conn.close()


def raw_read(path: Path) -> float:
    started = time.perf_counter()
    with sqlite3.connect(path) as conn:
        count = sum(1 for _ in conn.execute("SELECT * FROM audit_events ORDER BY seq"))
    assert count > 0
    return time.perf_counter() - started


async def verify(url: str, checkpoints: CheckpointConfig) -> tuple[float, int, int]:
    assert checkpoints.witness is not None
    witness = open_witness(checkpoints.witness)
    async with await AuditStore.open(url) as store:
        started = time.perf_counter()
        report = await verify_anchored(store, witness, checkpoints.store_id, checkpoints.trusted_keys())
        elapsed = time.perf_counter() - started
    assert report.status == "anchored" and report.after_latest is None, report
    return elapsed, report.chain.checked, report.checkpoints


async def main(count: int, batch: int) -> list[Result]:
    events = make_events(count)
    with tempfile.TemporaryDirectory(prefix="retrofit-audit-bench-") as tmp:
        db = Path(tmp) / "audit.db"
        url = f"sqlite:///{db}"
        checkpoints = checkpoints_for(url, Path(tmp))
        append_s = await append_all(url, events, batch, checkpoints)
        raw_s = raw_insert(db, Path(tmp) / "raw.db", batch)
        verify_s, checked, signed = await verify(url, checkpoints)
        read_s = raw_read(db)
    rate, raw_rate = count / append_s, count / raw_s
    # verify's target is for 100k records; scale a smaller run linearly to judge it.
    verify_100k = verify_s * 100_000 / checked
    return [
        Result(
            bench="audit_store",
            figure=f"append, batches of {batch}, checkpoint every {CHECKPOINT_EVERY_S:.0f} s",
            value=f"{rate:,.0f} events/s",
            target=f">= {APPEND_TARGET:,} events/s",
            baseline=f"{raw_rate:,.0f} rows/s raw sqlite3",
            ratio=rate / raw_rate,
            passed=rate >= APPEND_TARGET,
        ),
        Result(
            bench="audit_store",
            figure=f"verify {checked:,} records against {signed} checkpoint{'' if signed == 1 else 's'}",
            value=f"{verify_s:.2f} s",
            target=f"< {VERIFY_TARGET:.0f} s per 100k",
            baseline=f"{read_s:.2f} s raw read",
            ratio=verify_s / read_s,
            passed=verify_100k < VERIFY_TARGET,
        ),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Audit store append and verify throughput on SQLite.")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--results", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()
    results = asyncio.run(main(args.events, args.batch))
    print_table(results, "audit store (SQLite)")
    if args.results:
        write_results(args.results, results)
