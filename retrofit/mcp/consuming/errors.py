"""Typed failures of a call to an external MCP tool, in Retrofit's one error tree.

    NonRetryableError
    ├── SchemaDriftError     the live tool is not the one the operator locked (schema changed, tool gone)
    ├── ToolReportedError    the tool answered `isError: true`
    └── ToolAnswerRefused    the answer is too large or not usable
    AuthError
    └── CredentialMissing    a named credential is not set in the worker's environment

Unreachable servers and timeouts are `NotSentError` / `OutcomeUnknownError` (retryable), raised
by `retrofit.mcp.consuming.calls`, so the circuit breaker and Temporal's retries apply.
"""

from __future__ import annotations

from retrofit.sdk.errors import AuthError, Delivery, NonRetryableError


class SchemaDriftError(NonRetryableError):
    """Refused before calling: nothing reached the tool."""

    default_delivery = Delivery.NOT_SENT


class ToolReportedError(NonRetryableError):
    """The tool ran and said it failed."""


class ToolAnswerRefused(NonRetryableError):
    """The tool answered something Retrofit will not pass on (it may have acted)."""

    default_delivery = Delivery.UNKNOWN


class CredentialMissing(AuthError):
    default_delivery = Delivery.NOT_SENT
