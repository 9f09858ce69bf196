"""One MCP tool call = one `SingleAction` workflow through the gate, started as the caller.

While the workflow waits for a person (an approval, or a failed write waiting to be resolved),
the call stays open and reports MCP progress with what it waits for and where to answer it; the
result is the action's output, redacted again at this boundary (it leaves for a client outside
the operator's walls). A rejection, an expiry, a policy denial or a failure is a tool error with
the reason in one sentence. Arguments that do not fit the action's input model are refused
before anything starts.

A client that gives up (cancels the request, or disconnects) leaves the workflow running: the
request stays answerable in the Temporal UI, as for any other workflow.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import mcp_types as types
from pydantic import ValidationError
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from retrofit.cli.identity_client import IdentityError
from retrofit.gate.approval_models import PENDING_QUERY, ApprovalStatus, ApprovalView, answerers
from retrofit.identity.starter_header import StarterHeaderInterceptor
from retrofit.mcp.serving.caller import Caller, CallerIdentity
from retrofit.redaction.boundary import redact
from retrofit.sdk.spec import ActionSpec
from retrofit.settings import RetrofitSettings

WORKFLOW_TYPE = "SingleAction"
#: How often a waiting call asks the workflow what it waits for.
POLL_SECONDS = 0.5
#: A waiting call repeats its progress this often even when nothing changed, so a client that
#: resets its request timeout on progress keeps waiting for the person.
KEEPALIVE_SECONDS = 10.0

Progress = Callable[[float, str], Awaitable[None]]


def tool_error(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=message)], is_error=True)


def waiting_message(view: ApprovalView, settings: RetrofitSettings, workflow_id: str) -> str:
    """What the caller reads while the call waits: which request, who may answer, where."""
    url = settings.workflow_url(workflow_id)
    if view.kind == "failure":
        return (
            f"{view.action} failed and waits for a person to resolve {view.request_id} "
            f"({', '.join(view.choices)}) in the Temporal UI: {url}"
        )
    return (
        f"waiting for approval {view.request_id} in the Temporal UI ({answerers(view, 'anyone but you')}; "
        f"{len(view.approved_by)}/{view.approvers_needed} approvals): {url}"
    )


class GatedCalls:
    """Starts and follows the calls of one server; `temporal` is shared, the starter per call."""

    def __init__(self, settings: RetrofitSettings, temporal: Client) -> None:
        self.settings = settings
        self.temporal = temporal

    async def call(
        self, caller: Caller, spec: ActionSpec, arguments: dict[str, Any], progress: Progress
    ) -> types.CallToolResult:
        try:
            spec.input_model.model_validate(arguments)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in exc.errors()
            )
            return tool_error(f"invalid arguments for {spec.name}, nothing ran: {problems}")
        workflow_id = f"mcp-{spec.connector}-{spec.method}-{uuid.uuid4().hex[:12]}"
        try:
            handle = await self._start(caller, spec, arguments, workflow_id)
        except IdentityError as exc:
            return tool_error(f"{spec.name} was not started: {exc}")
        except RPCError as exc:  # Temporal down or refusing: say so, not an internal error
            return tool_error(
                f"{spec.name} was not started: Temporal answered {exc.status.name}: {exc.message}"
            )
        return await self._follow(handle, spec, progress)

    async def _start(
        self, caller: Caller, spec: ActionSpec, arguments: dict[str, Any], workflow_id: str
    ) -> WorkflowHandle[Any, Any]:
        # Signed first (as `retrofit start` does): a refused bearer stops us before Temporal.
        signed = await CallerIdentity(self.settings, caller).start(workflow_id, WORKFLOW_TYPE)

        def token_for(wf_id: str, wf_type: str) -> str | None:
            return signed.assertion if (wf_id, wf_type) == (workflow_id, WORKFLOW_TYPE) else None

        config = self.temporal.config()
        config["interceptors"] = [*config["interceptors"], StarterHeaderInterceptor(token_for)]
        client = Client(**config)  # the same connection; only this start carries the assertion
        return await client.start_workflow(
            WORKFLOW_TYPE,
            # SingleActionInput's shape (workflows/ is not imported by the framework)
            {"action": spec.name, "arguments": arguments},
            id=workflow_id,
            task_queue=self.settings.task_queue,
            static_summary=f"{spec.name} called over MCP by {signed.subject}",
            static_details=(
                f"An MCP tool call ({spec.connector}__{spec.method}) by {signed.subject}; "
                "its caller may not approve it."
            ),
        )

    async def _follow(
        self, handle: WorkflowHandle[Any, Any], spec: ActionSpec, progress: Progress
    ) -> types.CallToolResult:
        result = asyncio.ensure_future(handle.result())
        reported: tuple[str, ...] = ()
        step = 0.0
        last = 0.0
        loop = asyncio.get_running_loop()
        try:
            while True:
                done, _ = await asyncio.wait({result}, timeout=POLL_SECONDS)
                if done:
                    break
                waiting = await self._waiting(handle)
                if not waiting:
                    continue
                key = tuple(waiting)
                if key != reported or loop.time() - last >= KEEPALIVE_SECONDS:
                    step += 1
                    await progress(step, " | ".join(waiting))
                    reported, last = key, loop.time()
            return self._outcome(result, spec)
        finally:
            if not result.done():
                result.cancel()  # stop following; the workflow itself keeps waiting for its person

    async def _waiting(self, handle: WorkflowHandle[Any, Any]) -> list[str]:
        try:
            views: list[ApprovalView] = await handle.query(PENDING_QUERY, result_type=list[ApprovalView])
        except Exception:
            return []  # not started yet, or finishing: the result tells
        return [
            waiting_message(v, self.settings, handle.id) for v in views if v.status is ApprovalStatus.PENDING
        ]

    def _outcome(self, result: asyncio.Future[Any], spec: ActionSpec) -> types.CallToolResult:
        try:
            value = result.result()
        except WorkflowFailureError as exc:
            return tool_error(_reason(spec, exc))
        output = value.get("output", {}) if isinstance(value, dict) else getattr(value, "output", {})
        safe = redact(output)
        return types.CallToolResult(
            content=[types.TextContent(text=json.dumps(safe, indent=2, default=str))],
            structured_content=safe,
        )


def _reason(spec: ActionSpec, exc: WorkflowFailureError) -> str:
    """The gate's own sentence (rejected by whom and why, expired, denied, failed), one line:
    no stack trace, nothing but what the workflow's failure says."""
    cause = exc.cause
    message = (cause.message if isinstance(cause, ApplicationError) else str(cause or exc)).strip()
    first = message.splitlines()[0] if message else "the workflow failed"
    return first if spec.name in first else f"{spec.name} failed: {first}"
