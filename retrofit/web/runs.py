"""A run in plain words, for "My runs": status, who it waits for, the agent's progress."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle

from retrofit.gate.approval_models import PENDING_QUERY


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


async def my_run_ids(client: Client, subject: str, limit: int = 50) -> list[str]:
    """Runs whose verified starter is `subject`: by the RetrofitStartedBy search attribute; where it
    is not registered, none are listed (we cannot tell whose they are without it)."""
    ids: list[str] = []
    try:
        async for wf in client.list_workflows(f'RetrofitStartedBy = "{_escape(subject)}"', limit=limit):
            ids.append(wf.id)
    except Exception:
        return []
    return ids


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


async def run_view(client: Client, workflow_id: str, subject: str) -> dict[str, Any] | None:
    """The run in plain words, or None if it is not `subject`'s (checked by its verified starter)."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        desc = await handle.describe()
    except Exception:
        return None
    started = desc.search_attributes.get("RetrofitStartedBy") if desc.search_attributes else None
    pending = await _pending(handle) if desc.status == WorkflowExecutionStatus.RUNNING else []
    starters = {str(p.get("started_by", "")) for p in pending if p.get("started_by")}
    owner = (str(next(iter(started))) if started else None) or (
        starters.pop() if len(starters) == 1 else None
    )
    if owner != subject:
        return None
    view: dict[str, Any] = {"id": workflow_id, "type": desc.workflow_type, "result": None, "failure": ""}
    waiting = [p for p in pending if p.get("status", "pending") == "pending"]
    if desc.status == WorkflowExecutionStatus.RUNNING:
        if waiting:
            first = waiting[0]
            groups = (
                ", ".join(str(g).removeprefix("group:") for g in first.get("may_approve") or []) or "anyone"
            )
            view["status"] = (
                f"waiting for approval by {groups} since {first.get('requested_at', '?')}: "
                f"{first.get('action', '?')}"
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
            cause = getattr(exc, "cause", None) or exc
            if getattr(cause, "type", "") == "AgentStopped":
                view["status"] = "stopped on budget"
            view["failure"] = str(cause).split("\n")[0][:300]
    else:
        view["status"] = str(desc.status.name if desc.status else "unknown").lower()
    view["progress"] = await _progress(handle)
    return view
