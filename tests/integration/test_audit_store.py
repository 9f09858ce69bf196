"""The audit store on real SQLite files: idempotent appends, reads, tampering, concurrent writers,
exports, migrations and URLs. A subset also runs on PostgreSQL when RETROFIT_TEST_POSTGRES_URL
names a server (each test gets a fresh database there)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy import event as sa_event
from sqlalchemy.engine import make_url

from retrofit.audit import (
    Actor,
    ActorKind,
    AuditEvent,
    AuditKind,
    AuditRecord,
    AuditStore,
    export,
    normalize_url,
)
from retrofit.audit.chain import RECORD_FIELDS, verify_chain
from retrofit.audit.migrate import alembic_config, upgrade_to_head
from retrofit.audit.schema import ALEMBIC_VERSION_TABLE, Base, audit_events
from retrofit.audit.store import SQLITE_INSERT
from retrofit.audit.url import sqlite_file, sync_url


def make_event(workflow_id: str, n: int, **changes: Any) -> AuditEvent:
    fields: dict[str, Any] = {
        "event_id": f"{workflow_id}/run-1/{n}/action.succeeded",
        "kind": AuditKind.SUCCEEDED,
        "actor": Actor(kind=ActorKind.AGENT, name="gpt-4o"),
        "workflow_id": workflow_id,
        "run_id": "run-1",
        "workflow_type": "CreditLimitReview",
        "step": n,
        "action": "ledger.set_credit_limit",
        "effect": "write",
        "idempotency_key": f"{workflow_id}-{n}",
        "attempt": 1,
        "data": {"customer": "C0001", "amount": 100 * n, "note": 'Zoë said "ok"\n'},
        "occurred_at": datetime(2024, 5, 1, 12, 0, n % 60, tzinfo=UTC),
    }
    fields.update(changes)
    return AuditEvent(**fields)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[AuditStore]:
    async with await AuditStore.open(sqlite_url(db_path)) as opened:
        yield opened


def raw(db_path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Plain sqlite3, the way someone tampering with the file would work."""
    with sqlite3.connect(db_path) as conn:
        return conn.execute(sql, params).fetchall()


async def seqs(store: AuditStore) -> list[int]:
    return [record.seq async for record in store.iter_records()]


# --- appending -----------------------------------------------------------------------------------


async def test_append_stores_chains_and_reads_back_what_was_given(store: AuditStore) -> None:
    plus_two = timezone(timedelta(hours=2))
    events = [
        make_event("wf-a", 1),
        make_event("wf-a", 2, occurred_at=datetime(2024, 5, 1, 14, 0, tzinfo=plus_two), step=None),
        make_event("wf-a", 3, actor=Actor(kind=ActorKind.HUMAN, name="ann", identity="ann@corp"), data={}),
    ]
    before = datetime.now(UTC)
    assert await store.append(events) == 3
    after = datetime.now(UTC)

    records = await store.for_workflow("wf-a")
    assert [r.seq for r in records] == [1, 2, 3]
    for event, record in zip(events, records, strict=True):
        assert record.model_dump(include=set(AuditEvent.model_fields) - {"occurred_at"}) == event.model_dump(
            exclude={"occurred_at"}
        )
        assert record.occurred_at == event.occurred_at  # same instant...
        assert record.occurred_at is not None and record.occurred_at.utcoffset() == timedelta(0)  # ...in UTC
        assert before <= record.recorded_at <= after
    assert records[0].prev_hash == "0" * 64
    assert [r.prev_hash for r in records[1:]] == [r.hash for r in records[:-1]]
    assert verify_chain(records).ok  # what the store hands out re-verifies without it


async def test_appending_the_same_events_again_changes_nothing(store: AuditStore) -> None:
    events = [make_event("wf-a", step) for step in range(1, 6)]
    assert await store.append(events) == 5
    head_before = await store.tail(5)

    assert await store.append(events) == 0
    assert await store.append(list(reversed(events))) == 0
    assert await store.count() == 5
    assert await store.tail(5) == head_before  # not re-chained, not re-stamped
    report = await store.verify()
    assert report.ok and report.checked == 5 and report.head_hash == head_before[-1].hash


