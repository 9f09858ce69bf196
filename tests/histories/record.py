"""Record the histories the replay tests replay: `python -m tests.histories.record`.

`python -m tests.histories.record account_onboarding` records only the AccountOnboarding history;
`... record verified` only the verified-identity CreditLimitReview (signed answers, refusals, a
verified starter). The histories recorded before verified identity are kept as they are: they
replay the pre-verification answers (`retrofit.gate.answer_identity.PATCH_ID`).

Re-record only on purpose (a deliberate, versioned workflow change): the point of the committed
histories is that a code change which breaks replay of running workflows fails CI.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from legacy.crm.server import CrmServer
from legacy.erp.server import ErpServer
from legacy.ledger.server import LedgerServer
from legacy.sqldb.database import SqlDemoDatabase
from retrofit.agent.contracts import AgentTaskInput
from retrofit.gate.approval_models import ApprovalView
from retrofit.gate.policy import allow_all
from retrofit.identity.starter_header import StarterHeaderInterceptor
from retrofit.llm.scripted_server import Script, ScriptedModelServer
from tests.identity_support import SIGNER, signed
from tests.reliability.saga_worker import NOTE_FAILS_FOR_GOOD, ONBOARDED_ACCOUNT, onboarding_worker
from tests.support import SCRIPTED_KEY, DemoSystems, ScriptedModel, demo_worker, ledger_worker
from tests.workflow.agent_helpers import calls, say
from workflows.account_onboarding.models import OnboardingInput
from workflows.credit_limit_review.models import CreditReviewInput
from workflows.overdue_follow_up.models import FollowUpInput
from workflows.single_action.workflow import SingleActionInput

HERE = Path(__file__).parent
CASES = {
    "credit_limit_review_raise": ("CreditLimitReview", CreditReviewInput(customer_id="C-1003")),
    "credit_limit_review_no_change": ("CreditLimitReview", CreditReviewInput(customer_id="C-1001")),
    "single_action_invalid": (
        "SingleAction",
        SingleActionInput(
            action="ledger.set_credit_limit", arguments={"customer_id": "C-1004", "credit_limit": -5}
        ),
    ),
    "single_action_read": (
        "SingleAction",
        SingleActionInput(action="ledger.get_customer", arguments={"customer_id": "C-1004"}),
    ),
}


async def main(only: str | None = None) -> None:
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
    )
    try:
        if only == "account_onboarding":
            with tempfile.TemporaryDirectory() as tmp:
                await record_account_onboarding(env, tmp)
            return
        if only == "agent_task":
            with tempfile.TemporaryDirectory() as tmp:
                await record_agent_task(env, tmp)
            return
        if only == "verified":
            with LedgerServer() as ledger, tempfile.TemporaryDirectory() as tmp:
                async with ledger_worker(env.client, ledger, f"sqlite:///{tmp}/audit.db") as worker:
                    await record_verified_review(env, worker.task_queue)
            return
        if only == "single_action_reconciled":
            with tempfile.TemporaryDirectory() as tmp:
                await record_reconciled(env, tmp)
            return
        with LedgerServer() as ledger, tempfile.TemporaryDirectory() as tmp:
            async with ledger_worker(env.client, ledger, f"sqlite:///{tmp}/audit.db") as worker:
                await record_approved_review(env, worker.task_queue)
                await record_verified_review(env, worker.task_queue)
            await record_overdue_follow_up(env, tmp)
            await record_account_onboarding(env, tmp)
            await record_agent_task(env, tmp)
            await record_reconciled(env, tmp)
            async with ledger_worker(
                env.client, ledger, f"sqlite:///{tmp}/audit.db", policy=allow_all()
            ) as worker:
                for name, (workflow, arg) in CASES.items():
                    handle = await env.client.start_workflow(
                        workflow, arg, id=f"record-{name}", task_queue=worker.task_queue
                    )
                    try:
                        await handle.result()
                    except Exception as exc:  # a refusal is a legitimate history to replay
                        print(f"{name}: ended with {type(exc).__name__}")
                    history = await handle.fetch_history()
                    (HERE / f"{name}.json").write_text(history.to_json())
                    print(f"recorded {name}: {len(history.events)} events")
    finally:
        await env.shutdown()


async def record_approved_review(env: WorkflowEnvironment, task_queue: str) -> None:
    """Default policy: both writes wait; one approved by Update, one by Signal, one refused."""
    handle = await env.client.start_workflow(
        "CreditLimitReview",
        CreditReviewInput(customer_id="C-1006"),
        id="record-credit_limit_review_approved",
        task_queue=task_queue,
    )

    async def wait_for(request_id: str) -> ApprovalView:
        return await _wait_for(handle, request_id)

    view = await wait_for("apr-2")
    await handle.signal("approve", {"request_id": "apr-2", "args_hash": view.args_hash, "reason": "refused"})
    await handle.execute_update(
        "decide", await signed(None, handle.id, view, "alice", "approve", reason="ok")
    )
    view = await wait_for("apr-3")
    await handle.signal("approve", await signed(None, handle.id, view, "bob", "approve", reason="ok"))
    await handle.result()
    history = await handle.fetch_history()
    (HERE / "credit_limit_review_approved.json").write_text(history.to_json())
    print(f"recorded credit_limit_review_approved: {len(history.events)} events")


async def record_reconciled(env: WorkflowEnvironment, tmp: str) -> None:
    """A write whose answer was lost (applied, then the connection dropped), then 503s past the
    retry budget: the reconciliation finds the write with the ledger's lookup (truthful outcomes)."""
    with LedgerServer() as ledger:
        plan = {"drop_next": 1, "drop_after_apply": True, "fail_next": 4, "status": 503}
        async with httpx.AsyncClient() as http:
            (await http.post(f"{ledger.url}/_admin/faults", json=plan)).raise_for_status()
        async with ledger_worker(
            env.client, ledger, f"sqlite:///{tmp}/audit-reconciled.db", policy=allow_all()
        ) as worker:
            handle = await env.client.start_workflow(
                "SingleAction",
                SingleActionInput(
                    action="ledger.set_credit_limit",
                    arguments={"customer_id": "C-1002", "credit_limit": "45000.00"},
                ),
                id="record-single_action_reconciled",
                task_queue=worker.task_queue,
            )
            await handle.result()
            history = await handle.fetch_history()
    (HERE / "single_action_reconciled.json").write_text(history.to_json())
    print(f"recorded single_action_reconciled: {len(history.events)} events")


