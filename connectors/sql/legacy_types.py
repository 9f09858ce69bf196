"""Column types for what legacy SQLite files really hold.

SQLite has no date type: a `DATETIME` column holds whatever text the legacy application wrote,
most often `1996-07-04 00:00:00.000` (Access and .NET exports, Northwind). SQLAlchemy's own SQLite
DATE/DATETIME types fail the whole read on text they cannot parse and write six fractional digits,
a layout the legacy application never wrote. These types read any ISO-8601 layout, hand unparseable
text through unchanged (the action's output model then names the field that does not fit), and
write the layout above.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Dialect, String
from sqlalchemy.types import TypeDecorator


class LegacyDateTime(TypeDecorator[datetime | str]):
    """A date-time stored as text; reads `datetime` (or the raw text when it is not a date)."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None or isinstance(value, str):
            return value  # text passes unchanged, so a connector can write a legacy layout itself
        if isinstance(value, datetime):
            return value.isoformat(sep=" ", timespec="milliseconds")
        if isinstance(value, date):
            return datetime.combine(value, time()).isoformat(sep=" ", timespec="milliseconds")
        raise TypeError(f"a date-time column takes datetime, date or str, not {type(value).__name__}")

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | str | None:
        if not isinstance(value, str):
            return value  # type: ignore[no-any-return]
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value


class LegacyDate(TypeDecorator[date | str]):
    """A date stored as text (`1948-12-08`, sometimes with a midnight time); reads `date`."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, datetime):
            value = value.date()
        if isinstance(value, date):
            return value.isoformat()
        raise TypeError(f"a date column takes date or str, not {type(value).__name__}")

    def process_result_value(self, value: Any, dialect: Dialect) -> date | str | None:
        if not isinstance(value, str):
            return value  # type: ignore[no-any-return]
        try:
            return datetime.fromisoformat(value).date()
        except ValueError:
            return value
