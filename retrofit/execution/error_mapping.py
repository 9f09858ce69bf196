"""The one place where exceptions from connector code become Temporal `ApplicationError`s."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pydantic import ValidationError
from temporalio.exceptions import ApplicationError

from retrofit.sdk.errors import (
    ActionInputError,
    AuthError,
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

    def to_application_error(self) -> ApplicationError:
        return ApplicationError(
            self.message,
            {"details": self.details} if self.details else None,
            type=self.type,
            non_retryable=not self.retryable,
            next_retry_delay=self.retry_after,
        )


def classify(exc: BaseException) -> ClassifiedError:
    message = _short(str(exc) or type(exc).__name__)
    if isinstance(exc, RetrofitError):
        details = _short(exc.details) if exc.details else None
        if isinstance(exc, RetryableError):
            return ClassifiedError("Retryable", message, True, exc.retry_after, details)
        if isinstance(exc, AuthError):
            return ClassifiedError("AuthError", message, False, None, details)
        if isinstance(exc, ActionInputError):
            return ClassifiedError("ActionInputError", message, False, None, details)
        if isinstance(exc, NonRetryableError):
            return ClassifiedError("NonRetryable", message, False, None, details)
        return ClassifiedError("NonRetryable", message, False, None, details)
    if isinstance(exc, ValidationError):
        # The legacy system answered something that does not fit the declared output model:
        # retrying gets the same answer, so fail at once and show where it did not fit.
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        return ClassifiedError("InvalidOutput", _short(f"output does not match the model: {where}"), False)
    if isinstance(exc, TimeoutError):
        return ClassifiedError("Retryable", f"timed out: {message}", True)
    # An unexpected exception is most likely a connector bug; it retries within the action's
    # bounded retry policy (transient causes heal), then surfaces.
    return ClassifiedError("UnexpectedError", f"{type(exc).__name__}: {message}", True)


def _short(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"