async def _wait_for(handle: WorkflowHandle[Any, Any], request_id: str) -> ApprovalView:
    for _ in range(200):
        views: list[ApprovalView] = await handle.query("pending_approvals", result_type=list[ApprovalView])
        for view in views:
            if view.request_id == request_id:
                return view
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{request_id} never became pending")


async def record_verified_review(env: WorkflowEnvironment, task_queue: str) -> None:
    """Verified identity: a verified starter (carol) in the start header; refused answers by
    Update (unsigned, the starter's own) and Signal (forged name), then signed answers by Update
    (alice) and Signal (bob)."""
    wf_id = "record-credit_limit_review_verified"
    starter = await Client.connect(
        env.client.service_client.config.target_host,
        namespace=env.client.namespace,
        data_converter=pydantic_data_converter,
        interceptors=[
            StarterHeaderInterceptor(
                lambda workflow_id, workflow_type: SIGNER.start_token(
                    "carol", workflow_id=workflow_id, workflow_type=workflow_type
                )
            )
        ],
    )
    handle = await starter.start_workflow(
        "CreditLimitReview", CreditReviewInput(customer_id="C-1006"), id=wf_id, task_queue=task_queue
    )
    view = await _wait_for(handle, "apr-2")
    unsigned = {
        "request_id": "apr-2",
        "args_hash": view.args_hash,
        "decision": "approve",
        "approver": "alice",
    }
    for payload in (unsigned, await signed(None, wf_id, view, "carol", "approve")):
        try:
            await handle.execute_update("decide", payload)
        except WorkflowUpdateFailedError as exc:
            print(f"verified review: refused as expected: {exc.cause}")
    await handle.signal("approve", {k: v for k, v in unsigned.items() if k != "decision"})
    await handle.execute_update("decide", await signed(None, wf_id, view, "alice", "approve", reason="ok"))
    view = await _wait_for(handle, "apr-3")
    await handle.signal("approve", await signed(None, wf_id, view, "bob", "approve", reason="ok"))
    await handle.result()
    history = await handle.fetch_history()
    (HERE / "credit_limit_review_verified.json").write_text(history.to_json())
    print(f"recorded credit_limit_review_verified: {len(history.events)} events")


