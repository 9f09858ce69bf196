"""The step and action on every log line, in activities and in workflows.

Activity side: the interceptor binds the step and action the activity serves (from its input:
an action invocation, an LLM turn, the audit events of one step) for the whole activity task, so
every line logged while it runs carries them — a connector's `httpx` line, the LLM client's, and
the SDK's own "Completing activity as failed", which it writes after the activity function
returned. The binding names the activity attempt it belongs to, so it can never label another
activity's line.

Workflow side: the SDK's replay-safe `workflow.logger` (silent while a worker replays history)
says what the workflow schedules and which answers reach it, with the same step and action; the
SDK puts the workflow's ids on each record. Names and steps only: arguments and answers stay out
of logs (they are in the audit trail, redacted).

Workflow-safe at import: the stdlib, the SDK and OpenTelemetry's API (for the trace id).
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import temporalio.client
import temporalio.worker
from temporalio import activity, workflow

from retrofit.observability.trace_ids import current_trace_id


@dataclass(frozen=True)
class LogFields:
    step: int
    action: str


@dataclass(frozen=True)
class _Bound:
    attempt_key: tuple[str | None, str, int]
    fields: LogFields | None
    trace_id: str | None  # the attempt's trace, still known after its span has ended


_bound: ContextVar[_Bound | None] = ContextVar("retrofit_log_fields", default=None)


def _attempt_key() -> tuple[str | None, str, int]:
    info = activity.info()
    return (info.workflow_run_id, info.activity_id, info.attempt)


def bind_activity_fields(fields: LogFields | None) -> None:
    """For the rest of the running activity attempt's task (not reset on return on purpose: the
    SDK logs the attempt's failure after the activity function, and its span, have ended)."""
    _bound.set(_Bound(_attempt_key(), fields, current_trace_id()))


def _current_binding() -> _Bound | None:
    bound = _bound.get()
    if bound is None or not activity.in_activity() or bound.attempt_key != _attempt_key():
        return None
    return bound


def activity_fields() -> LogFields | None:
    """The step and action of the running activity attempt, if it serves one step."""
    bound = _current_binding()
    return None if bound is None else bound.fields


def activity_trace_id() -> str | None:
    """The running activity attempt's trace id, also once its span has ended."""
    bound = _current_binding()
    return None if bound is None else bound.trace_id


def fields_of(value: Any, default_action: str) -> LogFields | None:
    """The step and action an activity or child input is about: its own `step` (and `action`),
    or those its audit event(s) share."""
    step = getattr(value, "step", None)
    if isinstance(step, int) and not isinstance(step, bool):
        action = getattr(value, "action", None)
        return LogFields(step, action if isinstance(action, str) and action else default_action)
    event = getattr(value, "event", None)
    events = getattr(value, "events", None)
    candidates = [event] if event is not None else list(events) if isinstance(events, list) else []
    found = {f for f in (fields_of(e, default_action) for e in candidates) if f is not None}
    return found.pop() if len(found) == 1 and len(candidates) > 0 else None


class LogFieldsInterceptor(temporalio.client.Interceptor, temporalio.worker.Interceptor):
    """Client interceptor (nothing to add) that workers built on the client also use."""

    def intercept_activity(
        self, next: temporalio.worker.ActivityInboundInterceptor
    ) -> temporalio.worker.ActivityInboundInterceptor:
        return _ActivityInbound(next)

    def workflow_interceptor_class(
        self, input: temporalio.worker.WorkflowInterceptorClassInput
    ) -> type[temporalio.worker.WorkflowInboundInterceptor]:
        return _WorkflowInbound


class _ActivityInbound(temporalio.worker.ActivityInboundInterceptor):
    async def execute_activity(self, input: temporalio.worker.ExecuteActivityInput) -> Any:
        # Inside the tracing interceptor's span: the attempt's trace is the current one here.
        bind_activity_fields(fields_of(input.args[0], activity.info().activity_type) if input.args else None)
        return await super().execute_activity(input)


def _log(level: int, message: str, *args: object, fields: LogFields | None = None, **extra: Any) -> None:
    if fields is not None:
        extra.update(step=fields.step, action=fields.action)
    workflow.logger.log(level, message, *args, extra=extra)


class _WorkflowInbound(temporalio.worker.WorkflowInboundInterceptor):
    def init(self, outbound: temporalio.worker.WorkflowOutboundInterceptor) -> None:
        super().init(_WorkflowOutbound(outbound))

    async def handle_signal(self, input: temporalio.worker.HandleSignalInput) -> None:
        _log(logging.INFO, "signal %s received", input.signal, signal=input.signal)
        await super().handle_signal(input)

    async def handle_update_handler(self, input: temporalio.worker.HandleUpdateInput) -> Any:
        _log(logging.INFO, "update %s received", input.update, update=input.update, update_id=input.id)
        return await super().handle_update_handler(input)


class _WorkflowOutbound(temporalio.worker.WorkflowOutboundInterceptor):
    def start_activity(self, input: temporalio.worker.StartActivityInput) -> workflow.ActivityHandle[Any]:
        fields = fields_of(input.args[0], input.activity) if input.args else None
        # Actions and model turns at INFO; the bookkeeping (audit, policy) only when debugging.
        level = logging.INFO if fields is not None and input.activity == fields.action else logging.DEBUG
        _log(level, "scheduling %s", input.activity, fields=fields, scheduled=input.activity)
        return super().start_activity(input)

    async def start_child_workflow(
        self, input: temporalio.worker.StartChildWorkflowInput
    ) -> workflow.ChildWorkflowHandle[Any, Any]:
        _log(logging.INFO, "starting child workflow %s", input.workflow, child_workflow_id=input.id)
        return await super().start_child_workflow(input)
