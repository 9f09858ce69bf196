"""The audit store: appends events to the hash chain and reads them back.

    async with await AuditStore.open("sqlite:///var/retrofit/audit.db") as store:
        await store.append(events)
        report = await store.verify()

Appends are idempotent on `event_id` and safe with any number of writers (tasks or processes):
see `engine.py` for the lock that keeps the chain linear. Within one process, appends that arrive
while a transaction is being written are committed together in the next one (group commit):
each `append` still returns only once its own events are committed.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, aclosing, nullcontext, suppress
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Text,
    case,
    cast,
    func,
    insert,
    literal,
    select,
    type_coerce,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from retrofit.audit.chain import (
    GENESIS_HASH,
    HASHED_FIELDS,
    RECORD_FIELDS,
    ChainTemplate,
    ChainVerifier,
    format_utc,
    recorded_suffix,
)
from retrofit.audit.engine import EncodedJSON, chain_write, create_audit_engine, single_connection
from retrofit.audit.events import AuditEvent, AuditRecord, ChainBreak, VerifyReport
from retrofit.audit.migrate import upgrade_engine
from retrofit.audit.schema import audit_events

# Stays well under SQLite's host-parameter limit (999 on old builds) in the existence check.
_ID_CHUNK = 500

_columns = [audit_events.c[name] for name in RECORD_FIELDS]
_seq = audit_events.c.seq
_DATA = RECORD_FIELDS.index("data")
_SEQ = RECORD_FIELDS.index("seq")
_EVENT_ID = RECORD_FIELDS.index("event_id")
_RECORDED_AT = RECORD_FIELDS.index("recorded_at")
_PREV_HASH = RECORD_FIELDS.index("prev_hash")

# On SQLite, rows go to the driver as tuples in RECORD_FIELDS order, already in their stored form:
# per-row parameter processing in SQLAlchemy costs more than SQLite's own insert. A test holds the
# placeholder order to RECORD_FIELDS.
SQLITE_INSERT = insert(audit_events).compile(dialect=sqlite.dialect(), column_keys=list(RECORD_FIELDS))


def _select_records() -> Select[Any]:
    return select(*_columns)


def _verify_columns(on_sqlite: bool) -> list[ColumnElement[Any]]:
    """The columns as verify reads them: the stored text where that is what gets hashed.

    Parsing `data` only to encode it again, and building datetimes only to format them, would
    cost more than the hashing itself. `data` is stored canonical; SQLite timestamps are stored
    in the canonical text form (schema.SQLITE_TIMESTAMP_FORMAT).
    """

    columns: list[ColumnElement[Any]] = []
    for column in _columns:
        if column.name == "data":
            columns.append(cast(column, Text).label(column.name))
        elif on_sqlite and column.name in ("occurred_at", "recorded_at"):
            columns.append(type_coerce(column, String).label(column.name))
        else:
            columns.append(column)
    return columns


def _sqlite_rendered() -> ColumnElement[Any]:
    """SQLite's own rendering of a record's canonical JSON (see ChainVerifier.feed_rendered).

    json_object() writes compact JSON with the keys in argument order, so the keys go in sorted.
    `data` is marked as JSON so it is embedded rather than quoted; malformed text becomes null
    (and so a hash mismatch) instead of aborting the scan.
    """

    arguments: list[Any] = []
    for name in sorted(HASHED_FIELDS):
        column = audit_events.c[name]
        arguments.append(literal(name))
        if name == "data":
            # json() outermost: CASE would drop the JSON subtype and the text would be quoted.
            arguments.append(func.json(case((func.json_valid(column) == 1, column), else_=literal("null"))))
        else:
            arguments.append(column)
    return func.json_object(*arguments).label("rendered")


_SQLITE_RENDERED = _sqlite_rendered()


def _to_record(row: Sequence[Any]) -> AuditRecord:
    values = dict(zip(RECORD_FIELDS, row, strict=True))
    return AuditRecord.model_validate(
        {
            "event_id": values["event_id"],
            "kind": values["kind"],
            "actor": {
                "kind": values["actor_kind"],
                "name": values["actor_name"],
                "identity": values["actor_identity"],
            },
            "workflow_id": values["workflow_id"],
            "run_id": values["run_id"],
            "workflow_type": values["workflow_type"],
            "step": values["step"],
            "action": values["action"],
            "effect": values["effect"],
            "idempotency_key": values["idempotency_key"],
            "attempt": values["attempt"],
            "data": values["data"],
            "occurred_at": values["occurred_at"],
            "seq": values["seq"],
            "recorded_at": values["recorded_at"],
            "prev_hash": values["prev_hash"],
            "hash": values["hash"],
        }
    )


def _first_of_each(events: Sequence[AuditEvent]) -> list[AuditEvent]:
    # A retried activity may hand the same event twice in one batch; the first copy wins.
    seen: set[str] = set()
    unique: list[AuditEvent] = []
    for event in events:
        if event.event_id not in seen:
            seen.add(event.event_id)
            unique.append(event)
    return unique


def _chain(templates: list[ChainTemplate], seq: int, prev_hash: str) -> list[list[Any]]:
    """Rows for `templates` after (`seq`, `prev_hash`), hashed, in RECORD_FIELDS order.

    Timestamps and `data` are in their canonical text form: that is what gets hashed, and on
    SQLite it is also exactly what gets stored.
    """

    recorded_at = format_utc(datetime.now(UTC))
    recorded_part = recorded_suffix(recorded_at)
    sha256 = hashlib.sha256
    rows: list[list[Any]] = []
    for template in templates:
        seq += 1
        row = template.row.copy()
        row[_SEQ] = seq
        row[_RECORDED_AT] = recorded_at
        row[_PREV_HASH] = prev_hash
        prev_hash = sha256(template.hash_input(seq, prev_hash, recorded_part)).hexdigest()
        row.append(prev_hash)
        rows.append(row)
    return rows


def _settle(pending: _Pending, count: int = 0, *, error: BaseException | None = None) -> None:
    if pending.done.done():
        return
    if isinstance(error, asyncio.CancelledError):
        pending.done.cancel()
    elif error is None:
        pending.done.set_result(count)
    else:
        pending.done.set_exception(error)


def _consume_outcome(done: asyncio.Future[int]) -> None:
    # Nobody awaits a cancelled caller's outcome; retrieving it keeps asyncio from logging it.
    if not done.cancelled():
        done.exception()


class _Pending:
    """One `append` call's events, waiting for the writer to commit them."""

    __slots__ = ("done", "templates")

    def __init__(self, templates: list[ChainTemplate], done: asyncio.Future[int]) -> None:
        self.templates = templates
        self.done = done


