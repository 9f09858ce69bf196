"""Running statements on one connection: row limits, rows-affected checks, capture, error mapping.

`StatementRunner` serves reads (`SqlConnector.fetch_rows`/`fetch_one` open one for a single
statement); `SqlTransaction` adds `execute` for writes and lives exactly as long as one
transaction. Statements are SQLAlchemy Core constructs or `text()` with bound parameters; values
always travel as parameters, so quoting is the driver's job and never string formatting.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, CursorResult, Executable, RowMapping
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.selectable import GenerativeSelect

from connectors.sql.capture import capture_failure, capture_statement
from connectors.sql.engine import statement_deadline
from connectors.sql.errors import NoRowsMatched, TooManyRowsMatched, map_db_error

Params = Mapping[str, Any] | None

_Select = TypeVar("_Select", bound=GenerativeSelect)


@dataclass(frozen=True)
class StatementPolicy:
    """What a connector's settings say about running one statement; built once per connector."""

    connector: str
    row_limit: int
    statement_timeout_seconds: float
    secrets: tuple[str, ...] = ()  # scrubbed from error messages (the URL's password)


@dataclass(slots=True)
class RowPage:
    """The rows of one read, at most `limit`; `truncated` says more rows matched than were returned.

    Read-only by convention: not `frozen`, because a frozen dataclass costs several times more to
    build, and one is built for every read.
    """

    rows: Sequence[RowMapping]
    truncated: bool
    limit: int

    def __iter__(self) -> Iterator[RowMapping]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


class StatementRunner:
    """Statements on one open connection, on behalf of one connector."""

    def __init__(self, connection: AsyncConnection, policy: StatementPolicy) -> None:
        # The escape hatch: statements run on it directly are not captured, not row-limited and
        # (on SQLite) not subject to the statement timeout.
        self.connection = connection
        self._policy = policy
        self._connector = policy.connector
        self._deadline = statement_deadline(connection)

    async def fetch_rows(
        self, statement: Executable, params: Params = None, *, limit: int | None = None
    ) -> RowPage:
        """At most `limit` rows (default and cap: the connector's `row_limit`).

        One row more than the limit is fetched, to tell a complete answer from a cut one. A
        SELECT gets the LIMIT in SQL, so the database stops early; pass `limit=` rather than
        calling `.limit()` on it. Other statements (`text()`) are read through a server-side cursor
        and cut after limit+1 rows.
        """
        cap = self._policy.row_limit
        limit = cap if limit is None else max(1, min(limit, cap))
        started = time.perf_counter()
        self._arm()
        try:
            if isinstance(statement, GenerativeSelect):
                result = await self.connection.execute(_limited(statement, limit + 1), params)
                rows = result.mappings().all()
            else:
                rows, result = await self.connection.run_sync(_stream_rows, statement, params, limit + 1)
        except SQLAlchemyError as exc:
            raise self._failed(exc, statement, started) from exc
        finally:
            self._disarm()
        truncated = len(rows) > limit
        rows = rows[:limit]
        capture_statement(result, rows=len(rows), seconds=time.perf_counter() - started, truncated=truncated)
        return RowPage(rows=rows, truncated=truncated, limit=limit)

    async def fetch_one(
        self, statement: Executable, params: Params = None, *, what: str | None = None
    ) -> RowMapping | None:
        """The one row the statement matches, None for no row; more than one is an error."""
        return single_row(await self.fetch_rows(statement, params, limit=1), self._connector, what)

    async def _execute(self, statement: Executable, params: Params) -> tuple[CursorResult[Any], float]:
        started = time.perf_counter()
        self._arm()
        try:
            result = await self.connection.execute(statement, params)
        except SQLAlchemyError as exc:
            raise self._failed(exc, statement, started) from exc
        finally:
            self._disarm()
        return result, time.perf_counter() - started

    def _arm(self) -> None:
        if self._deadline is not None:
            self._deadline.arm(self._policy.statement_timeout_seconds)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.disarm()

    def _failed(self, exc: SQLAlchemyError, statement: Executable, started: float) -> Exception:
        sql = getattr(exc, "statement", None)
        error = map_db_error(
            exc, where=f"{self._connector} {_verb(sql, statement)}", secrets=self._policy.secrets
        )
        capture_failure(sql, error=type(error).__name__, seconds=time.perf_counter() - started)
        return error