async def test_duplicates_inside_one_batch_are_stored_once(store: AuditStore) -> None:
    first = make_event("wf-a", 1)
    retried = make_event("wf-a", 1, data={"amount": 999})  # same event id, a retry's payload
    batch = [first, make_event("wf-a", 2), retried, make_event("wf-a", 2), make_event("wf-a", 3)]

    assert await store.append(batch) == 3
    records = await store.for_workflow("wf-a")
    assert [r.event_id for r in records] == [first.event_id, batch[1].event_id, batch[4].event_id]
    assert records[0].data == first.data  # the first copy wins
    assert await seqs(store) == [1, 2, 3]
    assert (await store.verify()).ok


async def test_a_partly_known_batch_appends_only_the_new_events(store: AuditStore) -> None:
    await store.append([make_event("wf-a", 1), make_event("wf-a", 2)])
    added = await store.append([make_event("wf-a", 2), make_event("wf-a", 3), make_event("wf-a", 1)])
    assert added == 1
    assert await seqs(store) == [1, 2, 3]
    assert (await store.tail(1))[0].event_id == make_event("wf-a", 3).event_id
    assert (await store.verify()).ok


async def test_an_empty_append_is_a_no_op(store: AuditStore) -> None:
    assert await store.append([]) == 0
    assert await store.count() == 0
    report = await store.verify()
    assert report.ok and report.checked == 0 and report.head_hash is None


async def test_concurrent_appends_in_one_process_keep_one_chain(store: AuditStore) -> None:
    batches = [[make_event(f"wf-{w}", step) for step in range(1, 11)] for w in range(8)]
    added = await asyncio.gather(*(store.append(batch) for batch in batches))
    assert added == [10] * 8
    assert await seqs(store) == list(range(1, 81))
    assert (await store.verify()).ok


async def test_data_with_datetimes_and_decimals_is_stored_as_canonical_json(
    store: AuditStore, db_path: Path
) -> None:
    event = make_event("wf-a", 1, data={"b": Decimal("10.50"), "a": datetime(2024, 1, 1, tzinfo=UTC)})
    await store.append([event])
    [(stored,)] = raw(db_path, "SELECT data FROM audit_events")
    assert stored == '{"a":"2024-01-01T00:00:00.000000+00:00","b":"10.50"}'
    assert (await store.tail(1))[0].data == {"a": "2024-01-01T00:00:00.000000+00:00", "b": "10.50"}
    assert (await store.verify()).ok


# --- reading -------------------------------------------------------------------------------------


async def test_tail_returns_the_latest_oldest_first(store: AuditStore) -> None:
    for step in range(1, 8):
        await store.append([make_event("wf-a" if step % 2 else "wf-b", step)])
    assert [r.seq for r in await store.tail(3)] == [5, 6, 7]
    assert [r.seq for r in await store.tail(100)] == list(range(1, 8))
    assert await store.tail(0) == []


async def test_for_workflow_returns_one_workflow_in_chain_order(store: AuditStore) -> None:
    await store.append([make_event("wf-a", 1), make_event("wf-b", 1), make_event("wf-a", 2)])
    await store.append(
        [make_event("wf-b", 2), make_event("wf-a", 3, run_id="run-2", event_id="wf-a/run-2/3")]
    )
    wf_a = await store.for_workflow("wf-a")
    assert [(r.seq, r.step, r.run_id) for r in wf_a] == [(1, 1, "run-1"), (3, 2, "run-1"), (5, 3, "run-2")]
    assert [r.seq for r in await store.for_workflow("wf-b")] == [2, 4]
    assert await store.for_workflow("nope") == []


async def test_iter_records_streams_every_record_in_batches(store: AuditStore) -> None:
    await store.append([make_event("wf-a", step) for step in range(1, 24)])
    streamed = [r.seq async for r in store.iter_records(batch=5)]
    assert streamed == list(range(1, 24))
    with pytest.raises(ValueError):
        [r async for r in store.iter_records(batch=0)]


# --- tampering -----------------------------------------------------------------------------------


async def fill(store: AuditStore, count: int = 6) -> list[AuditRecord]:
    await store.append([make_event("wf-a", step) for step in range(1, count + 1)])
    return await store.for_workflow("wf-a")


