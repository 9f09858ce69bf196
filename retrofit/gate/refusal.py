"""A refusal as the Temporal UI shows it: one sentence, no Python stack trace under it.

The SDK's failure converter fills a failure's `stack_trace` from the exception's traceback
(`DefaultFailureConverter._error_to_failure`), unless the error already carries its failure
proto, which it then copies as is. A refusal is not a bug: it carries a proto with the message
and type only, so the sender (UI, CLI, client) reads the sentence and nothing else.
"""

from __future__ import annotations

from temporalio.api.failure.v1 import ApplicationFailureInfo, Failure
from temporalio.exceptions import ApplicationError


def refusal(message: str, error_type: str) -> ApplicationError:
    """A non-retryable `ApplicationError(message, type=error_type)` that reaches the sender without
    a stack trace (raise it `from None`)."""
    error = ApplicationError(message, type=error_type, non_retryable=True)
    error._failure = Failure(
        message=message,
        application_failure_info=ApplicationFailureInfo(type=error_type, non_retryable=True),
    )
    return error
