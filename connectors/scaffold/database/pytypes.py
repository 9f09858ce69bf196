"""Column types as Python annotations for the generated row models.

The declared type is a first guess; on SQLite it is checked against what the rows really hold
(`sampling`), because SQLite stores any value in any column and legacy files use that freedom
(Northwind's NUMERIC prices are integers in some rows and binary floats in others).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import types as sa

from connectors.sql.legacy_types import LegacyDate, LegacyDateTime

_DATETIME = "from datetime import datetime"
_DATE = "from datetime import date"


@dataclass(frozen=True)
class PyType:
    annotation: str  # without `| None`: nullability is the column's, added by the model writer
    imports: frozenset[str] = frozenset()
    #: SQLite storage classes (`typeof()`) a value of this annotation is read from without loss.
    accepts: frozenset[str] = frozenset()
    #: Loosely typed (a union guessed from the data, or no declared type): named in the README.
    loose: bool = False


def _t(annotation: str, accepts: str, *imports: str) -> PyType:
    return PyType(annotation, frozenset(imports), frozenset(accepts.split()))


INT = _t("int", "integer")
FLOAT = _t("float", "integer real")
DECIMAL = _t("Decimal", "integer real", "from decimal import Decimal")
STR = _t("str", "text")
BOOL = _t("bool", "integer")
BYTES = _t("bytes", "blob text")
# Legacy date text: `connectors.sql.legacy_types` hands unparseable text through unchanged, so
# the model must take it too (the README says which columns did).
LEGACY_DATETIME = _t("datetime | str", "text integer real", _DATETIME)
LEGACY_DATE = _t("date | str", "text integer real", _DATE)
DATETIME = _t("datetime", "text integer real", _DATETIME)
DATE = _t("date", "text", _DATE)
TIME = _t("time", "text", "from datetime import time")
INTERVAL = _t("timedelta", "", "from datetime import timedelta")
UUID_ = _t("UUID", "text blob", "from uuid import UUID")
JSON = _t("JsonValue", "text integer real", "from pydantic import JsonValue")

# The Python type of each SQLite storage class, for columns whose rows disagree with the
# declared type (or that declare none: computed view columns).
STORAGE = {"integer": INT, "real": FLOAT, "text": STR, "blob": BYTES}


def declared_type(column_type: sa.TypeEngine[object]) -> PyType | None:
    """The annotation for a reflected column type; None when no Python type is known (NullType,
    arrays, vendor types): the reader then asks the data (SQLite) or leaves the column out."""
    # Order matters: LegacyDateTime is a String decorator, Float a Numeric, Boolean an Integer
    # on some dialects, Enum a String.
    if isinstance(column_type, LegacyDateTime):
        return LEGACY_DATETIME
    if isinstance(column_type, LegacyDate):
        return LEGACY_DATE
    if isinstance(column_type, sa.Boolean):
        return BOOL
    if isinstance(column_type, sa.Integer):
        return INT
    if isinstance(column_type, sa.Float):
        return FLOAT
    if isinstance(column_type, sa.Numeric):
        return DECIMAL
    if isinstance(column_type, sa.DateTime):
        return DATETIME
    if isinstance(column_type, sa.Date):
        return DATE
    if isinstance(column_type, sa.Time):
        return TIME
    if isinstance(column_type, sa.Interval):
        return INTERVAL
    if isinstance(column_type, sa.Uuid):
        return UUID_
    if isinstance(column_type, sa.JSON):
        return JSON
    if isinstance(column_type, sa.String):  # Text, Unicode, VARCHAR, Enum, ...
        return STR
    if isinstance(column_type, (sa.LargeBinary, sa.BINARY, sa.VARBINARY)):
        return BYTES
    return None


def from_storage(classes: frozenset[str]) -> PyType | None:
    """A type for a column known only by the storage classes its sampled rows hold."""
    if not classes:
        return None
    if classes <= {"integer"}:
        return INT
    if classes <= {"integer", "real"}:
        return FLOAT
    if classes == {"text"}:
        return STR
    return widen(None, classes)


def widen(declared: PyType | None, classes: frozenset[str]) -> PyType:
    """`declared` plus the types of the storage classes it does not read: a loose union."""
    parts = [declared] if declared else []
    parts += [
        STORAGE[c]
        for c in sorted(classes)
        if c in STORAGE and (declared is None or c not in declared.accepts)
    ]
    annotation = " | ".join(dict.fromkeys(p.annotation for p in parts))
    imports = frozenset(i for p in parts for i in p.imports)
    accepts = frozenset(c for p in parts for c in p.accepts)
    return PyType(annotation, imports, accepts, loose=True)
