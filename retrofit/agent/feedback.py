"""What the model is told when the gate refuses or a call fails: one mapping, in words it can act on.

Pure: the agent workflow calls it with the gate's typed errors.
"""

from __future__ import annotations

from typing import Any

from temporalio.exceptions import ApplicationError

from retrofit.agent.contracts import ToolOutcome
from retrofit.gate.errors import (
    ActionDeniedError,
    ActionError,
    ActionRejectedError,
    ActionSkippedError,
    InvalidArgumentsError,
    UnknownActionError,
)


def gate_feedback(exc: ActionError) -> tuple[ToolOutcome, str, dict[str, Any]]:
    """(outcome, tool-output status, payload) for a gate error. Order matters: a skipped action is
    also a failed one."""
    if isinstance(exc, InvalidArgumentsError):
        problems = _detail(exc, "errors") or [exc.message]
        return (
            ToolOutcome.INVALID,
            "invalid_arguments",
            {"error": "the arguments do not match the tool's schema; nothing ran", "problems": problems},
        )
    if isinstance(exc, ActionDeniedError):
        return ToolOutcome.DENIED, "denied", {"error": exc.message}
    if isinstance(exc, ActionRejectedError):
        return (
            ToolOutcome.REJECTED,
            "rejected",
            {"error": "a person rejected this call; it did not run. Do not repeat it.", "reason": exc.reason},
        )
    if isinstance(exc, ActionSkippedError):
        return (
            ToolOutcome.FAILED,
            "skipped",
            {
                "error": "the action kept failing and a person chose to skip it; do not repeat it",
                "detail": exc.message,
            },
        )
    if isinstance(exc, UnknownActionError):  # the worker lost the action between two turns
        return ToolOutcome.NOT_ALLOWED, "not_allowed", {"error": exc.message}
    return ToolOutcome.FAILED, "failed", {"error": exc.message}


def _detail(exc: ApplicationError, key: str) -> Any:
    details = exc.details[0] if exc.details else None
    return details.get(key) if isinstance(details, dict) else None
