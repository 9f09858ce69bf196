"""What one action attempt leaves behind besides its audit records: a span and two metrics.

The span is a child of Temporal's `RunActivity` span (the tracing interceptor makes that the
current context), so workflow -> activity -> connector call share one trace. The connector bases'
captured exchanges (already redacted for the audit trail) become span events: the HTTP, SOAP and
SQL detail of a call without instrumenting each client library.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from retrofit.observability.metrics import record_action
from retrofit.observability.tracing import TRACER_NAME
from retrofit.sdk.spec import ActionSpec

_MAX_EVENT_VALUE = 512


class ActionObservation:
    def __init__(self, span: Span, spec: ActionSpec, attempt: int) -> None:
        self.span = span
        self.outcome = "cancelled"  # unless told otherwise: the attempt ended without a result
        self._spec = spec
        self._attempt = attempt

    def succeeded(self, exchanges: Sequence[dict[str, Any]]) -> None:
        self.outcome = "succeeded"
        self._exchanges(exchanges)
        self.span.set_status(Status(StatusCode.OK))

    def failed(
        self, error_type: str, message: str, retryable: bool, exchanges: Sequence[dict[str, Any]]
    ) -> None:
        last = 0 < self._spec.retry.maximum_attempts <= self._attempt
        self.outcome = "retrying" if retryable and not last else "failed"
        self._exchanges(exchanges)
        self.span.set_attribute("retrofit.error_type", error_type)
        self.span.set_status(Status(StatusCode.ERROR, f"{error_type}: {message}"[:_MAX_EVENT_VALUE]))

    def _exchanges(self, exchanges: Sequence[dict[str, Any]]) -> None:
        for exchange in exchanges:
            self.span.add_event(
                str(exchange.get("kind", "exchange")),
                {k: _attribute(v) for k, v in exchange.items() if v is not None},
            )


@contextmanager
def observe_action(
    spec: ActionSpec, *, step: int, attempt: int, workflow_id: str
) -> Iterator[ActionObservation]:
    tracer = trace.get_tracer(TRACER_NAME)
    began = time.perf_counter()
    with tracer.start_as_current_span(
        spec.name,
        kind=SpanKind.CLIENT,
        attributes={
            "retrofit.connector": spec.connector,
            "retrofit.action": spec.name,
            "retrofit.effect": spec.effect.value,
            "retrofit.step": step,
            "retrofit.attempt": attempt,
            "retrofit.workflow_id": workflow_id,
        },
        # Failures are classified by the activity and reported through `failed`.
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        observation = ActionObservation(span, spec, attempt)
        try:
            yield observation
        finally:
            span.set_attribute("retrofit.outcome", observation.outcome)
            record_action(spec.connector, spec.name, observation.outcome, time.perf_counter() - began)


def _attribute(value: Any) -> str | int | float | bool:
    if isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= _MAX_EVENT_VALUE else text[: _MAX_EVENT_VALUE - 1] + "…"
