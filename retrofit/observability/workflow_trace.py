"""The workflow's own trace: every workflow belongs to exactly one trace, whoever started it.

A start carrying trace context (a client with `client_interceptors`) puts the workflow in the
starter's trace. A start without any (the Temporal UI form, `temporal workflow start`, a client
that traces nothing) gets a root derived from the workflow id and run id: the same on every
replay and on every worker, so its activities, signals, updates and children share one trace
instead of each being a root of its own. Children and continue-as-new runs inherit the context
through the SDK's headers.

Workflow-safe: only the stdlib, `temporalio.workflow` and the SDK's interceptor.
"""

from __future__ import annotations

import hashlib
from typing import Any

from temporalio import workflow
from temporalio.contrib.opentelemetry import TracingWorkflowInboundInterceptor
from temporalio.converter import PayloadConverter

#: The SDK's header for the propagated context (TracingInterceptor.header_key).
TRACE_HEADER = "_tracer-data"


def root_traceparent(workflow_id: str, run_id: str) -> str:
    """W3C traceparent of the root of a workflow started without trace context."""
    digest = hashlib.sha256(f"retrofit-trace\0{workflow_id}\0{run_id}".encode()).hexdigest()
    return f"00-{digest[:32]}-{digest[32:48]}-01"


def _header_carrier() -> dict[str, Any] | None:
    header = workflow.info().headers.get(TRACE_HEADER)
    if header is None:
        return None
    carrier = PayloadConverter.default.from_payloads([header])[0]
    return carrier if isinstance(carrier, dict) and carrier.get("traceparent") else None


def workflow_carrier() -> dict[str, Any]:
    """The context the workflow's spans hang under: the starter's, else the derived root."""
    found = _header_carrier()
    if found is not None:
        return found
    info = workflow.info()
    return {"traceparent": root_traceparent(info.workflow_id, info.run_id)}


def workflow_trace_id() -> str:
    """The 32-hex trace id of the running workflow (for details and logs)."""
    return str(workflow_carrier()["traceparent"]).split("-")[1]


class RootedWorkflowInterceptor(TracingWorkflowInboundInterceptor):
    """The SDK's workflow interceptor with a root for context-less starts (see the module)."""

    def _load_workflow_context_carrier(self) -> dict[str, Any] | None:
        if not self._workflow_context_carrier:
            self._workflow_context_carrier = workflow_carrier()
        return self._workflow_context_carrier
