"""The one async engine a SQL connector holds, built from its settings.

Per dialect, the engine gets what the settings promise:

- SQLite has no server-side statement timeout, so each connection gets a progress handler that
  aborts the running statement once its `StatementDeadline` has passed (sqlite3 then raises
  "interrupted"). The statement helpers arm the deadline before each statement and disarm it
  after, so statements they did not run (the pool's reset, an escape-hatch statement) are never
  cut short by a stale deadline. `lock_timeout_seconds` is sqlite3's busy timeout.
- PostgreSQL gets `statement_timeout` and `lock_timeout` as session settings at connect, and a
  pre-ping so a connection the server dropped is replaced instead of failing the next action.

`hide_parameters=True` keeps bound values out of SQLAlchemy's exception texts and logs: those
values are business data, and exception texts travel to Temporal and the audit trail.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from connectors.sql.settings import SqlSettings
from connectors.sql.url import engine_url

# How many SQLite VM instructions run between two deadline checks: rare enough to cost nothing
# measurable on short statements, frequent enough to stop a runaway scan within milliseconds.
_PROGRESS_STEPS = 10_000

_DEADLINE_KEY = "retrofit_statement_deadline"
_NEVER = float("inf")


class StatementDeadline:
    """When the statement now running on one SQLite connection must stop (monotonic seconds)."""

    __slots__ = ("at",)

    def __init__(self) -> None:
        self.at = _NEVER

    def arm(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def disarm(self) -> None:
        self.at = _NEVER

    def passed(self) -> int:
        # Called by SQLite from the driver's thread; non-zero aborts the statement.
        return 1 if time.monotonic() > self.at else 0


def statement_deadline(connection: AsyncConnection) -> StatementDeadline | None:
    """The deadline of a checked-out SQLite connection; None where the server enforces timeouts."""
    deadline = connection.info.get(_DEADLINE_KEY)
    return deadline if isinstance(deadline, StatementDeadline) else None


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
        event.listen(engine.sync_engine, "connect", _install_progress_handler)
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


def _install_progress_handler(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
    deadline = StatementDeadline()
    record.info[_DEADLINE_KEY] = deadline
    # aiosqlite runs each connection on its own thread; the handler must be installed there.
    dbapi_connection.run_async(lambda driver: driver.set_progress_handler(deadline.passed, _PROGRESS_STEPS))
