"""Truthful outcomes, workflow side: what the gate knows about a failed write's effect.

A write that failed past its retry budget either had no effect (every attempt was refused before
sending, or the system answered with a refusal) or its outcome is unknown (an attempt's answer was
lost after the request left, or its worker died mid-call). The action activity says which in the
failure's details (`outcome: "unknown"`); an activity timeout says nothing, so it counts as
unknown until the trail says otherwise.

When the outcome is unknown the gate asks the reconcile activity (`retrofit.reconcile.<connector>`,
see `retrofit.execution.reconcile_activity`) before it escalates or raises, and again when a person
answers. If the connector's `lookup` says the write landed, the call returns the output the system
kept (the trail has `action.reconciled` and `action.succeeded`); if it did not land, "not called"
is true; otherwise every record and message says "outcome unknown: the write may have landed".

Deterministic: stdlib, pydantic and `temporalio.workflow` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError

from retrofit.gate.contracts import (
    ActionInvocation,
    ReconcileRequest,
    ReconcileResult,
    reconcile_activity_name,
)
from retrofit.gate.state import action_task_queue
from retrofit.sdk.effect import Effect
from retrofit.sdk.spec import ActionSpec

#: Guards the reconcile activity: runs recorded before it replay without it.
RECONCILE_PATCH = "retrofit-truthful-outcomes-1"

OutcomeState = Literal["no_effect", "unknown", "landed"]

MAY_HAVE_LANDED = "outcome unknown: the write may have landed"


@dataclass(frozen=True)
class CallOutcome:
    """What is known about a failed call's effect on the legacy system."""

    state: OutcomeState
    output: dict[str, Any] | None = None
    attempt: int = 1
    # Where the knowledge comes from, for people: "the ledger's lookup", "attempt 1's answer was lost".
    because: str = ""

    @property
    def unknown(self) -> bool:
        return self.state == "unknown"

    @property
    def returnable(self) -> bool:
        """Landed, with the output the system kept: the call can return it."""
        return self.state == "landed" and self.output is not None

    @property
    def open(self) -> bool:
        """More can be learnt by asking again (unknown, or landed without its output)."""
        return self.state != "no_effect" and not self.returnable

    def message(self) -> str:
        if self.state == "unknown":
            return f"{MAY_HAVE_LANDED} ({self.because})" if self.because else MAY_HAVE_LANDED
        if self.state == "landed":
            return f"the write landed ({self.because})" if self.because else "the write landed"
        return f"no effect: {self.because}" if self.because else "no effect"

    def record(self) -> dict[str, Any]:
        """The keys every failure, escalation, skip and abort record carries."""
        return {"outcome": self.state, "outcome_message": self.message()}


NO_EFFECT = CallOutcome("no_effect", because="every attempt was refused or never sent")


def suspected_unknown(exc: ActivityError, spec: ActionSpec) -> bool:
    """Whether a write's failure may not be the whole story (the action activity says an attempt
    may have landed or did land, or the last attempt timed out): the trail and lookup must settle it."""
    if spec.effect is Effect.READ:
        return False
    cause = exc.cause
    if isinstance(cause, ApplicationError):
        details = cause.details[0] if cause.details else None
        return isinstance(details, dict) and details.get("outcome") in ("unknown", "landed")
    # The last attempt ran out of time (its worker may have died mid-call): only the trail knows
    # whether it reached the system.
    return isinstance(cause, TimeoutError)


async def settle(
    spec: ActionSpec,
    invocation: ActionInvocation,
    when: Literal["failed", "answered"],
) -> CallOutcome:
    """Ask the reconcile activity what the call's effect was (records lost attempts and lookups)."""
    if not workflow.patched(RECONCILE_PATCH):
        return CallOutcome("unknown")
    described = f"step {invocation.step}: reconcile {spec.name}"
    try:
        result: ReconcileResult = await workflow.execute_activity(
            reconcile_activity_name(spec.connector),
            ReconcileRequest(invocation=invocation, when=when, lookup=spec.lookup),
            result_type=ReconcileResult,
            task_queue=await action_task_queue(spec.connector),
            start_to_close_timeout=spec.timeout,
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=1),
                maximum_interval=timedelta(seconds=10),
                maximum_attempts=3,
            ),
            summary=described,
        )
    except ActivityError:
        return CallOutcome("unknown", because="the reconciliation itself failed")
    if result.uncertain.startswith("attempts "):
        lost = f"the answers of {result.uncertain} were lost"
    else:
        lost = f"{result.uncertain}'s answer was lost" if result.uncertain else "an answer was lost"
    if result.status == "landed":
        if result.source == "trail":
            # Landed by the trail's own record; without a lookup the output is not to be had here,
            # and a retry (same idempotency key) gets the system's answer again.
            return CallOutcome(
                "landed", None, result.attempt, f"{result.detail}; a retry gets its answer again"
            )
        found = f"{spec.connector}'s lookup found it after {lost}"
        return CallOutcome("landed", result.output, result.attempt, found)
    if result.status == "not_landed":
        if result.source == "lookup":
            return CallOutcome("no_effect", because=f"{spec.connector}'s lookup has no such write")
        return NO_EFFECT
    why = lost
    if result.source == "lookup" and result.detail:
        why = f"{lost}; {spec.connector}'s lookup: {result.detail}"
    elif not spec.lookup:
        why = f"{lost}; {spec.connector} has no lookup"
    return CallOutcome("unknown", because=why)
