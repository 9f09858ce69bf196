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
from retrofit.gate.workflow_input import INVALID_WORKFLOW_INPUT

#: At most this many problems go into the message (all of them go into the audit record).
_SHOWN = 5


async def _starter() -> dict[str, Any]:
    if not requests_verified():
        return {}
    from retrofit.gate.state import pinned_policy

    await pinned_policy()  # the keys the starter's assertion is verified with
    return {"started_by": started_by().record()}


async def refuse_start(problems: tuple[str, ...]) -> NoReturn:
    info = workflow.info()
    await record_events(
        [
            workflow_event(
                AuditKind.WORKFLOW_REFUSED,
                "input-refused",
                actor=Actor(kind=ActorKind.SYSTEM, name="retrofit"),
                step=None,
                data={"reason": "invalid_input", "problems": list(problems), **await _starter()},
            )
        ]
    )
    shown = "; ".join(problems[:_SHOWN]) + (
        f"; and {len(problems) - _SHOWN} more" if len(problems) > _SHOWN else ""
    )
    raise refusal(
        f"{info.workflow_type} refused its input, nothing ran: {shown}", INVALID_WORKFLOW_INPUT
    ) from None


async def fail_on_invalid_value(error: ValidationError) -> NoReturn:
    info = workflow.info()
    problems = [
        f"{error.title}.{'.'.join(map(str, e['loc']))}: {e['msg']}"
        if e["loc"]
        else f"{error.title}: {e['msg']}"
        for e in error.errors(include_url=False, include_input=False)
    ]
    await record_events(
        [
            workflow_event(
                AuditKind.WORKFLOW_FAILED,
                "invalid-value",
                actor=Actor(kind=ActorKind.SYSTEM, name="retrofit"),
                step=None,
                data={"reason": "invalid_value", "problems": problems, **await _starter()},
            )
        ]
    )
    raise refusal(
        f"{info.workflow_type} stopped: a value from its input is invalid: {'; '.join(problems[:_SHOWN])}",
        INVALID_WORKFLOW_INPUT,
    ) from None
