"""How database failures become Retrofit errors — decided here, in one function.

    RetrofitError (retrofit.sdk.errors)
    ├── RetryableError        locked/busy database, lost or refused connection, pool exhausted,
    │                         statement or lock timeout, serialization failure, deadlock
    └── NonRetryableError     corrupt file, schema drift (no such table/column), connector bugs
        ├── AuthError         wrong password (PostgreSQL 28P01/28000), missing privilege, read-only file
        ├── ActionInputError  the database refused the arguments: constraint, data and binding errors
        │   └── NoRowsMatched        a write matched nothing (RowCountError)
        ├── TooManyRowsMatched       a write matched more rows than it may change (RowCountError)
        └── IdempotencyKeyReused     one idempotency key, two different requests

What each proves about the effect (`Delivery`): one transaction per action, so a statement the
database refused (locked, deadlock, timeout-cancelled, constraint) rolled back: ANSWERED, nothing
landed. No connection to be had (pool timeout, connection refused, SQLSTATE 08001/08004): NOT_SENT.
A connection lost or a server gone mid-call may have lost the answer to a COMMIT: UNKNOWN.

Messages quote the driver's own message and the kind of statement, never bound values (the engine
runs with `hide_parameters=True`, so SQLAlchemy's text leaves them out too) and never the URL.
"""

from __future__ import annotations

from collections.abc import Collection
from types import TracebackType

from sqlalchemy import exc as sa

from retrofit.sdk import (
    ActionInputError,
    AuthError,
    Delivery,
    NonRetryableError,
    NotSentError,
    OutcomeUnknownError,
    RetrofitError,
    RetryableError,
)

_MESSAGE_LIMIT = 300


class RowCountError(NonRetryableError):
    """A write changed a number of rows outside what it declared; its transaction was rolled back."""

    def __init__(self, message: str, *, expected: range, actual: int) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class NoRowsMatched(RowCountError, ActionInputError):
    """Nothing matched: usually an id that does not exist (or no longer matches its condition)."""


class TooManyRowsMatched(RowCountError):
    """More rows matched than the write may touch: its WHERE clause is not selective enough."""


class IdempotencyKeyReused(NonRetryableError):
    """An idempotency key came back with a different action or different arguments."""


# SQLite result codes (sqlite3's `sqlite_errorname`, Python 3.11+) by what retrying can do.
_SQLITE_RETRYABLE = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_FULL")
_SQLITE_AUTH = ("SQLITE_READONLY", "SQLITE_AUTH", "SQLITE_PERM")
_SQLITE_CORRUPT = ("SQLITE_NOTADB", "SQLITE_CORRUPT")

# PostgreSQL SQLSTATE classes and codes.
_PG_AUTH = ("28", "42501")  # invalid authorization; insufficient privilege
_PG_RETRYABLE = ("08", "40", "53", "55P03", "57014", "57P01", "57P02", "57P03")
_PG_SCHEMA = ("42",)
_PG_NOT_CONNECTED = ("08001", "08004")  # could not establish / server rejected the connection
_PG_ROLLED_BACK = (
    "40",
    "53",
    "55P03",
    "57014",
)  # the statement was refused; the transaction rolled back  # syntax error or undefined table/column: the statement does not fit


