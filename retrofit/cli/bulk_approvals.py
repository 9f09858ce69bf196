"""`retrofit approvals approve --all --workflow-type T`: approve, in one go, the pending requests
of one type that a person has actually seen.

Bound to what was seen, not approved blind: on a terminal every request is shown (action,
redacted arguments, full argument hash) and the person confirms the lot; non-interactively only
the request/hash pairs in a `--reviewed` file (`retrofit approvals list --json -o FILE`) are
approved — a request whose arguments changed since (another hash), or that is not in the file,
is not. Each approval carries its own assertion from the identity service and is the validated
`decide` Update, so a request someone else decided meanwhile is refused, not approved twice.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import typer
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from retrofit.cli.identity_client import IdentityClient
from retrofit.cli.output import console
from retrofit.gate.approval_models import DECIDE_UPDATE, PENDING_QUERY, ApprovalView, DecideResult
from retrofit.redaction import summarize

# Enough in flight to hide round trips, few enough not to flood a small dev server.
CONCURRENCY = 20
_TYPE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")
_HASH = re.compile(r"^[0-9a-f]{64}$")


class ReviewError(ValueError):
    """The bulk approval cannot be bound to what a person saw."""


@dataclass
class Found:
    workflows: int  # running workflows of the type
    views: list[tuple[str, ApprovalView]]  # pending approval requests (not failures)


@dataclass
class Chosen:
    approve: list[tuple[str, ApprovalView]] = field(default_factory=list)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # workflow, request, why


@dataclass
class BulkOutcome:
    approved: list[tuple[str, DecideResult]] = field(default_factory=list)
    refused: list[tuple[str, str, str]] = field(default_factory=list)  # workflow, request, why


def running_of_type(workflow_type: str) -> str:
    """The visibility query for running workflows of one type; refuses names that need quoting."""
    if not _TYPE_NAME.match(workflow_type):
        raise ValueError(f"not a workflow type name: {workflow_type!r}")
    return f'WorkflowType = "{workflow_type}" AND ExecutionStatus = "Running"'


async def pending_of_type(client: Client, workflow_type: str) -> Found:
    ids = [wf.id async for wf in client.list_workflows(running_of_type(workflow_type))]
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(workflow_id: str) -> list[tuple[str, ApprovalView]]:
        async with limit:
            try:
                views = await client.get_workflow_handle(workflow_id).query(
                    PENDING_QUERY, result_type=list[ApprovalView]
                )
            except RPCError:
                return []  # finished between listing and querying: nothing waits there any more
        return [(workflow_id, v) for v in views if v.kind == "approval"]

    found = await asyncio.gather(*(one(i) for i in ids))
    return Found(workflows=len(ids), views=[row for rows in found for row in rows])


def confirm_interactively(found: Found, workflow_type: str) -> Chosen:
    """Show every request and ask the person at the terminal to confirm them all."""
    if not found.views:
        return Chosen()
    if not sys.stdin.isatty():
        raise ReviewError(
            "--all approves only what a person has seen: run it on a terminal to review and confirm, "
            "or review `retrofit approvals list --json -o FILE` and pass --reviewed FILE"
        )
    console.print(f"{len(found.views)} pending request(s) of {workflow_type}:")
    for workflow_id, view in found.views:
        console.print(
            f"  {workflow_id} {view.request_id}: {view.action} {summarize(view.arguments, 200)}\n"
            f"    hash {view.args_hash}"
        )
    if not typer.confirm(f"Approve these {len(found.views)} request(s)?", default=False):
        raise ReviewError("not confirmed: nothing approved")
    return Chosen(approve=list(found.views))


def load_reviewed(path: Path, found: Found) -> Chosen:
    """The pending requests whose (workflow, request, hash) the reviewed file lists, exactly."""
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ReviewError(f"--reviewed {path}: {exc}") from None
    if not isinstance(rows, list):
        raise ReviewError(
            f"--reviewed {path}: expected the JSON list `retrofit approvals list --json` writes"
        )
    seen: dict[tuple[str, str], str] = {}
    for row in rows:
        if not isinstance(row, dict) or not all(
            isinstance(row.get(k), str) for k in ("workflow_id", "request_id", "args_hash")
        ):
            raise ReviewError(f"--reviewed {path}: every entry needs workflow_id, request_id and args_hash")
        if not _HASH.match(row["args_hash"]):
            raise ReviewError(
                f"--reviewed {path}: {row['workflow_id']} {row['request_id']}: args_hash must be the full "
                "64-hex hash"
            )
        seen[(row["workflow_id"], row["request_id"])] = row["args_hash"]
    chosen = Chosen()
    pending = {(wf, v.request_id): v for wf, v in found.views}
    for (workflow_id, request_id), view in pending.items():
        reviewed_hash = seen.get((workflow_id, request_id))
        if reviewed_hash is None:
            chosen.skipped.append((workflow_id, request_id, "not in the reviewed file"))
        elif reviewed_hash != view.args_hash:
            chosen.skipped.append(
                (workflow_id, request_id, "its arguments changed since they were reviewed (hash differs)")
            )
        else:
            chosen.approve.append((workflow_id, view))
    for workflow_id, request_id in seen.keys() - pending.keys():
        chosen.skipped.append((workflow_id, request_id, "no longer pending"))
    return chosen


async def approve_reviewed(
    client: Client, identity: IdentityClient, chosen: Chosen, reason: str = ""
) -> BulkOutcome:
    from retrofit.cli.approval_commands import signed_payload

    outcome = BulkOutcome()
    await identity.authorization()  # log in once (one password prompt), before fanning out
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(workflow_id: str, view: ApprovalView) -> None:
        async with limit:
            signed = await identity.answer(workflow_id, view.request_id, view.args_hash, "approve")
            payload = signed_payload(workflow_id, view, "approve", reason, signed)
            try:
                result = await client.get_workflow_handle(workflow_id).execute_update(
                    DECIDE_UPDATE, payload, result_type=DecideResult
                )
            except WorkflowUpdateFailedError as exc:
                cause = exc.cause
                why = cause.message if isinstance(cause, ApplicationError) else str(cause)
                outcome.refused.append((workflow_id, view.request_id, why))
                return
            outcome.approved.append((workflow_id, result))

    await asyncio.gather(*(one(wf, v) for wf, v in chosen.approve))
    return outcome
