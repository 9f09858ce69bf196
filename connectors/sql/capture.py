"""What the audit trail learns about each statement: its SQL, redacted parameters, rows and time.

The SQL text is the one the driver ran, with placeholders (`?`, `%(name)s`), so values never sit
inside it. A parameter whose name says secret (`password`, `api_key`, ... — the rule of
`retrofit.redaction`) is replaced by `[REDACTED]`; other values go through `redact` too when they
are not plain scalars. Long texts are cut and binary values reduced to their size, so one
statement cannot flood an audit record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy.engine import CursorResult

from retrofit.redaction import REDACTED, is_secret_key, redact
from retrofit.sdk import capture_exchange

_TEXT_LIMIT = 200
_SQL_LIMIT = 2000
_SCALARS = (int, float, bool, type(None))


def capture_statement(
    result: CursorResult[Any],
    *,
    rows: int,
    seconds: float,
    truncated: bool | None = None,
) -> None:
    """Attach one executed statement to the running action's audit record."""
    context = result.context
    exchange: dict[str, Any] = {
        "kind": "sql",
        "statement": _cut(context.statement, _SQL_LIMIT),
        "params": _params(context.compiled_parameters),
        "rows": rows,
        "duration_ms": round(seconds * 1000, 3),
    }
    if truncated is not None:
        exchange["truncated"] = truncated
    capture_exchange(exchange)


def capture_failure(statement: str | None, *, error: str, seconds: float) -> None:
    """Attach a statement that failed, with the Retrofit error type it was mapped to.

    No parameters here: a failed statement's values are only known positionally, without the
    names that redaction needs.
    """
    capture_exchange(
        {
            "kind": "sql",
            "statement": _cut(statement or "(none: the connection failed)", _SQL_LIMIT),
            "error": error,
            "duration_ms": round(seconds * 1000, 3),
        }
    )


def capture_replay(idempotency_key: str, action: str) -> None:
    """Note that a write was answered from the idempotency record instead of running again."""
    capture_exchange({"kind": "sql.idempotent_replay", "idempotency_key": idempotency_key, "action": action})


def _params(compiled: Sequence[Mapping[str, Any]]) -> Any:
    if len(compiled) != 1:
        return {"batch": len(compiled)}  # executemany: the count says enough
    return {name: _value(name, value) for name, value in compiled[0].items()}


@lru_cache(maxsize=4096)
def _secret_name(name: str) -> bool:
    # Bind names repeat on every call of a statement (`CustomerID_1`, `param_1`): decide once.
    return is_secret_key(name)


def _value(name: str, value: Any) -> Any:
    if _secret_name(name) and value not in (None, ""):
        return REDACTED
    if isinstance(value, str):
        return _cut(value, _TEXT_LIMIT)
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"
    return redact(value)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
