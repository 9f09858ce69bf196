"""The one async engine a SQL connector holds, built from its settings.

Per dialect, the engine gets what the settings promise:

- SQLite has no server-side statement timeout, so each connection gets a progress handler that
  aborts the running statement once its deadline passes (sqlite3 then raises "interrupted"); the
  deadline is set before every statement. `lock_timeout_seconds` is sqlite3's busy timeout.
- PostgreSQL gets `statement_timeout` and `lock_timeout` as session settings at connect, and a
  pre-ping so a connection the server dropped is replaced instead of failing the next action.

`hide_parameters=True` keeps bound values out of SQLAlchemy's exception texts and logs: those
values are business data, and exception texts travel to Temporal and the audit trail.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection
from sqlalchemy.engine.interfaces import DBAPIConnection, DBAPICursor, ExecutionContext
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from connectors.sql.settings import SqlSettings
from connectors.sql.url import engine_url

# How many SQLite VM instructions run between two deadline checks: rare enough to cost nothing
# measurable on short statements, frequent enough to stop a runaway scan within milliseconds.
_PROGRESS_STEPS = 10_000

_DEADLINE_KEY = "retrofit_statement_deadline"


class _Deadline:
    """When the statement now running on one SQLite connection must stop (monotonic seconds)."""

    __slots__ = ("at",)

    def __init__(self) -> None:
        self.at = float("inf")

    def passed(self) -> int:
        # Called by SQLite from the driver's thread; non-zero aborts the statement.
        return 1 if time.monotonic() > self.at else 0


def create_sql_engine(settings: SqlSettings) -> AsyncEngine:
    """An async engine with a pool, the driver chosen from the URL and timeouts applied."""
    url = engine_url(settings.url)
    pool: dict[str, Any] = {
        "pool_size": settings.pool_size,
        "max_overflow": settings.max_overflow,
        "pool_timeout": settings.pool_timeout_seconds,
    }
    if url.get_backend_name() == "sqlite":
        engine = create_async_engine(
            url,
            hide_parameters=True,
            connect_args={"timeout": settings.lock_timeout_seconds},
            **pool,
        )
        _enforce_sqlite_statement_timeout(engine, settings.statement_timeout_seconds)
        return engine
    return create_async_engine(
        url,
        hide_parameters=True,
        pool_pre_ping=True,
        connect_args=_postgres_session_settings(url, settings),
        **pool,
    )


def _postgres_session_settings(url: URL, settings: SqlSettings) -> dict[str, Any]:
    if url.get_backend_name() != "postgresql":
        return {}
    statement_ms = int(settings.statement_timeout_seconds * 1000)
    lock_ms = int(settings.lock_timeout_seconds * 1000)
    if url.get_driver_name() == "asyncpg":
        return {"server_settings": {"statement_timeout": str(statement_ms), "lock_timeout": str(lock_ms)}}
    if "options" in url.query:
        return {}  # the operator set session options in the URL; theirs win
    return {"options": f"-c statement_timeout={statement_ms} -c lock_timeout={lock_ms}"}


def _enforce_sqlite_statement_timeout(engine: AsyncEngine, timeout_seconds: float) -> None:
    def on_connect(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        deadline = _Deadline()
        record.info[_DEADLINE_KEY] = deadline
        # aiosqlite runs each connection on its own thread; the handler must be installed there.
        dbapi_connection.run_async(
            lambda driver: driver.set_progress_handler(deadline.passed, _PROGRESS_STEPS)
        )

    def before_statement(
        conn: Connection,
        cursor: DBAPICursor,
        statement: str,
        parameters: Any,
        context: ExecutionContext | None,
        executemany: bool,
    ) -> None:
        deadline = conn.connection.info.get(_DEADLINE_KEY)
        if isinstance(deadline, _Deadline):
            deadline.at = time.monotonic() + timeout_seconds

    event.listen(engine.sync_engine, "connect", on_connect)
    event.listen(engine.sync_engine, "before_cursor_execute", before_statement)
