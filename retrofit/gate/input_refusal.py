"""The two ways a workflow's input ends a run at once, each audited and non-retryable:
`refuse_start` (the start input did not decode or fit the workflow: nothing ran) and
`fail_on_invalid_value` (workflow code built an invalid model from the input)."""

from __future__ import annotations

from typing import Any, NoReturn

from pydantic import ValidationError
from temporalio import workflow

from retrofit.audit.events import Actor, ActorKind, AuditKind
from retrofit.gate.answer_identity import requests_verified, started_by
from retrofit.gate.audit_calls import record_events, workflow_event
from retrofit.gate.refusal import refusal
from retrofit.gate.workflow_input import INVALID_WORKFLOW_INPUT, validation_problems

#: At most this many problems go into the message (all of them go into the audit record).
_SHOWN = 5


async def _starter() -> dict[str, Any]:
    if not requests_verified():
        return {}
    from retrofit.gate.state import pinned_policy

    await pinned_policy()  # the keys the starter's assertion is verified with
    return {"started_by": started_by().record()}


async def _record(kind: AuditKind, suffix: str, reason: str, problems: tuple[str, ...]) -> None:
    actor = Actor(kind=ActorKind.SYSTEM, name="retrofit")
    data = {"reason": reason, "problems": list(problems), **await _starter()}
    await record_events([workflow_event(kind, suffix, actor=actor, step=None, data=data)])


def _shown(problems: tuple[str, ...]) -> str:
    more = len(problems) - _SHOWN
    return "; ".join(problems[:_SHOWN]) + (f"; and {more} more" if more > 0 else "")


async def refuse_start(problems: tuple[str, ...]) -> NoReturn:
    await _record(AuditKind.WORKFLOW_REFUSED, "input-refused", "invalid_input", problems)
    message = f"{workflow.info().workflow_type} refused its input, nothing ran: {_shown(problems)}"
    raise refusal(message, INVALID_WORKFLOW_INPUT) from None


async def fail_on_invalid_value(error: ValidationError) -> NoReturn:
    problems = validation_problems(error, prefix=error.title)
    await _record(AuditKind.WORKFLOW_FAILED, "invalid-value", "invalid_value", problems)
    message = (
        f"{workflow.info().workflow_type} stopped: a value from its input is invalid: {_shown(problems)}"
    )
    raise refusal(message, INVALID_WORKFLOW_INPUT) from None
