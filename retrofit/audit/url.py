"""Database URLs for the audit store: which driver to use, and where a SQLite file lives.

Operators write the URL they know (`sqlite:///var/audit.db`, `postgresql://user@host/db`); the store
runs on SQLAlchemy's asyncio engine, so the driver is chosen here, in one place.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

# Scheme as written -> scheme the async engine needs. Only SQLite and PostgreSQL are supported
# because the chain lock (BEGIN IMMEDIATE / pg_advisory_xact_lock) exists only for those two.
_ASYNC_SCHEMES = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "postgresql+psycopg_async": "postgresql+psycopg_async",
    "postgresql+asyncpg": "postgresql+asyncpg",
}

# psycopg 3 registers one dialect name for both its sync and async flavours.
_SYNC_SCHEMES = {
    "sqlite+aiosqlite": "sqlite+pysqlite",
    "postgresql+psycopg": "postgresql+psycopg",
    "postgresql+psycopg_async": "postgresql+psycopg",
    "postgresql+asyncpg": "postgresql+psycopg",
}


def _split(url: str) -> tuple[str, str]:
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme:
        raise ValueError(f"not a database URL: {url!r} (expected e.g. sqlite:///path/to/audit.db)")
    return scheme.lower(), rest


def normalize_url(url: str) -> str:
    """Return `url` with an async driver named; raise ValueError for unsupported databases.

    Only the scheme is rewritten (string-wise) so credentials and query strings stay byte-identical.
    """

    scheme, rest = _split(url)
    target = _ASYNC_SCHEMES.get(scheme)
    if target is None:
        supported = "sqlite://, sqlite+aiosqlite://, postgresql://, postgresql+psycopg://"
        raise ValueError(f"unsupported audit database URL scheme {scheme!r}; use one of {supported}")
    normalized = f"{target}://{rest}"
    try:
        make_url(normalized)
    except ArgumentError as exc:
        raise ValueError(f"malformed database URL {url!r}: {exc}") from exc
    return normalized


def sync_url(url: str) -> str:
    """The same database through a synchronous driver (for the Alembic CLI and offline SQL)."""

    normalized = normalize_url(url)
    scheme, rest = _split(normalized)
    return f"{_SYNC_SCHEMES[scheme]}://{rest}"


def is_sqlite(url: str) -> bool:
    return _split(normalize_url(url))[0].startswith("sqlite")


def sqlite_file(url: str) -> Path | None:
    """The file behind a SQLite URL, or None for in-memory and `file:` URI databases."""

    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:":
        return None
    if parsed.query.get("uri") in ("true", "1") or database.startswith("file:"):
        # URI filenames carry their own syntax (mode=memory, cache=shared); leave them alone.
        return None
    return Path(database)


def ensure_sqlite_parent(url: str) -> None:
    """Create the directory a SQLite file will live in; SQLite itself only creates the file."""

    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
