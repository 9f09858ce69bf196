"""The activity through which workflow code appends audit events it decided itself."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from temporalio import activity

from retrofit.execution.resources import WorkerResources
from retrofit.gate.contracts import AUDIT_ACTIVITY, AuditBatch


def build_audit_activity(resources: WorkerResources) -> Callable[[AuditBatch], Awaitable[int]]:
    @activity.defn(name=AUDIT_ACTIVITY)
    async def record(batch: AuditBatch) -> int:
        return await resources.record(batch.events)

    return record
