"""Failures the gate raises inside workflow code.

They are `ApplicationError`s, so an uncaught one fails the workflow with a clear type and message
(rather than failing the workflow task and retrying forever), and a workflow can catch them to
compensate or escalate.
"""

from __future__ import annotations

from typing import Any

from temporalio.exceptions import ApplicationError


class ActionError(ApplicationError):
    error_type = "ActionError"

    def __init__(self, message: str, *, action: str, step: int, **details: Any) -> None:
        super().__init__(
            message,
            {"action": action, "step": step, **details},
            type=self.error_type,
            non_retryable=True,
        )
        self.action = action
        self.step = step


class UnknownActionError(ActionError):
    """No connector on this worker declares the action."""

    error_type = "UnknownAction"


class InvalidArgumentsError(ActionError):
    """The arguments do not match the action's input model; nothing ran."""

    error_type = "InvalidArguments"


class ActionDeniedError(ActionError):
    """Policy refused the call; nothing ran."""

    error_type = "PolicyDenied"


class ActionFailedError(ActionError):
    """The action ran and failed for good (non-retryable, auth, input, retries or time exhausted)."""

    error_type = "ActionFailed"

    def __init__(self, message: str, *, action: str, step: int, kind: str, **details: Any) -> None:
        super().__init__(message, action=action, step=step, kind=kind, **details)
        self.kind = kind


class ActionSkippedError(ActionFailedError):
    """The action failed past its retry budget and a person chose "skip" (or the escalation's
    deadline passed with `on_timeout = "skip"`): there is no result, and the workflow may go on
    without it. Whether a write reached the legacy system before the failure is not known here:
    its idempotency key is in the audit trail, and a later retry with the same key never doubles it.

    A subclass of `ActionFailedError`, so code written before escalation existed still handles it
    as a failure; catch it first to go on without the result. Uncaught, it fails the workflow with
    type `ActionSkipped`, never silently."""

    error_type = "ActionSkipped"

    def __init__(
        self, message: str, *, action: str, step: int, kind: str, skipped_by: str, reason: str
    ) -> None:
        super().__init__(message, action=action, step=step, kind=kind, skipped_by=skipped_by, reason=reason)
        self.skipped_by = skipped_by
        self.reason = reason


class ActionRejectedError(ActionError):
    """A person rejected the call, or nobody approved it in time and the policy says reject.

    `reason` goes back to the caller (and, for the agent, back to the model)."""

    error_type = "ApprovalRejected"

    def __init__(self, message: str, *, action: str, step: int, reason: str, rejected_by: str) -> None:
        super().__init__(message, action=action, step=step, reason=reason, rejected_by=rejected_by)
        self.reason = reason
        self.rejected_by = rejected_by


class ApprovalTimedOutError(ApplicationError):
    """Nobody answered in time and the policy says fail: the workflow fails with this."""

    def __init__(self, message: str, *, action: str, step: int, request_id: str) -> None:
        super().__init__(
            message,
            {"action": action, "step": step, "request_id": request_id},
            type="ApprovalTimedOut",
            non_retryable=True,
        )