class SqlTransaction(StatementRunner):
    """One transaction: every statement commits together when the block ends, or none does."""

    async def execute(
        self,
        statement: Executable,
        params: Params = None,
        *,
        expect_rows: int | range | None = None,
        what: str | None = None,
    ) -> CursorResult[Any]:
        """Run a write (or any statement) and check how many rows it changed.

        `expect_rows` is an exact count or a `range` (`range(1, 11)`: one to ten rows); outside it
        the statement raises `NoRowsMatched` (nothing matched, an input error) or
        `TooManyRowsMatched`, and leaving the transaction block rolls everything back. `what` names
        the target in those messages ("order 10248").
        """
        result, seconds = await self._execute(statement, params)
        changed = result.rowcount
        capture_statement(result, rows=changed, seconds=seconds)
        if expect_rows is not None:
            expected = range(expect_rows, expect_rows + 1) if isinstance(expect_rows, int) else expect_rows
            if changed not in expected:
                raise _row_count_error(self._connector, statement, what, expected, changed)
        return result


def single_row(page: RowPage, connector: str, what: str | None) -> RowMapping | None:
    """The row of a `limit=1` page; a cut page means the statement matched several."""
    if page.truncated:
        raise TooManyRowsMatched(
            f"{connector}: {what or 'a single-row read'} matched more than one row",
            expected=range(0, 2),
            actual=2,
        )
    return page.rows[0] if page.rows else None


# Limited copies of statements an action builds once and reuses. SQLAlchemy memoizes a statement's
# cache key on the statement object, so reusing the same limited copy saves building a fresh copy
# and its cache key on every call. Weak keys: the copy lives as long as the caller's statement.
_limited_copies: WeakKeyDictionary[GenerativeSelect, dict[int, GenerativeSelect]] = WeakKeyDictionary()


def _limited(statement: _Select, rows: int) -> _Select:
    copies = _limited_copies.get(statement)
    if copies is not None and rows in copies:
        return copies[rows]  # type: ignore[return-value]
    # A LIMIT the caller set would be silently replaced; refuse instead of changing the answer.
    if getattr(statement, "_limit_clause", None) is not None:
        raise ValueError("pass limit= to fetch_rows instead of calling .limit() on the statement")
    limited = statement.limit(rows)
    _limited_copies.setdefault(statement, {})[rows] = limited
    return limited


def _stream_rows(
    connection: Connection, statement: Executable, params: Params, rows: int
) -> tuple[Sequence[RowMapping], CursorResult[Any]]:
    # Runs inside `run_sync`: the synchronous API can read a server-side cursor partially, so a
    # text() query that matches millions of rows still transfers only `rows` of them.
    result = connection.execute(statement, params, execution_options={"stream_results": True})
    try:
        return result.mappings().fetchmany(rows), result
    finally:
        result.close()


def _row_count_error(
    connector: str, statement: Executable, what: str | None, expected: range, actual: int
) -> NoRowsMatched | TooManyRowsMatched:
    verb = _verb(None, statement)
    wanted = _describe(expected)
    target = f" {what}" if what else ""
    if actual < expected.start:
        return NoRowsMatched(
            f"{connector} {verb}{target}: {actual} rows matched, expected {wanted}; nothing was changed",
            expected=expected,
            actual=actual,
        )
    return TooManyRowsMatched(
        f"{connector} {verb}{target}: {actual} rows matched, expected {wanted}; nothing was changed",
        expected=expected,
        actual=actual,
    )


def _describe(expected: range) -> str:
    if len(expected) == 1:
        return f"exactly {expected.start}"
    return f"{expected.start} to {expected.stop - 1}"


def _verb(sql: str | None, statement: Executable) -> str:
    """`SELECT`, `UPDATE Orders`, ...: enough to say what failed without quoting values."""
    table = getattr(statement, "table", None)  # INSERT/UPDATE/DELETE constructs know their table
    name = getattr(table, "name", None)
    words = (sql or _sql_of(statement)).split(None, 1)
    verb = words[0].upper() if words else "statement"
    return f"{verb} {name}" if isinstance(name, str) else verb


def _sql_of(statement: Executable) -> str:
    if isinstance(statement, GenerativeSelect):
        return "SELECT"
    return str(getattr(statement, "text", "")) or type(statement).__name__
