"""One trace per workflow, whoever started it, at a real OTLP/HTTP receiver on loopback."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator

import pytest
from temporalio import workflow
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from legacy.ledger.server import LedgerServer
from retrofit.audit.store import AuditStore
from retrofit.codec.converter import data_converter
from retrofit.observability import JsonFormatter
from retrofit.observability.workflow_trace import root_traceparent
from retrofit.settings import RetrofitSettings
from retrofit.worker import connect
from tests.identity_support import signed
from tests.production.codec_support import wait_for_request
from tests.production.otlp_receiver import OtlpReceiver, ReceivedSpan, exporting_here
from tests.production.trace_workflows import TraceChild, TraceParent, touch
from tests.support import ledger_worker

pytestmark = pytest.mark.devserver


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as received, exporting_here(received):
        yield received


# A client's calls on a running workflow are in its own trace; a query stays there (the SDK
# traces queries in the caller's trace: they change nothing), an answer is linked from it.
_CALLER_SPANS = ("StartWorkflowUpdate:", "QueryWorkflow:", "SignalWorkflow:", "HandleQuery:")


def _one_trace(spans: list[ReceivedSpan]) -> str:
    spans = [s for s in spans if not s.name.startswith(_CALLER_SPANS)]
    assert spans, "no spans received"
    found = {s.trace_id for s in spans}
    assert len(found) == 1, sorted((s.trace_id, s.name) for s in spans)
    return found.pop()


def _assert_tree(spans: list[ReceivedSpan], root_parent: str) -> None:
    """Every span hangs under another span of the trace, or under `root_parent` ("" = a root)."""
    ids = {s.span_id for s in spans}
    orphans = [s.name for s in spans if s.parent_span_id not in ids and s.parent_span_id != root_parent]
    assert not orphans, orphans


async def _clients(env: WorkflowEnvironment) -> tuple[Client, Client]:
    settings = RetrofitSettings(temporal_address=env.client.service_client.config.target_host)
    traced = await connect(settings)  # client_interceptors(settings), as every Retrofit starter
    # The Temporal UI form, `temporal workflow start`, a script without tracing: no trace context.
    untraced = await Client.connect(settings.temporal_address, data_converter=data_converter(settings))
    return traced, untraced


async def test_each_way_of_starting_gives_one_trace(
    dev_server_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str, receiver: OtlpReceiver
) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    sdk_logger = workflow.logger.base_logger
    sdk_logger.addHandler(handler)
    level, sdk_logger.level = sdk_logger.level, logging.INFO
    try:
        await _start_each_way(dev_server_env, ledger, audit_url, receiver, stream)
    finally:
        sdk_logger.removeHandler(handler)
        sdk_logger.setLevel(level)


async def _start_each_way(
    dev_server_env: WorkflowEnvironment,
    ledger: LedgerServer,
    audit_url: str,
    receiver: OtlpReceiver,
    stream: io.StringIO,
) -> None:
    traced, untraced = await _clients(dev_server_env)
    read_id, note_id = f"traced-{uuid.uuid4()}", f"untraced-{uuid.uuid4()}"
    family_traced, family_bare = f"family-{uuid.uuid4()}", f"family-bare-{uuid.uuid4()}"
    async with (
        ledger_worker(traced, ledger, audit_url) as worker,
        Worker(
            traced,
            task_queue=f"trace-{uuid.uuid4()}",
            workflows=[TraceParent, TraceChild],
            activities=[touch],
        ) as family_worker,
    ):
        # 1. A traced starter (CLI, agent CLI, MCP, web, a script using client_interceptors).
        await traced.execute_workflow(
            "SingleAction",
            {"action": "ledger.get_customer", "arguments": {"customer_id": "C-1001"}},
            id=read_id,
            task_queue=worker.task_queue,
        )
        # 2. No trace context at the start; the approval comes from a traced client (CLI, UI).
        started = await untraced.start_workflow(
            "SingleAction",
            {"action": "ledger.add_note", "arguments": {"customer_id": "C-1002", "text": "traced"}},
            id=note_id,
            task_queue=worker.task_queue,
        )
        note = traced.get_workflow_handle(note_id)
        view = await wait_for_request(note, "apr-1")
        metadata = await note.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
        await note.execute_update("decide", await signed(None, note_id, view, "alice", "approve"))
        await note.result()
        # 3. A child workflow that continues as new, from a traced and from a bare start.
        for client, family_id in ((traced, family_traced), (untraced, family_bare)):
            assert (
                await client.execute_workflow(
                    TraceParent.run, id=family_id, task_queue=family_worker.task_queue
                )
                == 1
            )
        # 4. A context-less start of a workflow that itself continues as new.
        continued = await untraced.start_workflow(
            TraceChild.run, 0, id=f"continued-{uuid.uuid4()}", task_queue=family_worker.task_queue
        )
        assert await continued.result() == 1

    receiver.flush()
    # 1: the starter's span is the one root; the workflow, activities, connector call under it.
    read_trace = _one_trace(receiver.of_workflow(read_id))
    read_spans = receiver.in_trace(read_trace)
    names = {s.name for s in read_spans}
    assert {
        "StartWorkflow:SingleAction",
        "RunWorkflow:SingleAction",
        "StartActivity:ledger.get_customer",
        "RunActivity:ledger.get_customer",
        "ledger.get_customer",
        "CompleteWorkflow:SingleAction",
    } <= names, sorted(names)
    [root] = [s for s in read_spans if not s.parent_span_id]
    assert root.name == "StartWorkflow:SingleAction"
    _assert_tree(read_spans, "")

    # 2: the workflow roots its own trace, derived from its ids; the approval is in it.
    expected = root_traceparent(note_id, started.result_run_id or "").split("-")
    note_spans = receiver.in_trace(expected[1])
    assert _one_trace(receiver.of_workflow(note_id)) == expected[1]
    names = {s.name for s in note_spans}
    assert {
        "RunWorkflow:SingleAction",
        "HandleUpdate:decide",
        "RunActivity:retrofit.audit.record_answer",
        "RunActivity:retrofit.audit.record",
        "RunActivity:ledger.add_note",
        "ledger.add_note",
    } <= names, sorted(names)
    _assert_tree(note_spans, expected[2])
    [update] = [s for s in note_spans if s.name == "HandleUpdate:decide"]
    [caller] = [
        s for s in receiver.spans if s.name == "StartWorkflowUpdate:decide" and s.trace_id != expected[1]
    ]
    assert update.links == (caller.span_id,)  # the answer's own trace links to the workflow's

    # The trace id is where ops look: the UI's details and every audit record of the workflow.
    assert f"Trace: `{expected[1]}`" in metadata.current_details
    async with await AuditStore.open(audit_url) as store:
        records = await store.for_workflow(note_id)
    assert records and {r.data.get("trace_id") for r in records} == {expected[1]}

    # 3: parent, child and the child's continued run in one trace, from either start.
    for family_id in (family_traced, family_bare):
        spans = receiver.of_workflow(family_id) + receiver.of_workflow(f"{family_id}-child")
        family_trace = _one_trace(spans)
        names = {s.name for s in receiver.in_trace(family_trace)}
        assert {
            "RunWorkflow:TraceParent",
            "StartChildWorkflow:TraceChild",
            "RunWorkflow:TraceChild",
            "RunActivity:trace_test.touch",
        } <= names, sorted(names)
        child_spans = receiver.of_workflow(f"{family_id}-child")
        runs = {s.attributes["temporalRunID"] for s in child_spans}
        assert len(runs) == 2  # the continued run is in the same trace
        # ... under the same parent as the first run (the parent's StartChildWorkflow), no link:
        # continue-as-new carries the run's context on, it does not start a new trace.
        [start_child] = [s for s in spans if s.name == "StartChildWorkflow:TraceChild"]
        child_runs = [s for s in child_spans if s.name == "RunWorkflow:TraceChild"]
        assert len(child_runs) == 2 and {s.parent_span_id for s in child_runs} == {start_child.span_id}
        # Workflow-side logs: the SDK's replay-safe logger, with the ids and the trace.
        lines = [json.loads(line) for line in stream.getvalue().splitlines()]
        mine = [x for x in lines if x.get("workflow_id") == family_id]
        [line] = [x for x in mine if x["message"].startswith("starting the child ")]
        assert line["child_runs"] == 2
        # Retrofit's own workflow-side line (log_context): the child it starts, by id.
        [started] = [x for x in mine if x["message"].startswith("starting child workflow TraceChild")]
        assert started["child_workflow_id"] == f"{family_id}-child" and started["trace_id"] == family_trace
        assert line["workflow_type"] == "TraceParent" and line["run_id"]
        assert line["trace_id"] == family_trace

    # 4: the derived root is the first run's: the continued run keeps it (its header carries it).
    first = root_traceparent(continued.id, continued.result_run_id or "").split("-")
    spans = receiver.of_workflow(continued.id)
    assert _one_trace(spans) == first[1]
    continued_runs = [s for s in spans if s.name == "RunWorkflow:TraceChild"]
    assert len({s.attributes["temporalRunID"] for s in continued_runs}) == 2
    assert {s.parent_span_id for s in continued_runs} == {first[2]}
