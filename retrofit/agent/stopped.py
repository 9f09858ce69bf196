"""An agent task's result, whether it answered (a completed workflow) or stopped (a failed one).

A task that stopped on a budget, on errors or on its model fails its workflow with a non-retryable
`ApplicationError(type="AgentStopped")` whose first detail is the `AgentTaskResult` (as JSON), so
the Temporal UI shows it as not successful. Hosts (CLI, evals, demo, web) read the result back here.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError

from retrofit.agent.contracts import AGENT_STOPPED, AgentTaskResult

__all__ = ["AGENT_STOPPED", "agent_task_result", "stopped_result"]


def stopped_result(exc: BaseException) -> AgentTaskResult | None:
    """The result carried by an `AgentStopped` failure (the client's error or its cause), else None."""
    error: BaseException | None = exc.cause if isinstance(exc, WorkflowFailureError) else exc
    if not isinstance(error, ApplicationError) or error.type != AGENT_STOPPED or not error.details:
        return None
    try:
        return AgentTaskResult.model_validate(error.details[0])
    except ValidationError:
        return None


async def agent_task_result(handle: WorkflowHandle[Any, Any]) -> AgentTaskResult:
    """Wait for the task's end: its result when it answered or stopped; other failures raise."""
    try:
        value = await handle.result()
    except WorkflowFailureError as exc:
        result = stopped_result(exc)
        if result is None:
            raise
        return result
    return value if isinstance(value, AgentTaskResult) else AgentTaskResult.model_validate(value)