def _core_params(row: list[Any]) -> dict[str, Any]:
    # Typed values for backends that go through SQLAlchemy's parameter processing.
    params = dict(zip(RECORD_FIELDS, row, strict=True))
    params["data"] = EncodedJSON(row[_DATA])
    for name in ("occurred_at", "recorded_at"):
        if params[name] is not None:
            params[name] = datetime.fromisoformat(params[name])
    return params


async def _existing_event_ids(conn: AsyncConnection, event_ids: list[str], on_sqlite: bool) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(event_ids), _ID_CHUNK):
        chunk = event_ids[start : start + _ID_CHUNK]
        if on_sqlite:
            # Plain placeholders: SQLAlchemy's expanding IN costs as much as the lookups here.
            placeholders = ",".join("?" * len(chunk))
            result = await conn.exec_driver_sql(
                f"SELECT event_id FROM audit_events WHERE event_id IN ({placeholders})", tuple(chunk)
            )
        else:
            result = await conn.execute(
                select(audit_events.c.event_id).where(audit_events.c.event_id.in_(chunk))
            )
        found.update(result.scalars())
    return found


class AuditStore:
    """Append-only, hash-chained audit records in a SQL database.

    Build it with `open(url)`; the constructor takes an engine made by
    `engine.create_audit_engine`, whose hooks the chain lock depends on.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._on_sqlite = engine.dialect.name == "sqlite"
        # Writers in one process queue here instead of spinning on the database lock.
        self._write_lock = asyncio.Lock()
        # In-memory SQLite has a single shared connection: a read that ran while an append was
        # open would end (roll back) the append's transaction, so reads queue as well.
        self._reads_share_writer = single_connection(engine)
        self._sqlite_json: bool | None = None  # whether SQLite has its JSON functions; probed once
        # Group commit: appends queue here; one writer task at a time commits all that queued.
        self._pending: list[_Pending] = []
        self._writer: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, url: str, *, migrate: bool = True) -> AuditStore:
        """Connect to `url` (see `normalize_url`), upgrading the schema first unless told not to."""

        engine = create_audit_engine(url)
        try:
            if migrate:
                await upgrade_engine(engine)
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine)

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    async def close(self) -> None:
        # Appends already queued are committed (their callers are waiting) before the engine goes.
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)
        await self._engine.dispose()

    async def __aenter__(self) -> AuditStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _reading(self) -> AbstractAsyncContextManager[Any]:
        return self._write_lock if self._reads_share_writer else nullcontext()

    async def append(self, events: Sequence[AuditEvent]) -> int:
        """Chain and store `events`, returning once they are committed; returns how many were new.

        Events whose `event_id` is already stored, or repeated within `events`, are skipped.
        Concurrent calls share a transaction (their events stay contiguous, in call order); if
        it fails, each call's events are written again in a transaction of their own, so an
        error reaches only the calls whose events caused it.
        """

        batch = _first_of_each(events)
        if not batch:
            return 0
        # Encoding and the hash template need no lock: done here, by the caller, while the
        # writer may be busy with an earlier group. Bad data (not JSON) fails here, alone.
        templates = [ChainTemplate(event) for event in batch]
        pending = _Pending(templates, asyncio.get_running_loop().create_future())
        self._pending.append(pending)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_pending())
        try:
            # Shielded: one caller's cancellation must not cancel a transaction shared by others.
            return await asyncio.shield(pending.done)
        except asyncio.CancelledError:
            if pending in self._pending:
                self._pending.remove(pending)  # not taken by the writer yet: never written
            else:
                # Taken: committed or not, as with a transaction interrupted mid-commit.
                pending.done.add_done_callback(_consume_outcome)
            raise

    async def _write_pending(self) -> None:
        """The writer task: commits what has queued, group by group, until nothing is left."""

        group: list[_Pending] = []
        try:
            while self._pending:
                group, self._pending = self._pending, []
                try:
                    counts = await self._write(group)
                except Exception as exc:
                    if len(group) == 1:
                        _settle(group[0], error=exc)
                    else:
                        # Nothing of the group was committed (or, if a commit was lost in
                        # flight, its events are now known and get skipped): write each batch
                        # alone, so an error reaches only the callers whose events cause it.
                        for pending in group:
                            try:
                                (count,) = await self._write([pending])
                            except Exception as alone:
                                _settle(pending, error=alone)
                            else:
                                _settle(pending, count)
                else:
                    for pending, count in zip(group, counts, strict=True):
                        _settle(pending, count)
        except BaseException as exc:
            # Cancelled (the loop is shutting down): no caller may be left waiting forever.
            for pending in [*group, *self._pending]:
                _settle(pending, error=exc)
            self._pending = []
            raise

    async def _write(self, group: list[_Pending]) -> list[int]:
        """Chain and insert every batch of `group` in one transaction; how many each added."""

        event_ids = [template.row[_EVENT_ID] for pending in group for template in pending.templates]
        async with self._write_lock, chain_write(self._engine) as conn:
            # Both reads happen under the chain lock: nobody can insert the same event or move
            # the head between them and our insert.
            known = await _existing_event_ids(conn, list(dict.fromkeys(event_ids)), self._on_sqlite)
            fresh: list[ChainTemplate] = []
            counts: list[int] = []
            for pending in group:
                before = len(fresh)
                for template in pending.templates:
                    # An event in an earlier batch of the group counts as known, as it would
                    # had that batch been committed first.
                    if (event_id := template.row[_EVENT_ID]) not in known:
                        known.add(event_id)
                        fresh.append(template)
                counts.append(len(fresh) - before)
            if not fresh:
                return counts
            head = (
                await conn.execute(select(_seq, audit_events.c.hash).order_by(_seq.desc()).limit(1))
            ).first()
            seq, prev_hash = (int(head[0]), str(head[1])) if head is not None else (0, GENESIS_HASH)
            rows = _chain(fresh, seq, prev_hash)
            # Either way one executemany, not one INSERT per row.
            if self._on_sqlite:
                await conn.exec_driver_sql(SQLITE_INSERT.string, [tuple(row) for row in rows])
            else:
                await conn.execute(insert(audit_events), [_core_params(row) for row in rows])
        return counts

    async def count(self) -> int:
        async with self._reading(), self._engine.connect() as conn:
            total = await conn.scalar(select(func.count()).select_from(audit_events))
        return int(total or 0)

    async def tail(self, limit: int = 20) -> list[AuditRecord]:
        """The newest `limit` records, oldest first."""

        if limit <= 0:
            return []  # SQLite reads a negative LIMIT as "no limit"
        query = _select_records().order_by(_seq.desc()).limit(limit)
        async with self._reading(), self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_to_record(row) for row in reversed(rows)]

    async def for_workflow(self, workflow_id: str) -> list[AuditRecord]:
        """Every record of one workflow (all its runs), in chain order."""

        query = _select_records().where(audit_events.c.workflow_id == workflow_id).order_by(_seq)
        async with self._reading(), self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_to_record(row) for row in rows]

    async def head(self) -> tuple[int, str] | None:
        """(seq, hash) of the newest record, or None for an empty store."""

        query = select(_seq, audit_events.c.hash).order_by(_seq.desc()).limit(1)
        async with self._reading(), self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else (int(row[0]), str(row[1]))

    async def count_through(self, seq: int) -> int:
        """How many records have a seq of at most `seq` (exactly `seq` in an intact chain)."""

        query = select(func.count()).select_from(audit_events).where(_seq <= seq)
        async with self._reading(), self._engine.connect() as conn:
            return int(await conn.scalar(query) or 0)

    async def hashes_at(self, seqs: Sequence[int]) -> dict[int, str]:
        """seq -> stored hash for those of `seqs` that are in the store."""

        found: dict[int, str] = {}
        wanted = sorted(set(seqs))
        for start in range(0, len(wanted), _ID_CHUNK):
            query = select(_seq, audit_events.c.hash).where(_seq.in_(wanted[start : start + _ID_CHUNK]))
            async with self._reading(), self._engine.connect() as conn:
                found.update((int(seq), str(h)) for seq, h in (await conn.execute(query)).all())
        return found

    async def _row_batches(
        self, columns: Sequence[ColumnElement[Any]], batch: int, after: int = 0
    ) -> AsyncGenerator[Sequence[Sequence[Any]], None]:
        # Keyset pagination on seq, one short read per batch: no transaction stays open while the
        # caller works, and rows appended meanwhile only ever land after the cursor. The next
        # batch is read while the caller works on this one (the driver runs the query in its
        # own thread, and SQLite leaves the GIL while it steps), so verify costs about
        # max(read, hash) rather than their sum.
        if batch < 1:
            raise ValueError("batch must be at least 1")

        async def read(after: int) -> Sequence[Sequence[Any]]:
            query = select(*columns).where(_seq > after).order_by(_seq).limit(batch)
            async with self._reading(), self._engine.connect() as conn:
                return (await conn.execute(query)).all()

        ahead: asyncio.Task[Sequence[Sequence[Any]]] | None = asyncio.create_task(read(after))
        try:
            while ahead is not None:
                rows = await ahead
                ahead = asyncio.create_task(read(rows[-1][0])) if len(rows) == batch else None
                if rows:
                    yield rows
        finally:
            if ahead is not None:
                ahead.cancel()
                with suppress(asyncio.CancelledError):
                    await ahead

    async def iter_records(self, batch: int = 5000) -> AsyncIterator[AuditRecord]:
        """Every record in seq order, read `batch` rows at a time."""

        async with aclosing(self._row_batches(_columns, batch)) as batches:
            async for rows in batches:
                for row in rows:
                    yield _to_record(row)

    async def verify(self, batch: int = 5000, *, after: tuple[int, str] | None = None) -> VerifyReport:
        """Re-hash the chain and report the first break, if any: from the genesis, or from
        `after` = (seq, hash) of a record known good (a checkpoint's head) onwards.

        Records removed from the end leave a shorter chain that is still valid: the signed
        checkpoints (`retrofit.audit.anchored_verify`) catch that.
        """

        start = after or (0, GENESIS_HASH)
        if self._on_sqlite and await self._sqlite_has_json():
            try:
                return await self._verify_rendered(batch, start)
            except DBAPIError:
                # Only a damaged table makes SQLite's JSON functions fail (a BLOB where text
                # belongs); the reference path below reports such rows as edited.
                pass
        return await self._verify_rows(batch, start)

    async def verify_links(self, after: tuple[int, str] | None = None, batch: int = 20_000) -> VerifyReport:
        """The links only, from `after` = (seq, hash) on (default: the genesis): every later
        record has the next seq and names its predecessor's hash. No re-hashing, so it is cheap
        enough to run before every checkpoint; an edit that was not re-hashed stays visible to
        `verify` whatever is signed after it.
        """

        seq, prev = after or (0, GENESIS_HASH)
        checked = 0
        columns = [_seq, audit_events.c.event_id, audit_events.c.prev_hash, audit_events.c.hash]
        async with aclosing(self._row_batches(columns, batch, seq)) as batches:
            async for rows in batches:
                for row_seq, event_id, row_prev, row_hash in rows:
                    if row_seq != seq + 1 or row_prev != prev:
                        reason = (
                            f"seq gap: expected {seq + 1}, found {row_seq}"
                            if row_seq != seq + 1
                            else f"prev_hash does not match the hash of seq {seq}"
                        )
                        brk = ChainBreak(seq=row_seq, event_id=str(event_id), reason=reason)
                        return VerifyReport(
                            checked=checked, ok=False, first_break=brk, head_hash=prev, head_seq=seq
                        )
                    seq, prev = row_seq, row_hash
                    checked += 1
        return VerifyReport(
            checked=checked, ok=True, head_hash=None if seq == 0 else prev, head_seq=None if seq == 0 else seq
        )

    async def _verify_rows(self, batch: int, start: tuple[int, str] = (0, GENESIS_HASH)) -> VerifyReport:
        verifier = ChainVerifier(*start)
        columns = _verify_columns(self._on_sqlite)
        async with aclosing(self._row_batches(columns, batch, start[0])) as batches:
            async for rows in batches:
                for row in rows:
                    if not verifier.feed_row(row, row[_DATA]):
                        return verifier.report()
        return verifier.report()

    async def _verify_rendered(self, batch: int, start: tuple[int, str] = (0, GENESIS_HASH)) -> VerifyReport:
        # SQLite renders each record's canonical JSON itself (json_object, in C): Python is left
        # with one sha256 per record, and verify takes about half as long. A rendering that does
        # not reproduce the hash proves nothing either way, so that record is re-checked from its
        # full row by the reference encoder.
        verifier = ChainVerifier(*start)
        columns = [
            _seq,
            audit_events.c.event_id,
            audit_events.c.prev_hash,
            audit_events.c.hash,
            _SQLITE_RENDERED,
        ]
        async with aclosing(self._row_batches(columns, batch, start[0])) as batches:
            async for rows in batches:
                index = verifier.feed_rendered_run(rows)
                while index < len(rows):
                    # A row the fast run would not take: the full check, one row at a time.
                    seq, event_id, prev_hash, stored_hash, rendered = rows[index]
                    verdict = verifier.feed_rendered(seq, event_id, prev_hash, stored_hash, rendered or "")
                    if verdict is None:
                        row = await self._verify_row(seq)
                        verdict = verifier.feed_row(row, row[_DATA])
                    if not verdict:
                        return verifier.report()
                    index = verifier.feed_rendered_run(rows, index + 1)
        return verifier.report()

    async def _verify_row(self, seq: int) -> Sequence[Any]:
        query = select(*_verify_columns(self._on_sqlite)).where(_seq == seq)
        async with self._reading(), self._engine.connect() as conn:
            return (await conn.execute(query)).one()

    async def _sqlite_has_json(self) -> bool:
        # JSON functions are built into SQLite since 3.38 and usually compiled in before that.
        if self._sqlite_json is None:
            try:
                async with self._reading(), self._engine.connect() as conn:
                    await conn.exec_driver_sql("SELECT json_object('a', json('[1]'))")
                self._sqlite_json = True
            except DBAPIError:
                self._sqlite_json = False
        return self._sqlite_json
