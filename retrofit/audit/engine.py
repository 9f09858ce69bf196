"""The async engine behind the audit store, and the write transaction that guards the chain.

Every append reads the chain head and writes after it, so two writers must never interleave that
read and write — not two tasks, not two processes. The write transaction takes a database-wide
lock *before* the head is read:

- SQLite: `BEGIN IMMEDIATE` takes the write lock up front. A plain (deferred) BEGIN would read the
  head under a shared lock and then fail with SQLITE_BUSY on upgrade instead of waiting. Python's
  sqlite3 module would otherwise issue its own deferred BEGIN, so it is told to keep out
  (`isolation_level = None`) and SQLAlchemy's `begin` event emits ours.
- PostgreSQL: `pg_advisory_xact_lock`, released by commit or rollback.

Migrations use the same transaction, so processes that start together create the schema once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Connection, event, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from retrofit.audit.chain import canonical_json
from retrofit.audit.url import ensure_sqlite_parent, is_sqlite, normalize_url

# Execution option that marks a connection as the chain writer (read by the `begin` hook).
_WRITER_OPTION = "retrofit_audit_writer"

# Key of the PostgreSQL advisory lock serialising chain writers: b"RETROFIT" as a signed int64.
CHAIN_LOCK_KEY = int.from_bytes(b"RETROFIT", "big", signed=True)

DEFAULT_BUSY_TIMEOUT_S = 30.0
SQLITE_CACHE_KIB = 16 * 1024


class EncodedJSON(str):
    """JSON text already in canonical form, bound to a JSON column as is.

    The store encodes `data` once to hash it; this spares encoding it a second time on insert.
    """

    __slots__ = ()


def _serialize_json(value: Any) -> str:
    if type(value) is EncodedJSON:
        return str.__str__(value)
    return canonical_json(value)


def create_audit_engine(url: str, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> AsyncEngine:
    """An async engine for `url` with the driver, SQLite pragmas and lock hooks in place.

    `busy_timeout_s` is how long a SQLite writer waits for another writer's lock before failing.
    """

    normalized = normalize_url(url)
    # JSON columns are written with the canonical encoder: the stored text is then exactly what
    # was hashed, and datetimes/Decimals inside `data` are accepted.
    if not is_sqlite(normalized):
        return create_async_engine(normalized, json_serializer=_serialize_json, pool_pre_ping=True)

    ensure_sqlite_parent(normalized)
    engine = create_async_engine(
        normalized,
        json_serializer=_serialize_json,
        connect_args={"timeout": busy_timeout_s},
    )
    event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
    event.listen(engine.sync_engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # SQLAlchemy issues BEGIN itself (see _sqlite_on_begin); sqlite3 must not add its own.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets readers (tail, verify, the CLI) run while a writer holds the lock. The mode is
        # stored in the file, so this only does work the first time; in-memory databases ignore it.
        cursor.execute("PRAGMA journal_mode=WAL")
        # Event ids arrive in no particular key order, so inserts touch pages all over the
        # event_id and workflow_id indexes; past ~100k records those stop fitting SQLite's
        # default 2 MB cache and appends slow down by a third. The cache fills on demand, so
        # idle connections stay small.
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    if conn.get_execution_options().get(_WRITER_OPTION):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


@asynccontextmanager
async def chain_write(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction that holds the chain lock from its first statement until commit."""

    async with engine.connect() as conn:
        await conn.execution_options(**{_WRITER_OPTION: True})
        async with conn.begin():
            if conn.dialect.name == "postgresql":
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})
            yield conn


def single_connection(engine: AsyncEngine) -> bool:
    """True when every checkout shares one DBAPI connection (in-memory SQLite's StaticPool).

    Such connections cannot hold two transactions, so the store serialises all access.
    """

    return isinstance(engine.sync_engine.pool, StaticPool)
