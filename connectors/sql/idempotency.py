"""The idempotency record of write actions, kept in the connector's own database.

A write action runs in one transaction that also reads and writes one row of this table, keyed by
the call's idempotency key (`<workflow id>#<step>`):

- key found, same action and arguments  -> the stored result is returned; nothing runs again;
- key found, something else              -> `IdempotencyKeyReused`;
- key not found                          -> the write runs, its result is stored, both commit together.

Because the record commits with the effect, there is no window in which one landed without the
other: a retry after a lost answer or a crashed worker finds the key exactly when the effect exists.
Two attempts racing on one key: on SQLite the second waits for the first's write lock (the
transaction starts with `BEGIN IMMEDIATE`) and then finds the key; on PostgreSQL the second waits
for a transaction-scoped advisory lock on the key (`take_turns`) and then finds the key. On other
databases the second's insert collides on the primary key, its whole transaction rolls back, and
the retry finds the key.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.schema import CreateTable

from connectors.sql.errors import IdempotencyKeyReused
from retrofit.sdk import RetryableError

_KEY_LENGTH = 255


def idempotency_table(name: str) -> Table:
    """The table definition; its own MetaData so it never mixes with reflected legacy tables."""
    return Table(
        name,
        MetaData(),
        Column("idempotency_key", String(_KEY_LENGTH), primary_key=True),
        Column("action", String(200), nullable=False),
        Column("fingerprint", String(64), nullable=False),
        Column("result", Text, nullable=False),
        Column("recorded_at", DateTime(timezone=True), nullable=False),
    )


async def ensure_table(connection: AsyncConnection, table: Table) -> None:
    """Create the table unless it exists; `IF NOT EXISTS` makes concurrent workers harmless."""
    await connection.execute(CreateTable(table, if_not_exists=True))


def fingerprint(action: str, request: BaseModel) -> str:
    """What the key was first used for: the action and its arguments, hashed."""
    payload = f"{action}\n{request.model_dump_json()}".encode()
    return hashlib.sha256(payload).hexdigest()


async def take_turns(connection: AsyncConnection, key: str) -> None:
    """Make transactions with the same key run one after the other (PostgreSQL; elsewhere a no-op).

    Without it, two attempts under READ COMMITTED both find no record, both apply the effect (the
    second waits on the first's row locks, then applies it again), and only the record's primary
    key stops the second at commit — as a retryable error instead of the stored answer. The lock
    is released by commit or rollback, bounded by the session's `lock_timeout`, and keyed by a
    hash, so unrelated keys rarely share one (and then merely take turns).
    """
    if connection.dialect.name != "postgresql":
        return  # SQLite: BEGIN IMMEDIATE already lets one writer in at a time
    lock_id = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
    await connection.execute(select(func.pg_advisory_xact_lock(literal(lock_id, BigInteger))))


async def stored_result(
    connection: AsyncConnection, table: Table, *, key: str, action: str, expected_fingerprint: str
) -> str | None:
    """The JSON result recorded for `key`, or None when the key is new."""
    row = (
        await connection.execute(
            select(table.c.action, table.c.fingerprint, table.c.result).where(table.c.idempotency_key == key)
        )
    ).first()
    if row is None:
        return None
    if row.fingerprint != expected_fingerprint:
        raise IdempotencyKeyReused(
            f"idempotency key {key!r} was first used for {row.action} with other arguments; "
            f"refusing to run {action} under it"
        )
    return str(row.result)


async def recorded_result(connection: AsyncConnection, table: Table, key: str) -> str | None:
    """The JSON result recorded for `key` by whichever action used it, or None (for `lookup`)."""
    row = (await connection.execute(select(table.c.result).where(table.c.idempotency_key == key))).first()
    return None if row is None else str(row.result)


async def record_result(
    connection: AsyncConnection, table: Table, *, key: str, action: str, fingerprint: str, result: str
) -> None:
    try:
        await connection.execute(
            insert(table).values(
                idempotency_key=key,
                action=action,
                fingerprint=fingerprint,
                result=result,
                recorded_at=datetime.now(UTC),
            )
        )
    except IntegrityError as exc:
        # Another attempt with this key committed first; this transaction rolls back and the retry
        # returns that attempt's result.
        raise RetryableError(f"{action}: a concurrent attempt with the same idempotency key won") from exc


def storage_key(key: str) -> str:
    """The key as stored: as is when it fits the column, else its digest (still one row per key)."""
    if len(key) <= _KEY_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()