async def test_an_edited_row_is_reported_at_its_seq(store: AuditStore, db_path: Path) -> None:
    records = await fill(store)
    raw(db_path, "UPDATE audit_events SET data = ? WHERE seq = 4", '{"amount":1}')

    report = await store.verify()
    assert not report.ok
    assert report.first_break is not None
    assert report.first_break.seq == 4
    assert report.first_break.event_id == records[3].event_id
    assert "hash mismatch" in report.first_break.reason
    assert report.checked == 4
    assert report.head_hash == records[2].hash


@pytest.mark.parametrize(
    "column, value",
    [
        ("actor_name", "someone else"),
        ("recorded_at", "2030-01-01T00:00:00.000000+00:00"),
        ("occurred_at", None),
        ("step", 7),
        ("data", '{"amount":300,"customer":"C0001","note":"Zoë said \\"ok\\"\\n","x":1}'),
    ],
)
async def test_any_edited_column_is_caught(store: AuditStore, db_path: Path, column: str, value: Any) -> None:
    await fill(store)
    raw(db_path, f"UPDATE audit_events SET {column} = ? WHERE seq = 3", value)
    report = await store.verify()
    assert report.first_break is not None and report.first_break.seq == 3


async def test_a_deleted_middle_row_is_reported_at_the_next_seq(store: AuditStore, db_path: Path) -> None:
    await fill(store)
    raw(db_path, "DELETE FROM audit_events WHERE seq = 3")
    report = await store.verify()
    assert report.first_break is not None
    assert report.first_break.seq == 4
    assert "seq gap" in report.first_break.reason
    assert report.checked == 3


async def test_swapped_rows_are_caught(store: AuditStore, db_path: Path) -> None:
    await fill(store)
    raw(db_path, "UPDATE audit_events SET seq = -2 WHERE seq = 2")
    raw(db_path, "UPDATE audit_events SET seq = 2 WHERE seq = 3")
    raw(db_path, "UPDATE audit_events SET seq = 3 WHERE seq = -2")
    report = await store.verify()
    assert report.first_break is not None and report.first_break.seq == 2


async def test_garbage_in_a_row_is_reported_not_raised(store: AuditStore, db_path: Path) -> None:
    await fill(store)
    raw(db_path, "UPDATE audit_events SET data = ? WHERE seq = 2", "{not json")
    raw(db_path, "UPDATE audit_events SET actor_name = ? WHERE seq = 5", b"\x00\xff")
    report = await store.verify()
    assert report.first_break is not None and report.first_break.seq == 2

    raw(db_path, "UPDATE audit_events SET data = ? WHERE seq = 2", '{"x":1}')
    report = await store.verify()  # the BLOB makes SQLite's JSON functions fail
    assert report.first_break is not None and report.first_break.seq == 2


async def test_stored_json_in_another_spelling_still_verifies(store: AuditStore, db_path: Path) -> None:
    # Same content, different text (some tool re-serialised it): the database's rendering no
    # longer reproduces the hash, and the reference encoder has the last word.
    records = await fill(store, 3)
    raw(db_path, "UPDATE audit_events SET data = ? WHERE seq = 2", json.dumps(records[1].data, indent=1))
    report = await store.verify()
    assert report.ok and report.checked == 3


async def test_the_python_only_verify_path_agrees(store: AuditStore, db_path: Path) -> None:
    # verify() uses SQLite's JSON functions when it has them; the path for databases without
    # them (and for PostgreSQL) must reach the same verdicts.
    await fill(store)
    assert await store._verify_rows(batch=4) == await store.verify()
    raw(db_path, "UPDATE audit_events SET effect = 'read' WHERE seq = 5")
    python_only, default = await store._verify_rows(batch=4), await store.verify()
    assert python_only == default
    assert default.first_break is not None and default.first_break.seq == 5


async def test_the_generic_write_path_produces_the_same_chain(tmp_path: Path) -> None:
    # PostgreSQL goes through SQLAlchemy's typed insert instead of the SQLite fast path. No
    # PostgreSQL here, so run that path against SQLite and hold it to the same results.
    events = [make_event("wf-a", step) for step in range(1, 6)]
    async with await AuditStore.open(sqlite_url(tmp_path / "generic.db")) as generic:
        generic._on_sqlite = False
        assert await generic.append(events[:3]) == 3
        assert await generic.append(events) == 2
        assert (await generic.verify()).ok
        generic._on_sqlite = True
        assert (await generic.verify()).ok
        records = await generic.for_workflow("wf-a")
    assert [r.data for r in records] == [e.data for e in events]
    assert verify_chain(records).ok