async def record_overdue_follow_up(env: WorkflowEnvironment, tmp: str) -> None:
    """All demo systems; each CRM note approved as it comes."""
    with ErpServer() as erp, CrmServer() as crm, LedgerServer() as ledger:
        northwind = SqlDemoDatabase(Path(tmp) / "northwind")
        northwind.prepare()
        systems = DemoSystems(ledger=ledger, erp=erp, crm=crm, northwind=northwind)
        async with demo_worker(env.client, systems, f"sqlite:///{tmp}/audit-follow-up.db") as worker:
            handle = await env.client.start_workflow(
                "OverdueFollowUp",
                FollowUpInput(max_invoices=2, warehouse_customers={"C-1005": "LILAS"}),
                id="record-overdue_follow_up",
                task_queue=worker.task_queue,
            )
            answered: set[str] = set()
            while len(answered) < 2:
                for view in await handle.query("pending_approvals", result_type=list[ApprovalView]):
                    if view.request_id not in answered:
                        await handle.execute_update(
                            "decide", await signed(None, handle.id, view, "ops", "approve")
                        )
                        answered.add(view.request_id)
                await asyncio.sleep(0.05)
            await handle.result()
            history = await handle.fetch_history()
    (HERE / "overdue_follow_up.json").write_text(history.to_json())
    print(f"recorded overdue_follow_up: {len(history.events)} events")


async def record_account_onboarding(env: WorkflowEnvironment, tmp: str) -> None:
    """The third write fails for good; the two before it are compensated (the saga path)."""
    with ErpServer() as erp, CrmServer() as crm, LedgerServer() as ledger:
        northwind = SqlDemoDatabase(Path(tmp) / "northwind-onboarding")
        northwind.prepare()
        systems = DemoSystems(ledger=ledger, erp=erp, crm=crm, northwind=northwind)
        async with httpx.AsyncClient() as http:
            (await http.post(f"{crm.url}/_admin/faults", json=NOTE_FAILS_FOR_GOOD)).raise_for_status()
        async with onboarding_worker(env.client, systems, f"sqlite:///{tmp}/audit-onboarding.db") as worker:
            handle = await env.client.start_workflow(
                "AccountOnboarding",
                OnboardingInput(account_id=ONBOARDED_ACCOUNT, credit_limit=Decimal("90000.00")),
                id="record-account_onboarding_compensated",
                task_queue=worker.task_queue,
            )
            try:
                await handle.result()
            except Exception as exc:  # the failure after compensation is the point of this history
                print(f"account_onboarding_compensated: ended with {type(exc).__name__}")
            history = await handle.fetch_history()
    (HERE / "account_onboarding_compensated.json").write_text(history.to_json())
    print(f"recorded account_onboarding_compensated: {len(history.events)} events")


async def record_agent_task(env: WorkflowEnvironment, tmp: str) -> None:
    """The scripted demo conversation: a read, a search, two notes (one approved, one rejected),
    an invalid call and a call outside the allowed list, then the answer."""
    turns = [
        calls(("erp__list_invoices", {"overdue_only": True, "page_size": 100})),
        calls(
            ("crm__get_account", {"account_id": "2005"}), ("crm__delete_contact", {"contact_id": "CT-3001"})
        ),
        calls(
            ("crm__add_note", {"account_id": "A-2005", "body": "Collections: INV-10014 is overdue."}),
            ("crm__add_note", {"account_id": "A-2003", "body": "Collections: INV-10008 is overdue."}),
        ),
        say("One note logged; ops rejected the other."),
    ]
    with (
        ErpServer() as erp,
        CrmServer() as crm,
        LedgerServer() as ledger,
        ScriptedModelServer(Script(turns=turns), api_key=SCRIPTED_KEY) as model,
    ):
        northwind = SqlDemoDatabase(Path(tmp) / "northwind-agent")
        northwind.prepare()
        systems = DemoSystems(ledger=ledger, erp=erp, crm=crm, northwind=northwind)
        llm = ScriptedModel(model).settings()
        async with demo_worker(
            env.client, systems, f"sqlite:///{tmp}/audit-agent.db", llm_settings=llm
        ) as worker:
            task = AgentTaskInput(
                goal="Chase overdue invoices", allowed_actions=["erp.list_invoices", "crm.*"]
            )
            handle = await env.client.start_workflow(
                "AgentTask", task, id="record-agent_task", task_queue=worker.task_queue
            )
            notes = iter(["approve", "reject"])  # the destructive delete is rejected too
            answered: set[str] = set()
            while (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                for view in await handle.query("pending_approvals", result_type=list[ApprovalView]):
                    if view.request_id not in answered:
                        decision = next(notes, "reject") if view.action == "crm.add_note" else "reject"
                        await handle.execute_update(
                            "decide", await signed(None, handle.id, view, "ops", decision, reason="ok")
                        )
                        answered.add(view.request_id)
                await asyncio.sleep(0.05)
            print(f"agent_task: {(await handle.result())['status']}")
            history = await handle.fetch_history()
    (HERE / "agent_task.json").write_text(history.to_json())
    print(f"recorded agent_task: {len(history.events)} events")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else None))
