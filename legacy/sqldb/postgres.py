"""The demo Northwind database on PostgreSQL: the same seed, loaded into a server database.

A legacy SQL system is as often a server as a file. This loads the seed (the SQLite database that
`legacy/sqldb/seed/northwind.sql` builds, see `database.built_seed`) into a PostgreSQL database with the same table and column names (quoted, mixed case: "Order Details"."UnitPrice"),
so the Northwind connector runs unchanged against either; only `RETROFIT_NORTHWIND_URL` differs.

What the copy keeps and what it changes, and why:

- Tables, primary keys, NOT NULL, defaults and CHECK constraints (the connector's error mapping
  is tested against them). SQLite's `[Name]` quoting in CHECK texts becomes `"Name"`.
- Foreign keys, `DEFERRABLE INITIALLY DEFERRED`: the seed's rows are not in dependency order
  (Employees refers to itself), so they are checked once, at commit.
- Types become what a PostgreSQL schema of the same data would use: DATETIME -> TIMESTAMP,
  DATE -> DATE (the seed's ISO-8601 text is parsed on the way in), NUMERIC -> NUMERIC (from the
  shortest decimal text of SQLite's binary floats), REAL -> DOUBLE PRECISION, BLOB -> BYTEA.
  Integer primary keys get sequences (SERIAL), set past the highest loaded id.
- Views are not copied: their SQL is SQLite's (`DATETIME()`, `+` on text), and the connector
  uses tables only.

    python -m legacy.sqldb.postgres load --url postgresql://user:pw@host/northwind [--if-empty]
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    Connection,
    Engine,
    ForeignKeyConstraint,
    MetaData,
    RowMapping,
    Table,
    create_engine,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool
from sqlalchemy.types import (
    DATE,
    TIMESTAMP,
    BigInteger,
    Date,
    DateTime,
    Double,
    Float,
    Integer,
    LargeBinary,
    Numeric,
    Text,
    TypeEngine,
)

from legacy.sqldb.database import SEED_PATH, SeedInvalid, SeedMissing, built_seed

# The connector's idempotency record: a fresh copy has none, like a fresh SQLite copy.
_IDEMPOTENCY_TABLE = "retrofit_idempotency"
_BRACKETED = re.compile(r"\[([^\]]+)\]")


def sync_url(url: str | URL) -> URL:
    """`url` with psycopg (3) named as the driver, whatever PostgreSQL driver it was written with."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError("not a PostgreSQL URL (expected postgresql://user@host/database)")
    return parsed.set(drivername="postgresql+psycopg")


class PostgresDemoDatabase:
    """The Northwind seed in one PostgreSQL database; `prepare()` (re)loads it."""

    def __init__(self, url: str | URL, *, seed: Path = SEED_PATH) -> None:
        self._url = sync_url(url)
        self.seed = Path(seed)

    @property
    def url(self) -> str:
        """What `RETROFIT_NORTHWIND_URL` should be to use this database (password included)."""
        return self._url.set(drivername="postgresql").render_as_string(hide_password=False)

    @contextmanager
    def _engine(self) -> Iterator[Engine]:
        # NullPool: every call is a short administrative session; nothing should linger on the
        # server (a lingering session would also block DROP DATABASE in tests).
        engine = create_engine(self._url, poolclass=NullPool)
        try:
            yield engine
        finally:
            engine.dispose()

    def prepare(self) -> None:
        """Drop the Northwind tables (and the connector's record) and load the seed, atomically."""
        image = built_seed(self.seed)  # before any connection: a missing seed changes nothing

        def open_seed() -> sqlite3.Connection:
            # The built image in memory: read here, never written back anywhere.
            connection = sqlite3.connect(":memory:")
            connection.deserialize(image)
            return connection

        source = create_engine("sqlite://", creator=open_seed, poolclass=NullPool)
        try:
            with source.connect() as seed, self._engine() as target, target.begin() as conn:
                load_seed(seed, conn)
        finally:
            source.dispose()

    def reset(self) -> None:
        """Back to the seed. Close connectors first: their reflected tables would be stale."""
        self.prepare()

    def is_loaded(self) -> bool:
        """Whether the Northwind tables exist (the demo stack loads only an empty database)."""
        return self.has_table("Order Details")

    # -- inspection, for tests: plain SQL on a fresh connection, independent of the code under test

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one query, rolled back. `?` placeholders, as in `SqlDemoDatabase.query`, so
        tests share their SQL between the two databases."""
        with self._engine() as engine, engine.connect() as conn:
            return _rows(conn, sql, params)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """One statement, committed (a change behind the connector's back); its rows, if any."""
        with self._engine() as engine, engine.begin() as conn:
            return _rows(conn, sql, params)

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    def has_table(self, name: str) -> bool:
        with self._engine() as engine, engine.connect() as conn:
            return inspect(conn).has_table(name)

    # -- faults ------------------------------------------------------------------------------------

    def lock(self, table: str = "Customers") -> HeldTableLock:
        """Hold an ACCESS EXCLUSIVE lock on `table`: every read and write of it waits until released."""
        return HeldTableLock(self._url, table)


class HeldTableLock:
    """`LOCK TABLE ... IN ACCESS EXCLUSIVE MODE` in an open transaction, until `release()`.

    A server database is "locked" when a long report, a backup or a migration holds a table:
    clients wait for their `lock_timeout` and then fail with SQLSTATE 55P03.
    """

    def __init__(self, url: URL, table: str) -> None:
        self._engine: Engine | None = create_engine(url, poolclass=NullPool)
        self._guard = threading.Lock()
        self._connection: Connection | None = self._engine.connect()
        try:
            quoted = self._connection.dialect.identifier_preparer.quote(table)
            # An identifier cannot be a bound parameter; it is quoted by the dialect instead.
            self._connection.exec_driver_sql(f"LOCK TABLE {quoted} IN ACCESS EXCLUSIVE MODE")
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        """End the transaction (and with it the lock); safe to call twice."""
        with self._guard:
            connection, self._connection = self._connection, None
            engine, self._engine = self._engine, None
        if connection is not None:
            connection.rollback()
            connection.close()
        if engine is not None:
            engine.dispose()

    def __enter__(self) -> HeldTableLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _rows(conn: Connection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    # psycopg's own placeholder is %s; a literal % must then be doubled.
    statement = sql.replace("%", "%%").replace("?", "%s") if params else sql
    result = conn.exec_driver_sql(statement, tuple(params))
    return [tuple(row) for row in result.all()] if result.returns_rows else []


# -- loading --------------------------------------------------------------------------------------


def load_seed(seed: Connection, target: Connection) -> None:
    """Copy every table of the SQLite `seed` into `target` (a PostgreSQL transaction)."""
    source = MetaData()
    source.reflect(seed)  # tables only: views are SQLite SQL
    tables = {name: table for name, table in source.tables.items() if not name.startswith("sqlite_")}
    schema = _postgres_schema(tables)

    target.execute(text(f"DROP TABLE IF EXISTS {_quote(target, _IDEMPOTENCY_TABLE)}"))
    schema.drop_all(target, checkfirst=True)
    schema.create_all(target)
    for table in schema.sorted_tables:
        # The driver's own values (float, int, str, bytes), not SQLAlchemy's: its NUMERIC reading
        # would turn 32.38 into Decimal("32.3800000000").
        stored = seed.exec_driver_sql(f"SELECT * FROM {_quote(seed, table.name)}").mappings()
        rows = [_converted(table, row) for row in stored]
        if rows:
            target.execute(table.insert(), rows)
        _advance_sequence(target, table)


def _postgres_schema(tables: Mapping[str, Table]) -> MetaData:
    schema = MetaData()
    for name, table in tables.items():
        columns = [
            Column(
                column.name,
                _postgres_type(column.type),
                primary_key=column.primary_key,
                nullable=column.nullable,
                server_default=column.server_default,
            )
            for column in table.columns
        ]
        checks = [
            CheckConstraint(_BRACKETED.sub(r'"\1"', str(constraint.sqltext)))
            for constraint in table.constraints
            if isinstance(constraint, CheckConstraint)
        ]
        Table(name, schema, *columns, *checks)
    for name, table in tables.items():
        copy = schema.tables[name]
        for foreign in table.foreign_key_constraints:
            referred = schema.tables[foreign.referred_table.name]
            copy.append_constraint(
                ForeignKeyConstraint(
                    [copy.c[column.name] for column in foreign.columns],
                    [referred.c[element.column.name] for element in foreign.elements],
                    deferrable=True,
                    initially="DEFERRED",
                )
            )
    return schema


def _postgres_type(declared: TypeEngine[Any]) -> TypeEngine[Any]:
    # Order matters: REAL is a Float, Float is a Numeric, and DATETIME is not a Date.
    if isinstance(declared, DateTime):
        return TIMESTAMP()
    if isinstance(declared, Date):
        return DATE()
    if isinstance(declared, Float):
        return Double()
    if isinstance(declared, Numeric):
        return Numeric()
    if isinstance(declared, BigInteger | Integer):
        return Integer()
    if isinstance(declared, LargeBinary):
        return LargeBinary()
    return Text()


def _converted(table: Table, row: RowMapping) -> dict[str, Any]:
    return {column.name: _value(column.type, row[column.name]) for column in table.columns}


def _value(target: TypeEngine[Any], value: Any) -> Any:
    if value is None:
        return None
    if isinstance(target, TIMESTAMP) and isinstance(value, str):
        return datetime.fromisoformat(value)
    if isinstance(target, DATE) and isinstance(value, str):
        return datetime.fromisoformat(value).date()
    if isinstance(target, DATE) and isinstance(value, datetime):
        return value.date()
    if isinstance(target, Numeric) and not isinstance(target, Float) and isinstance(value, float):
        # repr() is the shortest text that reads back as the same float: 14.4, not 14.4000000000000003.
        return Decimal(repr(value))
    if isinstance(target, Text) and not isinstance(value, str):
        return str(value)
    return value


def _advance_sequence(conn: Connection, table: Table) -> None:
    """Move a SERIAL key's sequence past the loaded ids, so a new row gets a fresh one."""
    key = list(table.primary_key.columns)
    if len(key) != 1 or not isinstance(key[0].type, Integer):
        return
    sequence = conn.scalar(select(func.pg_get_serial_sequence(_quote(conn, table.name), key[0].name)))
    highest = conn.scalar(select(func.max(key[0])))
    if sequence is not None and highest is not None:
        conn.execute(select(func.setval(sequence, highest)))


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m legacy.sqldb.postgres",
        description="Load the demo Northwind database into PostgreSQL.",
    )
    parser.add_argument("command", choices=["load"], help="(re)create the Northwind tables from the seed")
    parser.add_argument(
        "--url",
        default=os.environ.get("RETROFIT_NORTHWIND_URL"),
        help="postgresql://user:password@host:port/database (default: $RETROFIT_NORTHWIND_URL)",
    )
    parser.add_argument("--seed", type=Path, default=SEED_PATH, help=f"default: {SEED_PATH}")
    parser.add_argument(
        "--if-empty", action="store_true", help="leave a database that already has the tables alone"
    )
    args = parser.parse_args(argv)
    if not args.url:
        parser.error("give --url or set RETROFIT_NORTHWIND_URL")
    database = PostgresDemoDatabase(args.url, seed=args.seed)
    shown = make_url(database.url).render_as_string(hide_password=True)
    if args.if_empty and database.is_loaded():
        print(f"demo Northwind database already loaded: {shown}", flush=True)
        return
    try:
        database.prepare()
    except (SeedMissing, SeedInvalid) as exc:
        raise SystemExit(str(exc)) from None
    print(f"demo Northwind database loaded: {shown}", flush=True)


if __name__ == "__main__":
    main()
