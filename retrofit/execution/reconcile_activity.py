"""Settle a call whose answer was lost: one activity per connector, `retrofit.reconcile.<connector>`.

The gate calls it when a write failed past its retry budget and an attempt may have landed
(before it escalates or raises, and again when a person answers). It

1. records the attempts that started and never reported (`action.attempt_lost`): the last attempt
   killed with its worker has no next attempt to find it;
2. when the trail says the outcome is open and the connector answers `lookup(idempotency_key)`,
   asks it and records the answer (`action.reconciled`); a write that landed is recorded as the
   call's `action.succeeded`, with the output the system kept, and returned in the call's view.

The lookup is not held back by the circuit breaker: it is one read, once per decision, and the
only way to learn what happened. An error from it is an "unknown", never a failure of the call.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError
from temporalio import activity

from retrofit.audit.events import AuditEvent
from retrofit.execution.action_activity import action_events, read_past_attempts
from retrofit.execution.attempt_outcomes import describe_attempts
from retrofit.execution.error_mapping import classify
from retrofit.execution.resources import WorkerResources
from retrofit.gate.contracts import ReconcileRequest, ReconcileResult, reconcile_activity_name
from retrofit.redaction import redact_with
from retrofit.sdk.lookup import LookupResult, LookupStatus
from retrofit.sdk.spec import ActionSpec, ConnectorSpec

log = logging.getLogger(__name__)

ReconcileActivity = Callable[[ReconcileRequest], Awaitable[ReconcileResult]]


def build_reconcile_activity(connector: ConnectorSpec, resources: WorkerResources) -> ReconcileActivity:
    specs = {spec.name: spec for spec in connector.actions}

    async def reconcile(request: ReconcileRequest) -> ReconcileResult:
        info = activity.info()
        if info.workflow_id is None or info.workflow_run_id is None:
            raise RuntimeError("reconciliation must be called from a workflow, through the gate")
        invocation = request.invocation
        spec = specs.get(invocation.action)
        if spec is None:
            raise RuntimeError(f"{invocation.action} is not an action of connector {connector.name!r}")
        workflow_id, run_id = info.workflow_id, info.workflow_run_id
        events = action_events(spec, invocation, workflow_id, run_id, attempt=0)
        past = await read_past_attempts(resources, workflow_id, run_id, invocation)
        lost = [events.attempt_lost(a, found_by="the reconciliation") for a in past.lost]
        if lost:
            await resources.record(lost)
        if past.succeeded is None and not past.unknown:
            return ReconcileResult(status="not_landed", detail="every attempt was refused or never sent")
        if past.succeeded is None and not request.lookup:
            # Nothing to ask and nothing learnt: the call stays "outcome unknown"; no record claims more.
            return ReconcileResult(
                status="unknown",
                detail=f"{connector.name} has no lookup",
                uncertain=describe_attempts(past.uncertain),
                attempt=past.uncertain[0][1],
            )
        asked = await _ask(resources, spec, invocation.idempotency_key) if request.lookup else None
        output = _landed_output(spec, asked)
        if past.succeeded is not None:
            # An attempt's success is on record although Temporal never got its answer (it came
            # after the attempt had timed out): the write landed, whatever a lookup says. The trail
            # keeps that output redacted, so the call's own output can only come from `lookup`.
            attempt, uncertain = past.succeeded[1], describe_attempts([past.succeeded])
            status, source = "landed", "lookup" if output is not None else "trail"
            detail = f"{uncertain} answered after its attempt had timed out"
        else:
            assert asked is not None
            attempt, uncertain = past.uncertain[0][1], describe_attempts(past.uncertain)
            source, detail = "lookup", asked.detail
            status = (
                "landed"
                if output is not None
                else "not_landed"
                if asked.status is LookupStatus.NOT_LANDED
                else "unknown"
            )
            if asked.status is LookupStatus.LANDED and output is None:
                detail = f"the looked-up output does not fit the action's model ({asked.detail})"
        recorded: list[AuditEvent] = [events.reconciled(status, detail, uncertain, request.when)]
        if output is not None:
            recorded.append(events.succeeded(output, [], None, reconciled=True))
        await resources.record(recorded)
        if output is not None and invocation.output_view == "model":
            output = redact_with(output, invocation.model_redactions)
        return ReconcileResult(
            status=status,
            output=output,
            source=source,
            detail=detail,
            uncertain=uncertain,
            attempt=max(attempt, 1),
        )

    return activity.defn(name=reconcile_activity_name(connector.name))(reconcile)


def _landed_output(spec: ActionSpec, asked: LookupResult | None) -> dict[str, Any] | None:
    """The looked-up output in the action's model, when the lookup says the write landed."""
    if asked is None or asked.status is not LookupStatus.LANDED or asked.output is None:
        return None
    try:
        return spec.output_model.model_validate(asked.output).model_dump(mode="json")
    except ValidationError as exc:
        log.warning("lookup of %s: output does not fit: %s", spec.name, classify(exc).message)
        return None


async def _ask(resources: WorkerResources, spec: ActionSpec, key: str) -> LookupResult:
    try:
        answer = await resources.connector(spec.connector).lookup(key)
        if not isinstance(answer, LookupResult):
            raise TypeError(f"lookup answered {type(answer).__name__}, not a LookupResult")
        return answer
    except Exception as exc:
        # The hook's own failure says nothing about the write: it stays unknown.
        error = classify(exc)
        log.warning("lookup of %s failed: %s", spec.connector, error.message)
        return LookupResult.unknown(f"the lookup failed: {error.message}")