# --- several processes -----------------------------------------------------------------------------


async def _append_from_process(url: str, worker: int, ready: Barrier) -> None:
    ready.wait(timeout=60)  # all processes open (and migrate) the fresh file at once
    async with await AuditStore.open(url) as store:
        ready.wait(timeout=60)
        for first in range(0, 200, 10):
            added = await store.append(
                [make_event(f"proc-{worker}", step) for step in range(first, first + 10)]
            )
            assert added == 10


def _writer_process(url: str, worker: int, ready: Barrier) -> None:
    asyncio.run(_append_from_process(url, worker, ready))


async def assert_four_writers_keep_one_chain(url: str) -> None:
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(4)
    processes = [context.Process(target=_writer_process, args=(url, worker, ready)) for worker in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        await asyncio.to_thread(process.join, 100)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]

    async with await AuditStore.open(url) as store:
        assert await store.count() == 800
        assert await seqs(store) == list(range(1, 801))
        for worker in range(4):
            assert len(await store.for_workflow(f"proc-{worker}")) == 200
        report = await store.verify()
    assert report.ok and report.checked == 800


async def test_four_processes_appending_to_one_file_keep_one_chain(tmp_path: Path) -> None:
    # The file does not exist yet: the processes also race to create and migrate it.
    await assert_four_writers_keep_one_chain(sqlite_url(tmp_path / "nested" / "shared.db"))


# --- export ----------------------------------------------------------------------------------------


async def test_jsonl_export_round_trips_and_re_verifies(store: AuditStore) -> None:
    await store.append([make_event("wf-a" if step % 3 else "wf-b", step) for step in range(1, 10)])
    out = io.StringIO()
    assert await export(store, "jsonl", out) == 9
    lines = out.getvalue().splitlines()
    assert len(lines) == 9
    records = [AuditRecord.model_validate_json(line) for line in lines]
    assert records == [r async for r in store.iter_records()]
    assert verify_chain(records).ok

    only_b = io.StringIO()
    assert await export(store, "jsonl", only_b, workflow_id="wf-b") == 3
    assert {json.loads(line)["workflow_id"] for line in only_b.getvalue().splitlines()} == {"wf-b"}


async def test_csv_export_has_one_row_per_record_with_data_as_json(store: AuditStore) -> None:
    await store.append([make_event("wf-a", step) for step in range(1, 6)])
    await store.append(
        [make_event("wf-b", 1, occurred_at=None, actor=Actor(kind=ActorKind.SYSTEM, name="x"))]
    )
    out = io.StringIO()
    assert await export(store, "csv", out) == 6

    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == 6
    assert tuple(rows[0]) == RECORD_FIELDS
    stored = [r async for r in store.iter_records()]
    assert [int(row["seq"]) for row in rows] == [r.seq for r in stored]
    assert [row["hash"] for row in rows] == [r.hash for r in stored]
    assert [json.loads(row["data"]) for row in rows] == [r.data for r in stored]
    assert rows[5]["occurred_at"] == "" and rows[5]["actor_identity"] == ""
    assert datetime.fromisoformat(rows[0]["recorded_at"]) == stored[0].recorded_at

    only_b = io.StringIO()
    assert await export(store, "csv", only_b, workflow_id="wf-b") == 1
    assert len(list(csv.DictReader(io.StringIO(only_b.getvalue())))) == 1


async def test_export_rejects_an_unknown_format(store: AuditStore) -> None:
    with pytest.raises(ValueError, match="xml"):
        await export(store, "xml", io.StringIO())  # type: ignore[arg-type]


# --- schema and migrations -------------------------------------------------------------------------


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


async def test_opening_twice_migrates_once(db_path: Path) -> None:
    url = sqlite_url(db_path)
    async with await AuditStore.open(url) as first:
        await first.append([make_event("wf-a", 1)])
    async with await AuditStore.open(url) as second:
        assert await second.count() == 1
    assert raw(db_path, f"SELECT version_num FROM {ALEMBIC_VERSION_TABLE}") == [(head_revision(),)]
    assert raw(db_path, "PRAGMA journal_mode") == [("wal",)]


