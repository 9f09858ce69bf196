"""Driving AgentTask in workflow tests: start it, answer its approvals, read what it recorded."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError

from retrofit.agent.contracts import AgentTaskInput, AgentTaskResult
from retrofit.agent.stopped import agent_task_result
from retrofit.audit.events import AuditRecord
from retrofit.gate.approval_models import ApprovalView
from retrofit.llm.scripted_server import ScriptedToolCall, ScriptedTurn
from tests.identity_support import signed


def calls(*pairs: tuple[str, dict[str, Any]]) -> ScriptedTurn:
    """A scripted model turn proposing tool calls: ("erp__get_invoice", {...}), ..."""
    return ScriptedTurn(tool_calls=[ScriptedToolCall(name=name, arguments=args) for name, args in pairs])


def say(text: str) -> ScriptedTurn:
    return ScriptedTurn(content=text)


async def start_agent(
    client: Client, task_queue: str, task: AgentTaskInput
) -> WorkflowHandle[Any, AgentTaskResult]:
    return await client.start_workflow(
        "AgentTask",
        task,
        id=f"agent-{uuid.uuid4().hex[:10]}",
        task_queue=task_queue,
        result_type=AgentTaskResult,
    )


Decide = Callable[[ApprovalView], tuple[str, str]]


def by_action(decisions: Mapping[str, str], reason: str = "reviewed") -> Decide:
    """Answer each approval by its action: approve / reject (anything unlisted is rejected)."""
    return lambda view: (decisions.get(view.action, "reject"), reason)


async def run_answering(
    handle: WorkflowHandle[Any, AgentTaskResult], decide: Decide | None = None, approver: str = "ops"
) -> tuple[AgentTaskResult, list[ApprovalView]]:
    """Wait for the result, answering every approval request with `decide` (default: none expected,
    and a request for one fails the task: its approval times out into a rejection)."""
    if decide is None:
        # Nothing to answer: let the time-skipping server skip ahead while we wait.
        return await agent_task_result(handle), []
    seen: list[ApprovalView] = []
    answered: set[str] = set()
    # Poll instead of awaiting the result: on the time-skipping server a client waiting for a
    # result lets time jump, and the approval would time out before the test answered it.
    while (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
        try:
            views = await handle.query(
                "pending_approvals", result_type=list[ApprovalView], rpc_timeout=timedelta(seconds=3)
            )
        except RPCError:
            # It finished between `describe` and the query; the time-skipping server does not
            # answer queries to closed workflows (the loop condition sees it closed next).
            continue
        for view in views:
            if view.request_id in answered:
                continue
            decision, reason = decide(view)
            payload = await signed(None, handle.id, view, approver, decision, reason=reason)
            await handle.execute_update("decide", payload)
            answered.add(view.request_id)
            seen.append(view)
        await asyncio.sleep(0.05)
    return await agent_task_result(handle), seen


def tool_messages(request_body: Mapping[str, Any]) -> list[str]:
    return [m["content"] for m in request_body["messages"] if m["role"] == "tool"]


def llm_totals(records: Sequence[AuditRecord]) -> dict[str, float]:
    """Tokens and cost summed over the recorded model decisions."""
    decisions = [r.data for r in records if r.kind.value == "llm.decision"]
    return {
        "calls": len(decisions),
        "prompt_tokens": sum(d["prompt_tokens"] for d in decisions),
        "completion_tokens": sum(d["completion_tokens"] for d in decisions),
        "cost_usd": sum(d["cost_usd"] or 0.0 for d in decisions),
    }


def as_json(content: str) -> Any:
    """The JSON inside one `<tool_output>` element."""
    body = content.split("\n", 1)[1].rsplit("\n", 1)[0]
    return json.loads(body)


def history_text(history_json: str) -> str:
    """Every payload in a history, decoded to text: what someone with the history could read."""
    texts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "data" and isinstance(value, str):
                    texts.append(base64.b64decode(value).decode("utf-8", "replace"))
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(history_json))
    return "\n".join(texts)
