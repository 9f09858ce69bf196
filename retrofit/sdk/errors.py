"""The one error tree every connector raises, and every layer above understands.

    RetrofitError
    ├── RetryableError          transient: timeouts, 429, 5xx, SOAP server faults, locked DB
    │   ├── NotSentError        proven never to have reached the system (refused, DNS, connect timeout)
    │   └── OutcomeUnknownError the request left and its answer was lost (read timeout, dropped or
    │                           reset connection): a write may have landed
    └── NonRetryableError       retrying will not help
        ├── AuthError           credentials refused (401/403, bad WS-Security token)
        └── ActionInputError    the legacy system refused the arguments (400, SOAP client fault)

Every error also says what it proves about the call's effect (`delivery`): `NOT_SENT` (nothing
reached the system), `ANSWERED` (the system answered; its answer says what happened) or `UNKNOWN`
(the write may have landed). A plain `RetryableError` that does not say is `UNKNOWN`: a framework
that does not know must not claim "nothing happened".

Connectors raise these; `retrofit.execution.error_mapping` maps them once to Temporal's
`ApplicationError`. Workflow-side failures (unknown action, invalid arguments, policy denial,
an action that failed for good) are `ApplicationError` subclasses defined in `retrofit.gate.errors`.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum


class Delivery(StrEnum):
    """What a failed attempt proves about its effect on the legacy system."""

    NOT_SENT = "not_sent"  # the request never reached the system: nothing happened
    ANSWERED = "answered"  # the system answered (an error status, a fault): its answer says what happened
    UNKNOWN = "unknown"  # the request may have reached the system and its answer was lost


class RetrofitError(Exception):
    """Base of every error a connector raises on purpose."""

    retryable: bool = False
    #: What this kind of error proves about the effect, unless the raiser says (`delivery=`).
    default_delivery: Delivery = Delivery.ANSWERED

    def __init__(self, message: str, *, details: str | None = None, delivery: Delivery | None = None) -> None:
        super().__init__(message)
        self.message = message
        #: A short, already-redacted summary (e.g. a response body excerpt) for the audit trail.
        self.details = details
        self.delivery = delivery or self.default_delivery


class RetryableError(RetrofitError):
    """A transient failure: Temporal retries the action with backoff."""

    retryable = True
    # A transient failure that does not say may have happened after the request left.
    default_delivery = Delivery.UNKNOWN

    def __init__(
        self,
        message: str,
        *,
        retry_after: timedelta | None = None,
        details: str | None = None,
        delivery: Delivery | None = None,
    ) -> None:
        super().__init__(message, details=details, delivery=delivery)
        #: Honoured as the next retry delay (e.g. from a `Retry-After` header).
        self.retry_after = retry_after


class NotSentError(RetryableError):
    """Transient, and proven never to have reached the system (connection refused, DNS, connect
    timeout, an exhausted local pool): a write did not land."""

    default_delivery = Delivery.NOT_SENT


class OutcomeUnknownError(RetryableError):
    """The request left and its answer was lost (read timeout, connection dropped or reset after
    sending): a write may have landed. Retried with the same idempotency key; shown as unknown."""

    default_delivery = Delivery.UNKNOWN


class NonRetryableError(RetrofitError):
    """A failure that retrying cannot fix: the workflow sees it at once."""


class AuthError(NonRetryableError):
    """The legacy system refused our credentials or permissions."""


class ActionInputError(NonRetryableError):
    """The legacy system refused the arguments themselves."""


class PluginError(Exception):
    """A connector plugin is malformed; raised when plugins load, naming the plugin."""

    def __init__(self, plugin: str, problem: str) -> None:
        super().__init__(f"connector plugin {plugin!r}: {problem}")
        self.plugin = plugin
        self.problem = problem