async def test_the_migration_builds_exactly_the_model(store: AuditStore) -> None:
    def differences(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(conn, opts={"version_table": ALEMBIC_VERSION_TABLE})
        return list(compare_metadata(context, Base.metadata))

    async with store.engine.connect() as conn:
        assert await conn.run_sync(differences) == []
    assert tuple(audit_events.columns.keys()) == RECORD_FIELDS


async def test_upgrade_to_head_works_inside_a_running_event_loop(tmp_path: Path) -> None:
    db = tmp_path / "deep" / "er" / "audit.db"
    upgrade_to_head(sqlite_url(db))  # a blocking call made from async code, on purpose
    upgrade_to_head(sqlite_url(db))
    assert raw(db, f"SELECT version_num FROM {ALEMBIC_VERSION_TABLE}") == [(head_revision(),)]
    async with await AuditStore.open(sqlite_url(db), migrate=False) as store:
        assert await store.append([make_event("wf-a", 1)]) == 1


def test_the_alembic_command_line_path_migrates_a_url(tmp_path: Path) -> None:
    # What a developer gets from `alembic upgrade head` with this migration set: env.py opens
    # its own (synchronous) connection when no connection is handed to it.
    db = tmp_path / "cli.db"
    command.upgrade(alembic_config(sqlite_url(db)), "head")
    assert raw(db, f"SELECT version_num FROM {ALEMBIC_VERSION_TABLE}") == [(head_revision(),)]
    assert [name for (name,) in raw(db, "SELECT name FROM sqlite_master WHERE type = 'index'")] == [
        "sqlite_autoindex_audit_alembic_version_1",
        "sqlite_autoindex_audit_events_1",
        "ix_audit_events_workflow_id_seq",
    ]


def test_offline_sql_for_postgresql_has_the_intended_types() -> None:
    config = alembic_config("postgresql://u@db/audit")
    buffer = io.StringIO()
    config.output_buffer = buffer
    command.upgrade(config, "head", sql=True)
    sql = buffer.getvalue()
    for expected in (
        "CREATE TABLE audit_events",
        "seq BIGINT NOT NULL",  # assigned by the store: no SERIAL/IDENTITY
        "data JSON NOT NULL",  # JSON keeps the hashed text as written; JSONB would not
        "recorded_at TIMESTAMP WITH TIME ZONE NOT NULL",
        "CONSTRAINT uq_audit_events_event_id UNIQUE (event_id)",
        "CREATE INDEX ix_audit_events_workflow_id_seq ON audit_events (workflow_id, seq)",
    ):
        assert expected in sql


def test_the_sqlite_insert_lists_the_columns_in_record_order() -> None:
    assert tuple(SQLITE_INSERT.positiontup or ()) == RECORD_FIELDS


async def test_an_in_memory_store_works(tmp_path: Path) -> None:
    async with await AuditStore.open("sqlite://") as memory:
        events = [[make_event(f"wf-{w}", step) for step in range(1, 6)] for w in range(4)]
        results = await asyncio.gather(
            *(memory.append(batch) for batch in events), memory.count(), memory.tail()
        )
        assert results[:4] == [5, 5, 5, 5]
        assert await seqs(memory) == list(range(1, 21))
        assert (await memory.verify()).ok
    assert await asyncio.to_thread(lambda: list(tmp_path.iterdir())) == []  # nothing touched the disk


# --- PostgreSQL (opt-in: RETROFIT_TEST_POSTGRES_URL=postgresql://user@host:port/db) --------------


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh database on the server RETROFIT_TEST_POSTGRES_URL points at, dropped afterwards."""

    server = os.environ.get("RETROFIT_TEST_POSTGRES_URL")
    if not server:
        pytest.skip("set RETROFIT_TEST_POSTGRES_URL to run the PostgreSQL tests")
    psycopg = pytest.importorskip("psycopg")
    admin_url = make_url(server).set(drivername="postgresql")
    name = f"retrofit_audit_test_{uuid.uuid4().hex[:12]}"
    conninfo = admin_url.render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def pg_execute(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.encode())


async def test_postgres_appends_idempotently_and_verifies(pg_url: str) -> None:
    plus_two = timezone(timedelta(hours=2))
    events = [
        make_event("wf-a", n, occurred_at=datetime(2024, 5, 1, 14, 0, n, tzinfo=plus_two))
        for n in range(1, 6)
    ]
    async with await AuditStore.open(pg_url) as store:
        assert await store.append(events[:3] + events[:1]) == 3
        assert await store.append(events) == 2
        assert await store.append(events) == 0
        records = await store.for_workflow("wf-a")
        report = await store.verify()
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert [r.data for r in records] == [e.data for e in events]
    assert [r.occurred_at for r in records] == [e.occurred_at for e in events]
    assert report.ok and report.checked == 5 and report.head_hash == records[-1].hash
    assert verify_chain(records).ok


async def test_postgres_catches_edits_and_deletions(pg_url: str) -> None:
    async with await AuditStore.open(pg_url) as store:
        await store.append([make_event("wf-a", n) for n in range(1, 7)])
    pg_execute(pg_url, """UPDATE audit_events SET data = '{"amount":1}' WHERE seq = 2""")
    pg_execute(pg_url, "DELETE FROM audit_events WHERE seq = 5")
    async with await AuditStore.open(pg_url) as store:
        edited = await store.verify()
        pg_execute(pg_url, "DELETE FROM audit_events WHERE seq <= 2")
        deleted = await store.verify()
    assert edited.first_break is not None and edited.first_break.seq == 2
    assert "hash mismatch" in edited.first_break.reason
    assert deleted.first_break is not None and deleted.first_break.seq == 3  # seq 1 expected


async def test_postgres_four_processes_keep_one_chain(pg_url: str) -> None:
    await assert_four_writers_keep_one_chain(pg_url)


async def test_postgres_migration_builds_exactly_the_model_once(pg_url: str) -> None:
    def differences(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(conn, opts={"version_table": ALEMBIC_VERSION_TABLE})
        return list(compare_metadata(context, Base.metadata))

    async with await AuditStore.open(pg_url):
        pass
    async with await AuditStore.open(pg_url) as store, store.engine.connect() as conn:
        assert await conn.run_sync(differences) == []
        version = await conn.exec_driver_sql(f"SELECT version_num FROM {ALEMBIC_VERSION_TABLE}")
        assert version.all() == [(head_revision(),)]


# --- URLs ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given, expected",
    [
        ("sqlite:///var/audit.db", "sqlite+aiosqlite:///var/audit.db"),
        ("sqlite:////abs/audit.db", "sqlite+aiosqlite:////abs/audit.db"),
        ("sqlite://", "sqlite+aiosqlite://"),
        ("sqlite:///:memory:", "sqlite+aiosqlite:///:memory:"),
        ("sqlite+pysqlite:///a.db", "sqlite+aiosqlite:///a.db"),
        ("sqlite+aiosqlite:///a.db", "sqlite+aiosqlite:///a.db"),
        (
            "postgresql://u:p%40ss@db:5432/audit?sslmode=require",
            "postgresql+psycopg://u:p%40ss@db:5432/audit?sslmode=require",
        ),
        ("postgres://u@db/audit", "postgresql+psycopg://u@db/audit"),
        ("postgresql+psycopg://u@db/audit", "postgresql+psycopg://u@db/audit"),
        ("postgresql+asyncpg://u@db/audit", "postgresql+asyncpg://u@db/audit"),
    ],
)
def test_normalize_url_picks_an_async_driver(given: str, expected: str) -> None:
    assert normalize_url(given) == expected


@pytest.mark.parametrize(
    "bad", ["mysql://u@db/audit", "postgresql+psycopg2://u@db/a", "audit.db", "://x", ""]
)
def test_normalize_url_rejects_what_it_cannot_serve(bad: str) -> None:
    with pytest.raises(ValueError, match="URL"):
        normalize_url(bad)


def test_sync_url_and_sqlite_file() -> None:
    assert sync_url("sqlite:///a.db") == "sqlite+pysqlite:///a.db"
    assert sync_url("postgresql+asyncpg://u@db/a") == "postgresql+psycopg://u@db/a"
    assert sqlite_file("sqlite:///dir/a.db") == Path("dir/a.db")
    assert sqlite_file("sqlite://") is None
    assert sqlite_file("sqlite:///file::memory:?cache=shared&uri=true") is None
    assert sqlite_file("postgresql://u@db/a") is None


# --- the import boundary ---------------------------------------------------------------------------


def test_the_event_models_import_without_sqlalchemy() -> None:
    probe = (
        "import sys\n"
        "import retrofit.audit.events\n"
        "from retrofit.audit import AuditEvent, export\n"
        "import retrofit.audit.export\n"
        "from retrofit.audit import export as again\n"
        "assert callable(export) and again is export, again\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'aiosqlite', 'alembic')))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- group commit ----------------------------------------------------------------------------------


def count_commits(store: AuditStore) -> list[int]:
    commits = [0]

    def on_commit(_conn: Connection) -> None:
        commits[0] += 1

    sa_event.listen(store.engine.sync_engine, "commit", on_commit)
    return commits


async def assert_concurrent_appends_share_transactions(store: AuditStore) -> None:
    # 60 callers at once, with events that overlap across callers (a retried activity) and
    # within one call: every event is stored once, the chain has no fork and no gap, each
    # caller learns how many of its events were new, and the writes share transactions.
    await store.append([make_event("wf-0", 1)])
    commits = count_commits(store)
    batches = [
        [make_event(f"wf-{w % 20}", step) for step in range(1 + w % 3, 8 + w % 5)] * (1 + w % 2)
        for w in range(60)
    ]
    added = await asyncio.gather(*(store.append(batch) for batch in batches))

    unique = {event.event_id for batch in batches for event in batch} | {make_event("wf-0", 1).event_id}
    assert sum(added) == len(unique) - 1
    records = [record async for record in store.iter_records()]
    assert [r.seq for r in records] == list(range(1, len(unique) + 1))
    assert sorted(r.event_id for r in records) == sorted(unique)
    assert (await store.verify()).ok and verify_chain(records).ok
    assert 1 <= commits[0] < len(batches)


async def test_concurrent_appends_share_transactions_and_keep_one_chain(store: AuditStore) -> None:
    await assert_concurrent_appends_share_transactions(store)


async def test_a_failing_batch_fails_alone_in_a_group(store: AuditStore, db_path: Path) -> None:
    # The database rejects one caller's events; the callers that shared its transaction still get
    # theirs written, once, and only the failing caller sees the error.
    raw(
        db_path,
        "CREATE TRIGGER poison BEFORE INSERT ON audit_events WHEN NEW.workflow_id = 'poison' "
        "BEGIN SELECT RAISE(ABORT, 'poisoned batch'); END",
    )
    batches = [[make_event(f"wf-{w}", step) for step in range(1, 6)] for w in range(12)]
    batches[5] = [make_event("poison", 1), make_event("wf-5", 1)]
    batches[9] = [*batches[9], make_event("poison", 2)]
    outcomes = await asyncio.gather(*(store.append(batch) for batch in batches), return_exceptions=True)

    failed = [i for i, outcome in enumerate(outcomes) if isinstance(outcome, BaseException)]
    assert failed == [5, 9]
    assert all("poisoned batch" in str(outcomes[i]) for i in failed)
    assert [outcomes[i] for i in range(12) if i not in failed] == [5] * 10
    records = [record async for record in store.iter_records()]
    expected = {e.event_id for i, batch in enumerate(batches) if i not in failed for e in batch}
    assert sorted(r.event_id for r in records) == sorted(expected)
    assert [r.seq for r in records] == list(range(1, len(expected) + 1))
    assert (await store.verify()).ok

    # The failed callers retry once the cause is gone: appended after the others, no duplicates.
    raw(db_path, "DROP TRIGGER poison")
    assert await store.append(batches[5]) == 2
    assert await store.append(batches[9]) == 6
    assert await store.count() == len(expected) + 8
    assert (await store.verify()).ok


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never met")


async def test_a_cancelled_append_that_was_not_taken_is_not_written(store: AuditStore) -> None:
    async with store._write_lock:  # holds the writer inside its first transaction
        first = asyncio.create_task(store.append([make_event("wf-a", 1)]))
        # until the writer has taken the first call's events
        await until(lambda: store._writer is not None and not store._pending)
        second = asyncio.create_task(store.append([make_event("wf-b", 1)]))
        await until(lambda: bool(store._pending))
        second.cancel()
        with pytest.raises(asyncio.CancelledError):
            await second
        assert not store._pending
    assert await first == 1
    assert [r.workflow_id async for r in store.iter_records()] == ["wf-a"]


async def test_postgres_concurrent_appends_share_transactions(pg_url: str) -> None:
    async with await AuditStore.open(pg_url) as store:
        await assert_concurrent_appends_share_transactions(store)
