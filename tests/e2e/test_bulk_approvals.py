"""`retrofit approvals approve --all --workflow-type T`: every pending request of one type, bound to
each request's argument hash, and nothing of other types."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from temporalio.testing import WorkflowEnvironment

from legacy.ledger.server import LedgerServer
from tests.reliability.processes import cli
from tests.support import ledger_effects, ledger_worker
from workflows.credit_limit_review.models import CreditReviewInput
from workflows.single_action.workflow import SingleActionInput


@pytest.mark.devserver
async def test_approve_all_of_one_workflow_type(
    dev_server_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str
) -> None:
    client = dev_server_env.client
    async with ledger_worker(client, ledger, audit_url) as worker:
        env = dict(
            os.environ,
            RETROFIT_TEMPORAL_ADDRESS=client.service_client.config.target_host,
            RETROFIT_AUDIT_DB_URL=audit_url,
            COLUMNS="200",
        )
        tag = uuid.uuid4().hex[:6]
        handles = [
            await client.start_workflow(
                "SingleAction",
                SingleActionInput(
                    action="ledger.set_credit_limit",
                    arguments={"customer_id": customer, "credit_limit": "12345.00"},
                ),
                id=f"bulk-{tag}-{customer}",
                task_queue=worker.task_queue,
            )
            for customer in ("C-1001", "C-1002", "C-1003")
        ]
        other = await client.start_workflow(
            "CreditLimitReview",
            CreditReviewInput(customer_id="C-1006"),
            id=f"bulk-{tag}-review",
            task_queue=worker.task_queue,
        )
        for handle in [*handles, other]:
            for _ in range(100):
                if await handle.query("pending_approvals"):
                    break
                await asyncio.sleep(0.1)

        code, _, err = await cli(env, "approvals", "approve", "--all", "--as", "ops")
        assert code == 1 and "--all needs --workflow-type" in err
        code, out, err = await cli(
            env, "approvals", "approve", "--all", "--workflow-type", "SingleAction", "--as", "ops"
        )
        assert code == 0, err
        assert "approved 3 request(s), refused 0, in 3 running SingleAction workflow(s)" in out
        for handle in handles:
            await asyncio.wait_for(handle.result(), timeout=30)
        assert ledger_effects(ledger)["credit_limit"] == {"C-1001": 1, "C-1002": 1, "C-1003": 1}
        assert len(await other.query("pending_approvals")) == 1  # another type: untouched
        await other.terminate("test over")
