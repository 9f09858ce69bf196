"""The one place where exceptions from connector code become Temporal `ApplicationError`s.

Each classified error also carries what it proves about the call's effect (`delivery`, see
`retrofit.sdk.errors.Delivery`): typed errors say it themselves; a bare timeout, an answer that does
not fit the output model and an unexpected exception are `UNKNOWN` (the request may have left), a
refused connection is `NOT_SENT`. The `ApplicationError` details carry it across to the workflow,
with `outcome: "unknown"` when this attempt or an earlier one of the same call may have landed
(`"landed"` when an earlier attempt's late success is on record).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from temporalio.exceptions import ApplicationError

from retrofit.sdk.errors import (
    ActionInputError,
    AuthError,
    Delivery,
    NonRetryableError,
    RetrofitError,
    RetryableError,
)

_MAX_MESSAGE = 500


@dataclass(frozen=True)
class ClassifiedError:
    type: str
    message: str
    retryable: bool
    retry_after: timedelta | None = None
    details: str | None = None
    delivery: Delivery = Delivery.ANSWERED
    # This attempt, or an earlier attempt of the same call, may have landed (its answer was lost)
    # and nothing has reconciled it since: the workflow must say "outcome unknown".
    outcome_unknown: bool = False
    # An earlier attempt's success is on record (it answered after its attempt had timed out):
    # the write landed, whatever this attempt met.
    landed_earlier: bool = False

    @property
    def may_have_landed(self) -> bool:
        return self.delivery is Delivery.UNKNOWN

    def to_application_error(self) -> ApplicationError:
        payload: dict[str, Any] = {"delivery": self.delivery.value}
        if self.details:
            payload["details"] = self.details
        if self.landed_earlier:
            payload["outcome"] = "landed"
        elif self.outcome_unknown:
            payload["outcome"] = "unknown"
        return ApplicationError(
            self.message,
            payload,
            type=self.type,
            non_retryable=not self.retryable,
            next_retry_delay=self.retry_after,
        )


def classify(exc: BaseException) -> ClassifiedError:
    message = _short(str(exc) or type(exc).__name__)
    if isinstance(exc, RetrofitError):
        details = _short(exc.details) if exc.details else None
        delivery = exc.delivery
        if isinstance(exc, RetryableError):
            return ClassifiedError("Retryable", message, True, exc.retry_after, details, delivery)
        if isinstance(exc, AuthError):
            return ClassifiedError("AuthError", message, False, None, details, delivery)
        if isinstance(exc, ActionInputError):
            return ClassifiedError("ActionInputError", message, False, None, details, delivery)
        if isinstance(exc, NonRetryableError):
            return ClassifiedError("NonRetryable", message, False, None, details, delivery)
        return ClassifiedError("NonRetryable", message, False, None, details, delivery)
    if isinstance(exc, ValidationError):
        # The legacy system answered something that does not fit the declared output model:
        # retrying gets the same answer, so fail at once and show where it did not fit. A write
        # answered like that may well have landed.
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        text = _short(f"output does not match the model: {where}")
        return ClassifiedError("InvalidOutput", text, False, delivery=Delivery.UNKNOWN)
    if isinstance(exc, ConnectionRefusedError):
        return ClassifiedError(
            "Retryable", f"connection refused: {message}", True, delivery=Delivery.NOT_SENT
        )
    if isinstance(exc, TimeoutError):
        return ClassifiedError("Retryable", f"timed out: {message}", True, delivery=Delivery.UNKNOWN)
    # An unexpected exception is most likely a connector bug; it retries within the action's
    # bounded retry policy (transient causes heal), then surfaces. Where it struck is not known.
    return ClassifiedError(
        "UnexpectedError", f"{type(exc).__name__}: {message}", True, delivery=Delivery.UNKNOWN
    )


def _short(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"
