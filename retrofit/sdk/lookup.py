"""What a legacy system says about a write it may or may not have applied: the answer of a
connector's optional `lookup(idempotency_key)` hook.

When an attempt's answer was lost (connection dropped after sending, read timeout, worker killed
mid-call), the framework asks the connector before it tells anyone what happened:

    LANDED      the system applied the write under this key; `output` is the action's output as
                the system recorded it (validated against the action's output model)
    NOT_LANDED  the system has no write under this key: nothing happened (so far)
    UNKNOWN     the system cannot tell (no lookup, lookup failed, record expired)

Pure pydantic: safe in workflow code.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class LookupStatus(StrEnum):
    LANDED = "landed"
    NOT_LANDED = "not_landed"
    UNKNOWN = "unknown"


class LookupResult(BaseModel):
    status: LookupStatus
    # With LANDED: the output of the write as the legacy system answered it (JSON form).
    output: dict[str, Any] | None = None
    # Why, in a few words (no secrets, no PII: it goes to the audit trail).
    detail: str = Field(default="", max_length=500)

    @classmethod
    def landed(cls, output: dict[str, Any], detail: str = "") -> LookupResult:
        return cls(status=LookupStatus.LANDED, output=output, detail=detail[:500])

    @classmethod
    def not_landed(cls, detail: str = "") -> LookupResult:
        return cls(status=LookupStatus.NOT_LANDED, detail=detail[:500])

    @classmethod
    def unknown(cls, detail: str = "") -> LookupResult:
        return cls(status=LookupStatus.UNKNOWN, detail=detail[:500])
