"""`retrofit approvals approve --all --workflow-type T`: answer every pending request of one type.

For ops clearing a queue (a batch run that waits on hundreds of writes): each answer is still the
validated `decide` Update, bound to the argument hash the workflow itself reports, so a request
whose arguments changed, or that someone else decided meanwhile, is refused — not approved blind.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from retrofit.gate.approval_models import DECIDE_UPDATE, PENDING_QUERY, ApprovalView, DecideResult

# Enough in flight to hide round trips, few enough not to flood a small dev server.
CONCURRENCY = 20
_TYPE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")


@dataclass
class BulkOutcome:
    workflows: int = 0  # running workflows of the type
    approved: list[tuple[str, DecideResult]] = field(default_factory=list)
    refused: list[tuple[str, str, str]] = field(default_factory=list)  # workflow, request, why


def running_of_type(workflow_type: str) -> str:
    """The visibility query for running workflows of one type; refuses names that need quoting."""
    if not _TYPE_NAME.match(workflow_type):
        raise ValueError(f"not a workflow type name: {workflow_type!r}")
    return f'WorkflowType = "{workflow_type}" AND ExecutionStatus = "Running"'


async def approve_every_pending(
    client: Client, workflow_type: str, approver: str, reason: str = ""
) -> BulkOutcome:
    outcome = BulkOutcome()
    ids = [wf.id async for wf in client.list_workflows(running_of_type(workflow_type))]
    outcome.workflows = len(ids)
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(workflow_id: str) -> None:
        async with limit:
            handle = client.get_workflow_handle(workflow_id)
            try:
                views = await handle.query(PENDING_QUERY, result_type=list[ApprovalView])
            except RPCError:
                return  # finished between listing and querying: nothing waits there any more
            for view in views:
                payload = {
                    "request_id": view.request_id,
                    "approver": approver,
                    "reason": reason,
                    "args_hash": view.args_hash,
                    "decision": "approve",
                }
                try:
                    result = await handle.execute_update(DECIDE_UPDATE, payload, result_type=DecideResult)
                except WorkflowUpdateFailedError as exc:
                    cause = exc.cause
                    why = cause.message if isinstance(cause, ApplicationError) else str(cause)
                    outcome.refused.append((workflow_id, view.request_id, why))
                    continue
                outcome.approved.append((workflow_id, result))

    await asyncio.gather(*(one(i) for i in ids))
    return outcome
