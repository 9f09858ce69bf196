"""A run in plain words, for "My runs": status, who it waits for, the agent's progress."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle

from retrofit.agent.contracts import StopReason
from retrofit.agent.stopped import stopped_result
from retrofit.gate.approval_models import PENDING_QUERY
from retrofit.identity.pin import IdentityPin
from retrofit.web.starter import verified_starter

_STOPPED_WORDS = {
    StopReason.MAX_STEPS: "stopped on budget (steps)",
    StopReason.MAX_TOKENS: "stopped on budget (tokens)",
    StopReason.MAX_COST: "stopped on budget (cost)",
    StopReason.TOO_MANY_ERRORS: "stopped after too many errors",
    StopReason.MODEL_FAILED: "stopped: the model failed",
    StopReason.INVALID_MODEL_CHOICE: "stopped: the model choice was refused",
}

# What the workflow reports as the starter when it could not verify one (never an owner).
UNVERIFIED_STARTER = "unverified"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


async def my_run_ids(client: Client, subject: str, pin: IdentityPin, limit: int = 50) -> list[str]:
    """Runs whose verified starter is `subject`. The RetrofitStartedBy search attribute (where
    registered) only narrows the candidates: a raw client can set it at start, so each candidate
    is still checked against its signed start (`verified_starter`); the most recent runs are
    candidates too (a run that never waited for approval has no attribute set)."""
    candidates: list[str] = []
    for query, most in ((f'RetrofitStartedBy = "{_escape(subject)}"', limit), ("", limit * 2)):
        try:
            async for wf in client.list_workflows(query, limit=most):
                candidates.append(wf.id)
        except Exception:
            continue  # the attribute is not registered: the recent runs still are candidates
    ids: list[str] = []
    for workflow_id in dict.fromkeys(candidates):
        if await owner_of(client.get_workflow_handle(workflow_id), pin) == subject:
            ids.append(workflow_id)
        if len(ids) >= limit:
            break
    return ids


async def owner_of(
    handle: WorkflowHandle[Any, Any], pin: IdentityPin, pending: list[dict[str, Any]] | None = None
) -> str | None:
    """The run's verified starter: from its signed start; else from what the workflow itself
    reports for a pending approval (its own verification of the same assertion)."""
    verified = await verified_starter(handle, pin)
    if verified:
        return verified
    starters = {str(p.get("started_by", "")) for p in pending or [] if p.get("started_by")}
    starters.discard(UNVERIFIED_STARTER)
    return starters.pop() if len(starters) == 1 else None


def _when(value: Any) -> str:
    """'13:02 UTC, 2026-12-07' from the request's ISO time (as the query answers it)."""
    try:
        at = datetime.fromisoformat(str(value)).astimezone(UTC)
    except ValueError:
        return str(value or "?")
    return at.strftime("%H:%M UTC, %Y-%m-%d")


async def _pending(handle: WorkflowHandle[Any, Any]) -> list[dict[str, Any]]:
    try:
        reply = await handle.query(PENDING_QUERY)
    except Exception:
        return []
    return [dict(item) for item in reply or []] if isinstance(reply, list) else []


async def _progress(handle: WorkflowHandle[Any, Any]) -> dict[str, Any] | None:
    try:
        reply = await handle.query("agent_progress")
    except Exception:
        return None
    return dict(reply) if isinstance(reply, dict) else None


async def run_view(client: Client, workflow_id: str, subject: str, pin: IdentityPin) -> dict[str, Any] | None:
    """The run in plain words, or None if it is not `subject`'s (checked by its verified starter)."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        desc = await handle.describe()
    except Exception:
        return None
    pending = await _pending(handle) if desc.status == WorkflowExecutionStatus.RUNNING else []
    if not subject or await owner_of(handle, pin, pending) != subject:
        return None
    view: dict[str, Any] = {"id": workflow_id, "type": desc.workflow_type, "result": None, "failure": ""}
    waiting = [p for p in pending if p.get("status", "pending") == "pending"]
    if desc.status == WorkflowExecutionStatus.RUNNING:
        if waiting:
            first = waiting[0]
            groups = (
                ", ".join(str(g).removeprefix("group:") for g in first.get("may_approve") or []) or "anyone"
            )
            needed = int(first.get("approvers_needed") or 1)
            got = [str(a) for a in first.get("approved_by") or []]
            count = f" ({len(got)} of {needed}: {', '.join(got)})" if needed > 1 or got else ""
            view["status"] = (
                f"waiting for approval by {groups} since {_when(first.get('requested_at'))}: "
                f"{first.get('action', '?')}{count}"
            )
        else:
            view["status"] = "running"
    elif desc.status == WorkflowExecutionStatus.COMPLETED:
        view["status"] = "done"
        try:
            view["result"] = await handle.result()
        except Exception:
            view["result"] = None
    elif desc.status == WorkflowExecutionStatus.FAILED:
        view["status"] = "failed"
        try:
            await handle.result()
        except Exception as exc:
            stopped = stopped_result(exc)
            cause = getattr(exc, "cause", None) or exc
            if stopped is not None:
                # An agent task that stopped without an answer: its result rides in the failure.
                view["status"] = _STOPPED_WORDS.get(stopped.status, f"stopped ({stopped.status.value})")
                view["result"] = stopped.model_dump(mode="json")
                view["failure"] = (stopped.detail or "")[:300]
            else:
                view["failure"] = str(cause).split("\n")[0][:300]
    else:
        view["status"] = str(desc.status.name if desc.status else "unknown").lower()
    view["progress"] = await _progress(handle)
    return view
