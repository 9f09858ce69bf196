"""The business users' front door (`retrofit web`) starts a workflow in its own trace: the web
app's start is the root, the workflow and its activities under it, at a real OTLP/HTTP receiver."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from retrofit.embedded.stack import embedded_stack
from retrofit.settings import RetrofitSettings
from retrofit.web.app import build_app
from tests.production.otlp_receiver import OtlpReceiver, ReceivedSpan, exporting_here

pytestmark = pytest.mark.devserver


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as received, exporting_here(received):
        yield received


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


async def _spans_of(receiver: OtlpReceiver, workflow_id: str, expected: set[str]) -> list[ReceivedSpan]:
    for _ in range(100):
        receiver.flush()
        # The run page's queries are the web app's own traces (a query changes nothing).
        found = [s for s in receiver.of_workflow(workflow_id) if "Query" not in s.name.split(":")[0]]
        traces = {s.trace_id for s in found}
        if len(traces) == 1:
            spans = receiver.in_trace(traces.pop())
            if expected <= {s.name for s in spans}:
                return spans
        assert len(traces) <= 1, sorted((s.trace_id, s.name) for s in found)
        await asyncio.sleep(0.05)
    raise AssertionError(f"{workflow_id}: {sorted(s.name for s in receiver.of_workflow(workflow_id))}")


async def test_a_start_from_the_front_door_is_one_trace(tmp_path: Path, receiver: OtlpReceiver) -> None:
    settings = RetrofitSettings(data_dir=tmp_path / "data", audit_db_url=f"sqlite:///{tmp_path}/audit.db")
    async with embedded_stack(settings, demo=True, ephemeral=True) as stack:
        app = build_app(stack.settings)  # connects itself, as `retrofit web` does
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as alice:
            page = await alice.get("/login")
            login = {"csrf": _csrf(page.text), "login": "alice", "password": "demo-alice"}
            assert (await alice.post("/login", data=login)).status_code == 303
            form = await alice.get("/start/wf:CreditLimitReview")
            started = await alice.post(
                "/start/wf:CreditLimitReview", data={"csrf": _csrf(form.text), "customer_id": "C-1001"}
            )
            assert started.status_code == 303, started.text
        workflow_id = started.headers["location"].rsplit("/", 1)[1]
        spans = await _spans_of(
            receiver,
            workflow_id,
            {
                "StartWorkflow:CreditLimitReview",
                "RunWorkflow:CreditLimitReview",
                "RunActivity:ledger.get_customer",
                "ledger.get_customer",
            },
        )
    [root] = [s for s in spans if not s.parent_span_id]
    assert root.name == "StartWorkflow:CreditLimitReview"
    assert root.attributes["temporalWorkflowID"] == workflow_id
    ids = {s.span_id for s in spans}
    assert all(s.parent_span_id in ids for s in spans if s is not root)
