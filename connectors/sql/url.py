"""Database URLs for SQL connectors: the async driver to use, and a form that is safe to show.

Operators write the URL they know (`sqlite:///data/erp.db`, `postgresql://app:pw@db/erp`). The
connector runs on SQLAlchemy's asyncio engine, so the driver is picked here, in one place. The URL
may carry a password: it is parsed into a `sqlalchemy.URL` and handed to the engine as that object,
never rendered back to text except through `display_url`, which masks the password.
"""

from __future__ import annotations

from urllib.parse import quote

from pydantic import SecretStr
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

# Driver name as written -> the async driver the engine needs. A URL that already names another
# async driver (say `postgresql+asyncpg`) is used as written.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "postgresql+psycopg2": "postgresql+psycopg",
    "postgresql+pg8000": "postgresql+psycopg",
    # psycopg 3 serves sync and async engines under one dialect name.
    "postgresql+psycopg_async": "postgresql+psycopg",
}


class DatabaseUrlError(ValueError):
    """The configured database URL is unusable; the message never contains the URL's password."""


def engine_url(raw: str | SecretStr) -> URL:
    """The URL the async engine connects with.

    - the driver becomes an async one (`sqlite://` -> aiosqlite, `postgresql://` -> psycopg);
    - a SQLite file opens read-write but is never created: a mistyped path would otherwise
      silently create an empty database in which every query fails with "no such table";
    - any other `dialect+driver` is kept as written, for drivers this table does not know.
    """
    text = raw.get_secret_value() if isinstance(raw, SecretStr) else raw
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):
        # `from None`: the parser's own message may quote the URL, password included.
        raise DatabaseUrlError(
            "the database URL cannot be parsed (expected e.g. sqlite:///path/to/file.sqlite "
            "or postgresql://user:password@host/database)"
        ) from None
    drivername = _ASYNC_DRIVERS.get(url.drivername, url.drivername)
    if "+" not in drivername:
        raise DatabaseUrlError(
            f"no async driver known for {url.drivername!r} databases: name one explicitly, "
            f"e.g. {url.drivername}+<driver>://..."
        )
    url = url.set(drivername=drivername)
    if url.get_backend_name() == "sqlite":
        url = _sqlite_existing_file(url)
    return url


def display_url(url: URL | str | SecretStr) -> str:
    """The URL as the operator wrote it, for logs and messages, with any password masked."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    text = url.get_secret_value() if isinstance(url, SecretStr) else url
    try:
        return make_url(text).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "(unparseable database URL)"


def _sqlite_existing_file(url: URL) -> URL:
    database = url.database or ""
    in_memory = database in ("", ":memory:")
    already_uri = url.query.get("uri") in ("true", "1") or database.startswith("file:")
    if in_memory or already_uri:
        return url  # the operator chose the URI form, or there is no file to protect
    # SQLite's URI syntax: the path is percent-encoded (spaces, '?', '#'); `mode=rw` refuses to
    # create the file. SQLAlchemy passes the non-driver query keys on as URI parameters.
    return url.set(
        database=f"file:{quote(database)}",
        query={**url.query, "mode": "rw", "uri": "true"},
    )
