"""Search attributes for the UI's list: upserted when the namespace has them registered (checked
at worker start, pinned into the run), and never a failed workflow task when it has not."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from legacy.ledger.server import LedgerServer
from retrofit.execution.search_attribute_check import registered_search_attributes
from retrofit.gate import search_attributes as sa
from retrofit.gate.approval_models import ApprovalView, DecideResult
from tests.conftest import VENV_BIN
from tests.identity_support import signed
from tests.support import ledger_worker
from workflows.single_action.workflow import SingleActionInput

NOTE = SingleActionInput(action="ledger.add_note", arguments={"customer_id": "C-1001", "text": "call"})
KEYS: list[SearchAttributeKey[Any]] = [sa.WAITING, sa.ACTIONS, sa.EFFECT, sa.APPROVER_GROUPS, sa.STARTED_BY]


@pytest.fixture(scope="module")
async def registered_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(VENV_BIN / "temporal"),
        dev_server_log_level="error",
        search_attributes=KEYS,
    )
    try:
        yield env
    finally:
        await env.shutdown()


async def _view(handle: WorkflowHandle[Any, Any]) -> ApprovalView:
    for _ in range(200):
        views: list[ApprovalView] = await handle.query("pending_approvals", result_type=list[ApprovalView])
        if views:
            return views[0]
        await asyncio.sleep(0.05)
    raise AssertionError("never waited")


async def _approve_and_finish(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]) -> None:
    view = await _view(handle)
    answer = await signed(env, handle.id, view, "bob", "approve")
    result = await handle.execute_update("decide", answer, result_type=DecideResult)
    assert result.approved_by == ["bob"]
    await handle.result()


async def _details(handle: WorkflowHandle[Any, Any]) -> str:
    metadata: WorkflowMetadata = await handle.query(
        "__temporal_workflow_metadata", result_type=WorkflowMetadata
    )
    return str(metadata.current_details)


async def _listed(client: Client, query: str) -> list[str]:
    return [w.id async for w in client.list_workflows(query)]


async def _eventually_listed(client: Client, query: str, workflow_id: str, present: bool) -> None:
    for _ in range(100):  # visibility is eventually consistent
        if (workflow_id in await _listed(client, query)) is present:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{workflow_id} {'not ' if present else ''}listed by {query}")


async def test_the_list_filters_what_waits_when_the_attributes_are_registered(
    registered_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str
) -> None:
    client = registered_env.client
    assert sorted(await registered_search_attributes(client)) == sorted(k.name for k in KEYS)
    async with ledger_worker(client, ledger, audit_url) as worker:
        handle = await client.start_workflow(
            "SingleAction", NOTE, id=f"sa-{uuid.uuid4().hex[:8]}", task_queue=worker.task_queue
        )
        await _view(handle)
        waiting = (
            'RetrofitWaiting = "approval" AND RetrofitActions = "ledger.add_note" '
            'AND RetrofitEffect = "WRITE" AND RetrofitStartedBy = "unverified"'
        )
        await _eventually_listed(client, waiting, handle.id, present=True)
        attributes = (await handle.describe()).typed_search_attributes
        assert attributes.get(sa.WAITING) == "approval" and attributes.get(sa.ACTIONS) == ["ledger.add_note"]
        refused = handle.execute_update  # a malformed answer first: refused, and shown
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await refused("decide", {"request_id": "apr-1", "decision": "approve"})
        cause = info.value.cause
        assert isinstance(cause, ApplicationError) and cause.type == "ApprovalRefused"
        assert cause.failure is not None and cause.failure.stack_trace == ""  # one sentence, no trace
        details = await _details(handle)
        assert "**Last refused answer** (update `decide`" in details and cause.message in details
        assert "Effect: **WRITE**" in details
        await _approve_and_finish(registered_env, handle)
        assert "`ledger.add_note` (step 1, WRITE): approved by bob" in await _details(handle)
        await _eventually_listed(client, waiting, handle.id, present=False)
        await _eventually_listed(client, 'RetrofitWaiting = "none"', handle.id, present=True)


async def test_an_unregistered_namespace_upserts_nothing_and_fails_no_workflow_task(
    dev_server_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str
) -> None:
    client = dev_server_env.client
    assert await registered_search_attributes(client) == []  # the control: nothing registered
    async with ledger_worker(client, ledger, audit_url) as worker:
        handle = await client.start_workflow(
            "SingleAction", NOTE, id=f"sa-{uuid.uuid4().hex[:8]}", task_queue=worker.task_queue
        )
        await _approve_and_finish(dev_server_env, handle)
    history = await handle.fetch_history()
    kinds = {e.WhichOneof("attributes") for e in history.events}
    assert "workflow_task_failed_event_attributes" not in kinds
    upserted = {
        name
        for e in history.events
        if e.HasField("upsert_workflow_search_attributes_event_attributes")
        for name in e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
    }
    assert not {n for n in upserted if n.startswith("Retrofit")}, upserted  # (the SDK's own may be there)
    assert (await handle.describe()).typed_search_attributes.get(sa.WAITING) is None
