"""Reflecting legacy tables: names as the database spells them, types adjusted for legacy data.

Reflection runs once per connector (the first action that needs a table), through `run_sync`
because SQLAlchemy's inspector is synchronous. Table names are used exactly as the database spells
them ("Order Details", with its space): SQLAlchemy quotes every identifier it emits, so no name
is ever pasted into SQL text.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import Connection, MetaData, Table, event, inspect
from sqlalchemy.engine.interfaces import ReflectedColumn
from sqlalchemy.engine.reflection import Inspector
from sqlalchemy.exc import NoSuchTableError
from sqlalchemy.types import Date, DateTime

from connectors.sql.legacy_types import LegacyDate, LegacyDateTime


def reflect_tables(connection: Connection, names: Collection[str]) -> Mapping[str, Table]:
    """The named tables (or views) as SQLAlchemy `Table`s, keyed by their database names.

    A missing name raises `sqlalchemy.exc.NoSuchTableError`. Foreign keys to tables not named are
    not followed: a connector reflects what it uses, not the whole legacy schema.
    """
    inspector = inspect(connection)
    available = set(inspector.get_table_names()) | set(inspector.get_view_names())
    missing = sorted(set(names) - available)
    if missing:
        # SQLAlchemy's own message for this quotes the engine; ours names only the tables.
        raise NoSuchTableError(", ".join(repr(name) for name in missing))
    metadata = MetaData()
    if connection.dialect.name == "sqlite":
        event.listen(metadata, "column_reflect", _sqlite_legacy_types)
    metadata.reflect(connection, only=list(names), views=True, resolve_fks=False)
    return {name: metadata.tables[name] for name in names}


def _sqlite_legacy_types(inspector: Inspector, table: Table, column: ReflectedColumn) -> None:
    # SQLite reflects DATETIME and TIMESTAMP as DateTime subclasses, DATE as a Date subclass.
    declared: Any = column["type"]
    if isinstance(declared, DateTime):
        column["type"] = LegacyDateTime()
    elif isinstance(declared, Date):
        column["type"] = LegacyDate()
