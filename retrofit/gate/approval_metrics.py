"""Approval metrics, recorded from workflow code (deterministic side).

`workflow.metric_meter()` is Temporal's replay-safe meter: nothing is recorded while a worker
replays history, so a request counted once is never counted again after a restart. Latency is
workflow time (request to answer), so it is the same on every worker.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow


def approval_requested(action: str) -> None:
    workflow.metric_meter().create_counter("retrofit_approvals_requested", "Approval requests raised.").add(
        1, {"action": action}
    )


def approval_resolved(action: str, outcome: str, waited: timedelta) -> None:
    """`outcome`: approved, rejected or expired."""
    meter = workflow.metric_meter()
    meter.create_counter("retrofit_approvals_resolved", "Approval requests answered or expired.").add(
        1, {"action": action, "outcome": outcome}
    )
    meter.create_histogram_float(
        "retrofit_approval_latency_seconds", "Time from approval request to its resolution."
    ).record(waited.total_seconds(), {"action": action, "outcome": outcome})
