"""The one error tree every connector raises, and every layer above understands.

    RetrofitError
    ├── RetryableError          transient: timeouts, 429, 5xx, SOAP server faults, locked DB
    └── NonRetryableError       retrying will not help
        ├── AuthError           credentials refused (401/403, bad WS-Security token)
        └── ActionInputError    the legacy system refused the arguments (400, SOAP client fault)

Connectors raise these; `retrofit.execution.error_mapping` maps them once to Temporal's
`ApplicationError`. Workflow-side failures (unknown action, invalid arguments, policy denial,
an action that failed for good) are `ApplicationError` subclasses defined in `retrofit.gate.errors`.
"""

from __future__ import annotations

from datetime import timedelta


class RetrofitError(Exception):
    """Base of every error a connector raises on purpose."""

    retryable: bool = False

    def __init__(self, message: str, *, details: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        #: A short, already-redacted summary (e.g. a response body excerpt) for the audit trail.
        self.details = details


class RetryableError(RetrofitError):
    """A transient failure: Temporal retries the action with backoff."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: timedelta | None = None,
        details: str | None = None,
    ) -> None:
        super().__init__(message, details=details)
        #: Honoured as the next retry delay (e.g. from a `Retry-After` header).
        self.retry_after = retry_after


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
