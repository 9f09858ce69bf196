"""The verified starter of an AgentTask: the business user who asked is who the start assertion
names, it stays so across continue-as-new, and that person may not approve the agent's writes."""

from __future__ import annotations

import asyncio
import uuid

from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from retrofit.agent.contracts import AgentTaskInput, AgentTaskResult, Budget, ModelChoice, StopReason
from retrofit.gate.approval_models import ApprovalView
from retrofit.identity.starter_header import StarterHeaderInterceptor
from tests.identity_support import SIGNER, signed
from tests.support import DemoSystems, ScriptedModel, audit_of, demo_worker
from tests.workflow.agent_helpers import calls, say


async def test_the_asking_user_is_the_verified_starter_across_continue_as_new_and_cannot_approve(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    env = time_skipping_env
    reads = [calls(("erp__get_invoice", {"invoice_id": f"INV-1000{n}"})) for n in range(1, 7)]
    note = calls(("crm__add_note", {"account_id": "A-2005", "body": "Collections: call back."}))
    model = scripted.add(*reads, note, say("Noted."))
    now = (await env.get_current_time()).timestamp()
    config = env.client.service_client.config
    as_carol = await Client.connect(
        config.target_host,
        namespace=env.client.namespace,
        data_converter=pydantic_data_converter,
        interceptors=[
            StarterHeaderInterceptor(
                lambda wf, wft: SIGNER.start_token("carol", workflow_id=wf, workflow_type=wft, now=now)
            )
        ],
    )
    task = AgentTaskInput(
        goal="Chase the overdue invoices",
        allowed_actions=["erp.get_invoice", "crm.add_note"],
        model=ModelChoice(model=model),
        history_limit=50,
        budget=Budget(max_steps=20),
    )
    async with demo_worker(env.client, demo_systems, audit_url, llm_settings=scripted.settings()) as worker:
        handle = await as_carol.start_workflow(
            "AgentTask",
            task,
            id=f"agent-{uuid.uuid4().hex[:10]}",
            task_queue=worker.task_queue,
            result_type=AgentTaskResult,
        )
        view: ApprovalView | None = None
        for _ in range(400):
            try:
                views = await handle.query("pending_approvals", result_type=list[ApprovalView])
            except RPCError as err:
                # A query that lands while the continuation's first task is queued behind a busy
                # worker times out (seen on xdist under load): as the server's DEADLINE_EXCEEDED or
                # as the client's own RPC timeout (CANCELLED, "Timeout expired"); the next poll asks again.
                client_timeout = err.status is RPCStatusCode.CANCELLED and "Timeout expired" in err.message
                if err.status is not RPCStatusCode.DEADLINE_EXCEEDED and not client_timeout:
                    raise
                views = []
            if views:
                view = views[0]
                break
            await asyncio.sleep(0.05)
        assert view is not None and view.action == "crm.add_note"
        description = await handle.describe()
        assert description.run_id != handle.first_execution_run_id  # the note waits in a continuation
        assert view.started_by == "carol"
        metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
        assert "Started by: carol" in metadata.current_details
        try:
            await handle.execute_update("decide", await signed(None, handle.id, view, "carol", "approve"))
            raise AssertionError("the starter's own approval was accepted")
        except WorkflowUpdateFailedError as exc:
            assert isinstance(exc.cause, ApplicationError)
            assert "started this workflow" in exc.cause.message
        await handle.execute_update("decide", await signed(None, handle.id, view, "dave", "approve"))
        result = await handle.result()  # nothing else waits: time may skip now
    assert result.status is StopReason.ANSWERED and result.runs >= 2
    records = await audit_of(audit_url, handle.id)
    requested = next(r for r in records if r.kind.value == "approval.requested")
    assert requested.data["started_by"] == {"subject": "carol", "verified": True, "login": "password"}
    assert requested.run_id != records[0].run_id
    granted = next(r for r in records if r.kind.value == "approval.granted")
    assert granted.actor.name == "dave" and granted.data["requested_by"] == "carol"
