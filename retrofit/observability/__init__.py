"""Tracing (OpenTelemetry through Temporal's interceptor), Prometheus metrics (on the Temporal
runtime's endpoint) and structured JSON logs, each configured from settings and off by default."""

from retrofit.observability.logs import JsonFormatter, configure_logging
from retrofit.observability.metrics import record_action, record_llm_call, telemetry_runtime
from retrofit.observability.tracing import configure_tracing, shutdown_tracing, tracing_interceptor
from retrofit.settings import RetrofitSettings


def configure_observability(settings: RetrofitSettings) -> None:
    """Logs and trace export for a long-running process (worker, dev stack); metrics start with
    the first client (`retrofit.worker.connect`), whose runtime serves them."""
    configure_logging(settings)
    configure_tracing(settings)


__all__ = [
    "JsonFormatter",
    "configure_logging",
    "configure_observability",
    "configure_tracing",
    "record_action",
    "record_llm_call",
    "shutdown_tracing",
    "telemetry_runtime",
    "tracing_interceptor",
]
