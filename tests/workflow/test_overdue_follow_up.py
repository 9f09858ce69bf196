"""OverdueFollowUp across SOAP (ERP), REST (CRM) and SQL (warehouse), with approvals, on the
time-skipping server against the real demo systems."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import httpx
from temporalio.testing import WorkflowEnvironment

from retrofit.gate.approval_models import ApprovalView
from tests.identity_support import signed
from tests.support import DemoSystems, audit_of, demo_worker
from workflows.overdue_follow_up.models import FollowUpInput, FollowUpResult


async def test_follow_up_reads_three_systems_and_notes_what_ops_approve(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str
) -> None:
    env = time_skipping_env
    async with demo_worker(env.client, demo_systems, audit_url) as worker:
        handle = await env.client.start_workflow(
            "OverdueFollowUp",
            FollowUpInput(max_invoices=3, warehouse_customers={"C-1003": "ERNSH", "C-1005": "LILAS"}),
            id=f"follow-up-{uuid.uuid4().hex[:8]}",
            task_queue=worker.task_queue,
            result_type=FollowUpResult,
        )
        answered: list[str] = []
        while len(answered) < 3:
            views = await handle.query("pending_approvals", result_type=list[ApprovalView])
            for view in views:
                if view.request_id in answered:
                    continue
                assert view.action == "crm.add_note"
                # Approve the first two notes; reject the third.
                decision = "approve" if len(answered) < 2 else "reject"
                await handle.execute_update(
                    "decide", await signed(None, handle.id, view, "ops", decision, reason="triage")
                )
                answered.append(view.request_id)
            await asyncio.sleep(0.05)
        result = await handle.result()

    assert result.overdue_invoices_seen >= 3
    amounts = [f.amount_due for f in result.follow_ups]
    assert amounts == sorted(amounts, reverse=True) and len(amounts) == 3
    assert [f.note for f in result.follow_ups] == ["added", "added", "rejected"]
    for follow_up in result.follow_ups:
        assert follow_up.crm_account_id == "A-2" + follow_up.customer_id.removeprefix("C-1")
    mapped = {f.customer_id: f.open_warehouse_orders for f in result.follow_ups}
    assert mapped["C-1003"] == 2  # mapped to ERNSH: two unshipped orders in Northwind
    async with httpx.AsyncClient() as http:
        effects = (await http.get(f"{demo_systems.crm.url}/_admin/effects", timeout=5)).json()
    assert sum(effects["notes"].values()) == 2

    records = await audit_of(audit_url, handle.id)
    systems = {r.action.split(".")[0] for r in records if r.action and r.kind.value == "action.succeeded"}
    assert systems == {"erp", "crm", "northwind"}
    assert Decimal(0) < result.follow_ups[0].amount_due
