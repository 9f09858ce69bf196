"""Opening the database the integrator named, read-only, and naming it without its password."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool
from sqlalchemy.util import immutabledict

from connectors.scaffold.errors import SourceError
from connectors.sql.url import DatabaseUrlError, engine_url
from retrofit.redaction.secret_names import is_secret_key

# The synchronous driver for each async one the SQL base picks: the reader runs once, from the
# CLI, outside any event loop. psycopg 3 serves both under one name.
_SYNC_DRIVERS = {"sqlite+aiosqlite": "sqlite+pysqlite", "postgresql+asyncpg": "postgresql+psycopg"}


def parse_url(url: str) -> URL:
    """The URL as the SQL base will use it; a `SourceError` that never quotes it otherwise."""
    try:
        return engine_url(url)
    except DatabaseUrlError as exc:
        raise SourceError(str(exc)) from None


def secrets_in(url: URL) -> tuple[str, ...]:
    """The URL's password and any secret-named query values (`?password=`, `sslpassword=`...)."""
    found = [url.password] if url.password else []
    for name, value in url.query.items():
        if is_secret_key(name):
            found += [value] if isinstance(value, str) else list(value)
    return tuple(str(v) for v in found if v)


def without_password(url: str) -> str:
    """The URL as the integrator wrote it, minus its password and secret-named query values (not
    masked: removed), for the package's default setting, its README and `SourceInfo.location`."""
    parsed = make_url(url)
    # Not `.set(password=None)`: for URL.set, None means "leave unchanged".
    stripped = parsed._replace(
        password=None, query=immutabledict({k: v for k, v in parsed.query.items() if not is_secret_key(k)})
    )
    if secrets_in(stripped):
        raise SourceError("the database URL's password could not be removed")
    return stripped.render_as_string(hide_password=False)


@contextmanager
def read_only(url: URL, secrets: tuple[str, ...]) -> Iterator[Connection]:
    """One connection that can only read: SQLite in `mode=ro` (the scaffold never writes, not
    even the idempotency table), other databases in a transaction that is rolled back."""
    sync = url.set(drivername=_SYNC_DRIVERS.get(url.drivername, url.drivername))
    if sync.get_backend_name() == "sqlite" and sync.query.get("mode") == "rw":
        sync = sync.set(query={**sync.query, "mode": "ro"})
    try:
        engine = create_engine(sync, poolclass=NullPool, hide_parameters=True)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise SourceError(f"no driver for this database: {scrub(exc, secrets)}") from None
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            try:
                yield conn
            finally:
                conn.rollback()
    except SQLAlchemyError as exc:
        raise SourceError(f"cannot read the database: {scrub(exc, secrets)}") from None
    finally:
        engine.dispose()


def scrub(exc: BaseException, secrets: tuple[str, ...]) -> str:
    """The driver's own message, first line only, with the password cut out should it quote it."""
    orig = getattr(exc, "orig", None) or exc
    text = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    for secret in secrets:
        text = text.replace(secret, "***")
    return text[:300]
