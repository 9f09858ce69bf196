"""Prometheus metrics: Temporal's own SDK metrics and Retrofit's, on one endpoint.

Retrofit's metrics are created on the Temporal runtime's metric meter, so one scrape target
serves both (`RETROFIT_METRICS_PORT`, off by default). Metric names (counters get `_total`):

    retrofit_actions_total{connector,action,outcome}     outcome: succeeded | retrying | failed | cancelled
    retrofit_action_duration_seconds{connector,action}   one observation per attempt
    retrofit_approvals_requested_total{action}           pending = requested - resolved
    retrofit_approvals_resolved_total{action,outcome}    outcome: approved | rejected | expired | escalated
    retrofit_approval_latency_seconds{action,outcome}    request to answer, workflow time
    retrofit_llm_calls_total{model,cache_hit}
    retrofit_llm_tokens_total{model,kind}                kind: prompt | completion
    retrofit_llm_cost_usd{model}                         a histogram: _sum is the spend

Approval metrics are recorded by workflow code through `workflow.metric_meter()` (see
`retrofit.gate.approval_metrics`), which Temporal silences during replay, so a restarted worker
never counts a request twice. Pending approvals are a difference of two counters rather than a
gauge: a per-process gauge cannot be right when any worker may answer any workflow.
"""

from __future__ import annotations

from typing import Any

from temporalio.common import MetricCounter, MetricHistogramFloat, MetricMeter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from retrofit.settings import RetrofitSettings

BUCKETS: dict[str, list[float]] = {
    "retrofit_action_duration_seconds": [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    "retrofit_approval_latency_seconds": [1, 10, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 7 * 24 * 3600],
    "retrofit_llm_cost_usd": [0.0001, 0.001, 0.01, 0.05, 0.1, 0.5, 1, 5],
}

_runtimes: dict[str, Runtime] = {}
_meter: MetricMeter = MetricMeter.noop
_instruments: dict[str, Any] = {}


def metrics_address(settings: RetrofitSettings) -> str | None:
    if settings.metrics_port is None:
        return None
    host = settings.metrics_host
    return f"[{host}]:{settings.metrics_port}" if ":" in host else f"{host}:{settings.metrics_port}"


def telemetry_runtime(settings: RetrofitSettings) -> Runtime | None:
    """The Temporal runtime serving Prometheus metrics, or None (the SDK default, no metrics).

    One per bind address per process: a second client in the same process shares it rather than
    failing to bind the port again.
    """
    address = metrics_address(settings)
    if address is None:
        return None
    runtime = _runtimes.get(address)
    if runtime is None:
        runtime = Runtime(
            telemetry=TelemetryConfig(
                metrics=PrometheusConfig(
                    bind_address=address,
                    counters_total_suffix=True,
                    durations_as_seconds=True,
                    histogram_bucket_overrides=BUCKETS,
                )
            )
        )
        _runtimes[address] = runtime
        use_runtime(runtime)
    return runtime


def use_runtime(runtime: Runtime) -> None:
    """Record Retrofit's activity-side metrics on `runtime`'s meter (the one it serves)."""
    global _meter
    _meter = runtime.metric_meter
    _instruments.clear()


def meter() -> MetricMeter:
    return _meter


def _counter(name: str, description: str) -> MetricCounter:
    if name not in _instruments:
        _instruments[name] = _meter.create_counter(name, description)
    counter: MetricCounter = _instruments[name]
    return counter


def _histogram(name: str, description: str) -> MetricHistogramFloat:
    if name not in _instruments:
        _instruments[name] = _meter.create_histogram_float(name, description)
    histogram: MetricHistogramFloat = _instruments[name]
    return histogram


def record_action(connector: str, action: str, outcome: str, seconds: float) -> None:
    labels = {"connector": connector, "action": action}
    _counter("retrofit_actions", "Action executions by outcome.").add(1, {**labels, "outcome": outcome})
    _histogram("retrofit_action_duration_seconds", "Time one action attempt took.").record(seconds, labels)


def record_llm_call(
    model: str, prompt_tokens: int, completion_tokens: int, cost_usd: float, cache_hit: bool
) -> None:
    """For the LLM activity: one call's usage and cost."""
    _counter("retrofit_llm_calls", "Model calls.").add(
        1, {"model": model, "cache_hit": str(cache_hit).lower()}
    )
    tokens = _counter("retrofit_llm_tokens", "Model tokens used.")
    tokens.add(max(prompt_tokens, 0), {"model": model, "kind": "prompt"})
    tokens.add(max(completion_tokens, 0), {"model": model, "kind": "completion"})
    _histogram("retrofit_llm_cost_usd", "Cost of one model call in USD.").record(
        max(cost_usd, 0.0), {"model": model}
    )
