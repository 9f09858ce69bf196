"""The trace id on audit records: ops go from a record (or a waiting approval) to its trace.

Stamped by the audit activities from the context the tracing interceptor gave the activity,
which is the workflow's trace (`workflow_trace`), in `data["trace_id"]`: inside the hashed
payload, so it is as tamper-evident as the rest of the record, and no schema change.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry import trace

from retrofit.audit.events import AuditEvent

TRACE_ID_KEY = "trace_id"


def current_trace_id() -> str | None:
    """32 hex digits, or None outside any trace."""
    context = trace.get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None


def with_trace_id(events: Sequence[AuditEvent]) -> list[AuditEvent]:
    trace_id = current_trace_id()
    if trace_id is None:
        return list(events)
    return [
        e if TRACE_ID_KEY in e.data else e.model_copy(update={"data": {**e.data, TRACE_ID_KEY: trace_id}})
        for e in events
    ]
