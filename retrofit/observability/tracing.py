"""OpenTelemetry tracing: Temporal's interceptor for workflow/activity spans, plus a span per
connector call inside the action activity.

Exporting is opt-in: with `RETROFIT_OTLP_ENDPOINT` (or the standard `OTEL_EXPORTER_OTLP_ENDPOINT` /
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) spans go over OTLP/HTTP; otherwise no provider is installed
and every span is OpenTelemetry's no-op, so the interceptor costs next to nothing.
"""

from __future__ import annotations

import os
import threading

import temporalio.client
import temporalio.worker
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from temporalio.contrib.opentelemetry import TracingInterceptor, TracingWorkflowInboundInterceptor

from retrofit.observability.log_context import LogFieldsInterceptor
from retrofit.observability.workflow_trace import RootedWorkflowInterceptor
from retrofit.settings import RetrofitSettings

TRACER_NAME = "retrofit"

_configured: TracerProvider | None = None


def otlp_traces_endpoint(settings: RetrofitSettings) -> str | None:
    """Where spans go: Retrofit's setting first, then OpenTelemetry's standard variables."""
    if settings.otlp_endpoint:
        base = settings.otlp_endpoint.rstrip("/")
        # Like OTEL_EXPORTER_OTLP_ENDPOINT, the setting names the collector; the signal path is ours.
        return base if base.endswith("/v1/traces") else f"{base}/v1/traces"
    if os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
    generic = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    return f"{generic.rstrip('/')}/v1/traces" if generic else None


def configure_tracing(settings: RetrofitSettings) -> TracerProvider | None:
    """Install the global tracer provider exporting over OTLP, once per process; None when no
    endpoint is configured (spans are no-ops)."""
    global _configured
    endpoint = otlp_traces_endpoint(settings)
    if endpoint is None:
        return None
    if _configured is None:
        # Imported only when exporting: the exporter pulls in protobuf and an HTTP stack.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        trace.set_tracer_provider(provider)
        _configured = provider
    return _configured


class RetrofitTracingInterceptor(TracingInterceptor):
    """The SDK's interceptor whose workflow side roots context-less starts in a trace of their
    own (`retrofit.observability.workflow_trace`). `always_create_workflow_spans` stays off on
    purpose: with the root every workflow span has a parent, while turning it on would make every
    context-less query (the UI polls `pending_approvals`) a trace of its own."""

    def workflow_interceptor_class(
        self, input: temporalio.worker.WorkflowInterceptorClassInput
    ) -> type[TracingWorkflowInboundInterceptor]:
        super().workflow_interceptor_class(input)  # registers the span-completing extern
        return RootedWorkflowInterceptor


def tracing_interceptor() -> TracingInterceptor:
    """Client and worker interceptor: a client-side StartWorkflow span is the parent of the
    workflow's spans, which parent its activities' spans — one trace per business request."""
    return RetrofitTracingInterceptor(trace.get_tracer(TRACER_NAME))


def client_interceptors(settings: RetrofitSettings) -> list[temporalio.client.Interceptor]:
    """What any starter (CLI, MCP, web front door, a script) puts in `Client.connect(interceptors=)`:
    tracing is configured from `settings` (export only with an endpoint) and the start, signals
    and updates carry the caller's trace context, so the workflow joins the caller's trace.
    Without an endpoint nothing is exported and the workflow roots its own trace."""
    configure_tracing(settings)
    # Workers built on the client use both: spans, and the step and action on every log line.
    return [tracing_interceptor(), LogFieldsInterceptor()]


def shutdown_tracing(wait: float | None = None) -> None:
    """Flush what is batched (on worker shutdown, at a command's exit). `wait`: give up after this
    many seconds — a CLI command must not hang on a collector that is down (the exporter retries
    for up to its timeout, 10 s by default); what is not sent by then is dropped."""
    provider = _configured
    if provider is None:
        return
    if wait is None:
        provider.shutdown()
        return
    flushing = threading.Thread(target=provider.shutdown, name="retrofit-trace-flush", daemon=True)
    flushing.start()
    flushing.join(wait)
