"""`Retry-After`, read once for every protocol: REST and SOAP connectors and the model client."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> timedelta | None:
    """`Retry-After` as delta-seconds or as an HTTP-date (RFC 9110 §10.2.3 allows both).

    None when absent or unreadable, so the action's retry policy decides the delay instead; a date
    in the past means "now".
    """
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP-dates are GMT by definition
        when = when.replace(tzinfo=UTC)
    return max(when - (now or datetime.now(UTC)), timedelta(0))
