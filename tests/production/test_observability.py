"""Tracing, metrics and structured logs, on the real dev server where Temporal is involved."""

from __future__ import annotations

import io
import json
import logging
import re
import socket
import uuid
from collections.abc import Iterator

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio import activity
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from legacy.ledger.server import LedgerServer
from retrofit.observability import JsonFormatter, record_llm_call
from retrofit.sdk.context import running_call
from retrofit.settings import RetrofitSettings
from retrofit.worker import connect
from tests.identity_support import signed
from tests.production.codec_support import wait_for_request
from tests.support import ledger_worker


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)  # once per process: OpenTelemetry keeps the first
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.clear()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _sample(scrape: str, name: str, **labels: str) -> float:
    """The sum of `name` samples whose labels include `labels`."""
    total, seen = 0.0, False
    for line in scrape.splitlines():
        match = re.match(rf"^{re.escape(name)}\{{(.*)\}} (\S+)$", line)
        if match and all(f'{k}="{v}"' in match.group(1) for k, v in labels.items()):
            total += float(match.group(2))
            seen = True
    assert seen, f"no {name} with {labels} in the scrape"
    return total


@pytest.mark.devserver
async def test_one_trace_from_start_to_connector_call_and_metrics_on_one_endpoint(
    dev_server_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str, spans: InMemorySpanExporter
) -> None:
    port = _free_port()
    settings = RetrofitSettings(
        temporal_address=dev_server_env.client.service_client.config.target_host,
        metrics_port=port,
        metrics_host="127.0.0.1",
    )
    client = await connect(settings, serve_metrics=True)  # as a worker process builds it
    spans.clear()
    read_id, note_id = f"traced-{uuid.uuid4()}", f"metered-{uuid.uuid4()}"
    async with ledger_worker(client, ledger, audit_url) as worker:
        await client.execute_workflow(
            "SingleAction",
            {"action": "ledger.get_customer", "arguments": {"customer_id": "C-1001"}},
            id=read_id,
            task_queue=worker.task_queue,
        )
        note = await client.start_workflow(
            "SingleAction",
            {"action": "ledger.add_note", "arguments": {"customer_id": "C-1002", "text": "metrics"}},
            id=note_id,
            task_queue=worker.task_queue,
        )
        view = await wait_for_request(note, "apr-1")
        await note.execute_update("decide", await signed(None, note_id, view, "alice", "approve"))
        await note.result()
        record_llm_call("gpt-test", 120, 30, 0.0042, cache_hit=False)

    # Tracing: client start -> workflow -> activity -> connector call, one trace.
    finished: list[ReadableSpan] = list(spans.get_finished_spans())
    by_name = {
        s.name: s for s in finished if s.attributes and s.attributes.get("temporalWorkflowID") == read_id
    }
    connector = [
        s
        for s in finished
        if s.name == "ledger.get_customer"
        and s.attributes
        and s.attributes.get("retrofit.workflow_id") == read_id
    ]
    assert {
        "StartWorkflow:SingleAction",
        "RunWorkflow:SingleAction",
        "RunActivity:ledger.get_customer",
    } <= set(by_name), sorted(by_name)
    [call] = connector
    run_activity = by_name["RunActivity:ledger.get_customer"]
    trace_ids = {s.context.trace_id for s in (*by_name.values(), call)}
    assert len(trace_ids) == 1
    assert call.parent is not None and call.parent.span_id == run_activity.context.span_id
    assert call.attributes is not None
    assert call.attributes["retrofit.connector"] == "ledger"
    assert call.attributes["retrofit.outcome"] == "succeeded"
    assert call.events and call.events[0].attributes  # the REST exchange, as captured for the audit trail
    assert "GET" in str(dict(call.events[0].attributes))

    # Metrics: Temporal's and Retrofit's on one scrape target.
    async with httpx.AsyncClient(timeout=10) as http:
        scrape = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    assert _sample(scrape, "retrofit_actions_total", connector="ledger", outcome="succeeded") >= 2
    assert _sample(scrape, "retrofit_action_duration_seconds_count", action="ledger.get_customer") >= 1
    assert _sample(scrape, "retrofit_approvals_requested_total", action="ledger.add_note") == 1
    assert (
        _sample(scrape, "retrofit_approvals_resolved_total", action="ledger.add_note", outcome="approved")
        == 1
    )
    assert _sample(scrape, "retrofit_approval_latency_seconds_count", action="ledger.add_note") == 1
    assert _sample(scrape, "retrofit_llm_tokens_total", model="gpt-test", kind="prompt") == 120
    assert _sample(scrape, "retrofit_llm_cost_usd_sum", model="gpt-test") == pytest.approx(0.0042)
    assert (
        "temporal_activity_execution_latency" in scrape and "temporal_workflow_completed" in scrape
    )  # the SDK's own


def _json_lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_json_logs_carry_workflow_activity_and_step() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("retrofit.test.json")
    sdk_logger = activity.logger.base_logger
    sdk_level = sdk_logger.level
    for each in (logger, sdk_logger):
        each.addHandler(handler)
        each.setLevel(logging.INFO)
    logger.propagate = False

    async def action_like() -> None:
        logger.info("outside an action", extra={"customer_count": 3})
        with running_call("ledger.get_customer", "wf-1#4", workflow_id="wf-1", run_id="run-1", step=4):
            try:
                raise ValueError("boom")
            except ValueError:
                logger.exception("connector failed")
        activity.logger.info("from the SDK logger")

    env = ActivityEnvironment()
    env.info = env.info.__class__(**{**env.info.__dict__, "workflow_id": "wf-1", "workflow_run_id": "run-1"})
    try:
        await env.run(action_like)
        logger.info("no context at all")
    finally:
        for each in (logger, sdk_logger):
            each.removeHandler(handler)
        sdk_logger.setLevel(sdk_level)

    plain, failed, sdk, bare = _json_lines(stream)
    assert plain["message"] == "outside an action" and plain["level"] == "INFO"
    assert plain["workflow_id"] == "wf-1" and plain["run_id"] == "run-1" and plain["customer_count"] == 3
    assert plain["activity"] == env.info.activity_type and "step" not in plain
    assert failed["step"] == 4 and failed["action"] == "ledger.get_customer"
    assert "ValueError: boom" in str(failed["exception"])
    assert sdk["workflow_id"] == "wf-1" and sdk["activity_id"] == env.info.activity_id
    assert "temporal_activity" not in sdk
    assert set(bare) == {"ts", "level", "logger", "message"}
