"""`SqlConnector`: the base class of connectors that talk to a legacy system through its database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import ClassVar, TypeVar

from pydantic import BaseModel
from sqlalchemy import Executable, RowMapping, Table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connectors.sql import idempotency
from connectors.sql.capture import capture_replay
from connectors.sql.engine import create_sql_engine
from connectors.sql.errors import DatabaseErrors
from connectors.sql.reflection import reflect_tables
from connectors.sql.settings import SqlSettings
from connectors.sql.statements import (
    Params,
    RowPage,
    SqlTransaction,
    StatementPolicy,
    StatementRunner,
    single_row,
)
from connectors.sql.url import engine_url
from retrofit.sdk import Connector, ConnectorSettings, LookupResult, current_call

In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out", bound=BaseModel)


class SqlConnector(Connector):
    """A legacy system reached through its SQL database.

    Subclasses set `name`, a `Settings` model deriving from `SqlSettings` (for its default URL),
    the `tables` their actions use, and `@action` methods that call the helpers below:

    - `await self.table("Order Details")` — a reflected table, quoted correctly wherever it is used;
    - `await self.fetch_rows(select(...), limit=20)` / `fetch_one(...)` — reads with a hard row limit;
    - `await self.write(apply, req, returns=Model)` — one transaction with the idempotency record;
      `apply(tx, req)` runs `tx.execute(update(...), expect_rows=1)` and returns the result model;
    - `async with self.transaction() as tx:` — one transaction without the record.

    Every helper maps database failures to the Retrofit error tree (`connectors.sql.errors`) and
    captures each statement (SQL with placeholders, redacted parameters, rows, duration) for the
    audit trail. The engine is built once in `open()` and disposed in `close()`.
    """

    Settings: ClassVar[type[ConnectorSettings]] = SqlSettings
    settings: SqlSettings
    #: Tables and views the actions use, by their names in the database; reflected on first use.
    tables: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: ConnectorSettings) -> None:
        if not isinstance(settings, SqlSettings):
            raise TypeError(f"{type(self).__name__} needs SqlSettings, got {type(settings).__name__}")
        super().__init__(settings)
        self._engine: AsyncEngine | None = None
        self._reflected: Mapping[str, Table] | None = None
        self._record: Table | None = (
            idempotency.idempotency_table(settings.idempotency_table) if settings.idempotency_table else None
        )
        self._record_ready = False
        # Reflection and the record's CREATE TABLE run once, however many actions start together.
        self._schema_lock = asyncio.Lock()
        password = engine_url(settings.url).password
        self._secrets = (str(password),) if password else ()
        self._policy = StatementPolicy(
            connector=self.name,
            row_limit=settings.row_limit,
            statement_timeout_seconds=settings.statement_timeout_seconds,
            secrets=self._secrets,
        )

    async def open(self) -> None:
        if self._engine is None:
            # No I/O here: the first action connects. A database that is down when the worker
            # starts then shows as retryable action failures instead of a worker that cannot start.
            self._engine = create_sql_engine(self.settings)

    async def close(self) -> None:
        if self._engine is not None:
            engine, self._engine = self._engine, None
            await engine.dispose()

    @property
    def engine(self) -> AsyncEngine:
        """The connector's one engine and pool; for statements the helpers do not cover."""
        if self._engine is None:
            raise RuntimeError(f"{type(self).__name__}.open() must run before its actions")
        return self._engine

    # -- schema ---------------------------------------------------------------------------------

    async def table(self, name: str) -> Table:
        """A table (or view) named in `tables`, reflected from the database on first use."""
        if name not in self.tables:
            raise ValueError(f"{name!r} is not in {type(self).__name__}.tables; add it there")
        return (await self._reflected_tables())[name]

    async def _reflected_tables(self) -> Mapping[str, Table]:
        if self._reflected is None:
            async with self._schema_lock:
                if self._reflected is None:
                    async with self._database_errors("reflecting tables"), self.engine.connect() as conn:
                        self._reflected = await conn.run_sync(reflect_tables, self.tables)
        return self._reflected

    # -- reads ----------------------------------------------------------------------------------

    async def fetch_rows(
        self, statement: Executable, params: Params = None, *, limit: int | None = None
    ) -> RowPage:
        """At most `limit` rows (capped by the `row_limit` setting); `.truncated` if more matched."""
        async with self._database_errors("connecting"), self.engine.connect() as conn:
            return await self._runner(conn).fetch_rows(statement, params, limit=limit)

    async def fetch_one(
        self, statement: Executable, params: Params = None, *, what: str | None = None
    ) -> RowMapping | None:
        """The single row the statement matches, or None; more than one raises `TooManyRowsMatched`."""
        async with self._database_errors("connecting"), self.engine.connect() as conn:
            # Straight to fetch_rows: one coroutine frame less on the busiest read path.
            page = await self._runner(conn).fetch_rows(statement, params, limit=1)
        return single_row(page, self.name, what)

    # -- writes ---------------------------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlTransaction]:
        """One transaction: committed when the block ends, rolled back if anything in it raises."""
        async with self._database_errors("transaction"), self.engine.connect() as conn, conn.begin():
            if conn.dialect.name == "sqlite":
                # Take the write lock first: a deferred transaction that reads and then writes can
                # fail halfway with SQLITE_BUSY instead of waiting for a concurrent writer.
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield SqlTransaction(conn, self._policy)

    async def write(
        self,
        apply: Callable[[SqlTransaction, In], Awaitable[Out]],
        request: In,
        *,
        returns: type[Out],
    ) -> Out:
        """Run `apply(tx, request)` once per idempotency key, in one transaction.

        The first attempt runs `apply` and stores its result next to the effect, in the same
        transaction; any later attempt with the same key (a Temporal retry, a replayed workflow)
        gets that result back without running anything. Needs a running action (`current_call()`).
        """
        call = current_call()
        record = await self._record_table()
        if self.tables:
            # Reflect before the transaction takes its write lock (BEGIN IMMEDIATE, the key's
            # advisory lock): a first write would otherwise hold the lock through the catalog
            # reads, and a concurrent attempt could time out waiting for it.
            await self._reflected_tables()
        async with self.transaction() as tx:
            if record is None:
                return await apply(tx, request)
            key = idempotency.storage_key(call.idempotency_key)
            fingerprint = idempotency.fingerprint(call.action, request)
            await idempotency.take_turns(tx.connection, key)
            stored = await idempotency.stored_result(
                tx.connection, record, key=key, action=call.action, expected_fingerprint=fingerprint
            )
            if stored is not None:
                capture_replay(key, call.action)
                return returns.model_validate_json(stored)
            result = await apply(tx, request)
            await idempotency.record_result(
                tx.connection,
                record,
                key=key,
                action=call.action,
                fingerprint=fingerprint,
                result=result.model_dump_json(),
            )
            return result

    async def lookup(self, idempotency_key: str) -> LookupResult:
        """Whether the write under `idempotency_key` landed: its record commits with the effect, so
        the record says exactly that. Read in a write transaction holding the key's turn (BEGIN
        IMMEDIATE on SQLite, the advisory lock on PostgreSQL), so a write still in flight under the
        key is waited for instead of being reported as not landed."""
        record = await self._record_table()
        if record is None:
            return LookupResult.unknown(f"{self.name} keeps no idempotency record")
        key = idempotency.storage_key(idempotency_key)
        async with self.transaction() as tx:
            await idempotency.take_turns(tx.connection, key)
            stored = await idempotency.recorded_result(tx.connection, record, key)
        if stored is None:
            return LookupResult.not_landed(f"{self.name} has no idempotency record for this key")
        return LookupResult.landed(json.loads(stored), f"{self.name}'s idempotency record")

    # -- internals ------------------------------------------------------------------------------

    async def _record_table(self) -> Table | None:
        if self._record is None or self._record_ready:
            return self._record
        async with self._schema_lock:
            if not self._record_ready:
                async with (
                    self._database_errors("creating the idempotency table"),
                    self.engine.begin() as conn,
                ):
                    await idempotency.ensure_table(conn, self._record)
                self._record_ready = True
        return self._record

    def _runner(self, conn: AsyncConnection) -> StatementRunner:
        return StatementRunner(conn, self._policy)

    def _database_errors(self, doing: str) -> DatabaseErrors:
        """Map what the statement helpers did not: connecting, committing, raw statements."""
        return DatabaseErrors(self.name, doing, self._secrets)
