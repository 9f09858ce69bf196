"""What the database holds: each table and view as the generated actions will see it.

Tables are reflected the way the SQL base reflects them at run time (`connectors.sql.reflection`,
legacy date types included), so the models describe what the connector's reads really return.
On SQLite each column's storage classes are sampled as well: its declared type is only a hint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Column, Connection, Table, distinct, func, inspect, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.types import NullType

from connectors.scaffold.database.pytypes import PyType, declared_type, from_storage, widen
from connectors.scaffold.package import Skipped
from connectors.sql.reflection import reflect_tables

#: Rows per table whose storage classes are sampled (SQLite): enough to see a legacy file's
#: habits, cheap on a table of millions.
SAMPLE_ROWS = 10_000
#: Tables that are not the legacy system's data.
_OWN_TABLES = {"retrofit_idempotency": "Retrofit's own idempotency record, written by write actions"}


@dataclass(frozen=True)
class ColumnShape:
    name: str
    declared: str  # the database's spelling of the type, for notes
    type: PyType | None  # None: no Python type known; the column is left out
    nullable: bool
    primary_key: bool
    generated_key: bool  # the database numbers it (an integer primary key of its own)
    has_default: bool
    binary: bool
    length: int | None = None  # the declared maximum length of a text column
    #: A key column holding NULL in sampled rows (SQLite allows it outside INTEGER keys):
    #: keyset paging cannot continue past such a row.
    null_key: bool = False
    note: str = ""


@dataclass(frozen=True)
class TableShape:
    name: str
    kind: Literal["table", "view"]
    columns: tuple[ColumnShape, ...]
    key: tuple[str, ...]  # primary key columns in key order; () when there is none

    def column(self, name: str) -> ColumnShape:
        return next(c for c in self.columns if c.name == name)

    @property
    def readable(self) -> tuple[ColumnShape, ...]:
        """The columns a list read returns: typed, and not binary (a page of photos would be
        megabytes of base64 in a tool answer)."""
        return tuple(c for c in self.columns if c.type is not None and not c.binary)


def table_names(conn: Connection) -> tuple[list[str], list[str]]:
    inspector = inspect(conn)
    return sorted(inspector.get_table_names()), sorted(inspector.get_view_names())


def own_table_reason(name: str) -> str | None:
    return _OWN_TABLES.get(name)


def shape_of(conn: Connection, name: str, kind: Literal["table", "view"]) -> TableShape | Skipped:
    """One table or view, or why it cannot be read (a view whose SQL fails here, say)."""
    try:
        table = reflect_tables(conn, [name])[name]
    except SQLAlchemyError as exc:
        conn.rollback()
        return Skipped(f"{kind} {name}", f"cannot be reflected: {_first_line(exc)}")
    try:
        storage = _storage_classes(conn, table) if conn.dialect.name == "sqlite" else {}
        # Every read the action will make must work: a view over a dropped table, or one
        # written in another database's SQL, fails here instead of in production.
        conn.execute(select(table).limit(1)).all()
    except SQLAlchemyError as exc:
        conn.rollback()
        return Skipped(f"{kind} {name}", f"reading it fails on this database: {_first_line(exc)}")
    key = tuple(c.name for c in table.primary_key.columns)
    return TableShape(
        name=name,
        kind=kind,
        columns=tuple(_column(c, storage.get(c.name), single_key=len(key) == 1) for c in table.columns),
        key=key,
    )


def _column(column: Column[object], sampled: frozenset[str] | None, *, single_key: bool) -> ColumnShape:
    declared = declared_type(column.type)
    shown = str(column.type) if not isinstance(column.type, NullType) else "(no declared type)"
    note = ""
    pytype = declared
    nulls = sampled is not None and "null" in sampled
    sampled = sampled - {"null"} if sampled is not None else None
    if sampled is not None:
        if declared is None:
            pytype = from_storage(sampled)
            if pytype is not None:
                note = f"declares no type; typed {pytype.annotation} from the values it holds"
        elif sampled - declared.accepts - {"null"}:
            pytype = widen(declared, sampled - {"null"})
            held = ", ".join(sorted(sampled - declared.accepts))
            note = f"declared {shown} but some rows hold {held}: typed {pytype.annotation}"
    if column.primary_key and column.nullable and sampled is not None and not note:
        note = "the primary key allows NULL (SQLite, outside INTEGER keys): " + (
            "some rows hold NULL, so the table pages by offset" if nulls else "none in the sampled rows"
        )
    if pytype is None:
        note = f"type {shown} has no Python type here: left out of the models"
    elif pytype.loose and not note:
        note = f"loosely typed {pytype.annotation}"
    binary = pytype is not None and pytype.annotation == "bytes"
    if binary:
        note = f"binary ({shown}): left out of reads and writes; add a dedicated action if needed"
    generated = bool(
        column.primary_key and single_key and declared is not None and declared.annotation == "int"
    )
    return ColumnShape(
        name=column.name,
        declared=shown,
        type=pytype,
        nullable=bool(column.nullable),
        primary_key=bool(column.primary_key),
        generated_key=generated and column.autoincrement in ("auto", True),
        has_default=column.server_default is not None,
        binary=binary,
        length=_length(column),
        null_key=bool(column.primary_key and nulls),
        note=note,
    )


def _length(column: Column[object]) -> int | None:
    length = getattr(column.type, "length", None)
    return length if isinstance(length, int) and length > 0 else None


def _storage_classes(conn: Connection, table: Table) -> dict[str, frozenset[str]]:
    """Column -> the SQLite storage classes (`typeof`) its first SAMPLE_ROWS rows hold ('null' too)."""
    sample = select(*table.columns).limit(SAMPLE_ROWS).subquery()
    columns = list(sample.columns)
    row = conn.execute(select(*(func.group_concat(distinct(func.typeof(c))) for c in columns))).one()
    return {
        column.name: frozenset((found or "").split(",")) - {""}
        for column, found in zip(columns, row, strict=True)
    }


def _first_line(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0][:200]