def map_db_error(exc: sa.SQLAlchemyError, *, where: str, secrets: Collection[str] = ()) -> RetrofitError:
    """The Retrofit error for a SQLAlchemy failure of `where` (e.g. "northwind UPDATE Orders").

    `secrets` are strings (the URL's password) scrubbed from the message in case a driver ever
    echoes them.
    """
    if isinstance(exc, sa.TimeoutError):  # the pool had no connection free in time
        return NotSentError(f"{where}: no database connection free in time ({exc})")
    if not isinstance(exc, sa.DBAPIError):
        return _before_the_database(exc, where=where, secrets=secrets)

    driver_message = _scrub(" ".join(str(exc.orig).split()), secrets)
    details = _cut(driver_message)
    message = f"{where}: {details}"
    sqlite_code = str(getattr(exc.orig, "sqlite_errorname", ""))
    sqlstate = str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or "")
    lowered = driver_message.lower()

    if sqlstate.startswith(_PG_AUTH) or sqlite_code.startswith(_SQLITE_AUTH) or _says_auth(lowered):
        return AuthError(f"{where}: the database refused our credentials or permissions: {details}")
    if sqlstate.startswith(_PG_NOT_CONNECTED):
        return NotSentError(f"{where}: could not connect to the database: {details}", details=details)
    if exc.connection_invalidated or isinstance(exc, sa.InterfaceError):
        return OutcomeUnknownError(f"{where}: the database connection was lost: {details}", details=details)
    if sqlite_code == "SQLITE_INTERRUPT" or sqlstate == "57014":
        return RetryableError(
            f"{where}: statement timed out and was cancelled", details=details, delivery=Delivery.ANSWERED
        )
    if sqlite_code.startswith(_SQLITE_RETRYABLE) or sqlstate.startswith(_PG_ROLLED_BACK):
        return RetryableError(message, details=details, delivery=Delivery.ANSWERED)
    if sqlstate.startswith(_PG_RETRYABLE):
        return OutcomeUnknownError(message, details=details)
    if sqlite_code.startswith(_SQLITE_CORRUPT):
        # Retrying cannot repair a file; an operator must restore it.
        return NonRetryableError(f"{where}: the database file is corrupt or not a database: {details}")
    if isinstance(exc, sa.IntegrityError | sa.DataError):
        return ActionInputError(f"{where}: the database refused the values: {details}", details=details)
    if sqlstate.startswith(_PG_SCHEMA) or "no such table" in lowered or "no such column" in lowered:
        return NonRetryableError(
            f"{where}: the statement does not fit the database schema: {details}", details=details
        )
    if isinstance(exc, sa.ProgrammingError):  # e.g. a value of a type the driver cannot bind
        return ActionInputError(f"{where}: the database refused the arguments: {details}", details=details)
    if isinstance(exc, sa.OperationalError):
        # The driver's catch-all for trouble on the database side (server gone, disk, network).
        return RetryableError(message, details=details)
    return NonRetryableError(message, details=details)


class DatabaseErrors:
    """`async with DatabaseErrors(...)`: SQLAlchemy errors raised inside leave as Retrofit errors.

    A class rather than an `asynccontextmanager` generator: it wraps every read, and costs a
    fraction of a generator's setup on that hot path.
    """

    __slots__ = ("_connector", "_doing", "_secrets")

    def __init__(self, connector: str, doing: str, secrets: Collection[str] = ()) -> None:
        self._connector = connector
        self._doing = doing
        self._secrets = secrets

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(exc, sa.SQLAlchemyError):
            where = f"{self._connector} {self._doing}"
            raise map_db_error(exc, where=where, secrets=self._secrets) from exc


def _before_the_database(exc: sa.SQLAlchemyError, *, where: str, secrets: Collection[str]) -> RetrofitError:
    """Failures SQLAlchemy raised before the database saw a statement."""
    text = _cut(_scrub(" ".join(str(exc).split()), secrets))
    if isinstance(exc, sa.NoSuchTableError):
        return NonRetryableError(f"{where}: the database has no table {text}", details=text)
    if isinstance(exc, sa.StatementError):
        # A value its column type cannot bind (a str for a DATETIME, say): the arguments' fault.
        return ActionInputError(f"{where}: a value could not be bound: {text}", details=text)
    # Compile and usage errors are bugs in the connector's statements; retrying repeats them.
    return NonRetryableError(f"{where}: the statement is invalid: {text}", details=text)


def _says_auth(message: str) -> bool:
    return "password authentication failed" in message or "authentication failed for user" in message


def _scrub(text: str, secrets: Collection[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[REDACTED]")
    return text


def _cut(text: str) -> str:
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"
