"""`retrofit demo` / `make demo`: the whole product, end to end, non-interactively.

Starts the embedded stack with the demo legacy systems and the identity service (verified mode:
every answer and start is signed); runs a business workflow that reads and writes the legacy
ledger through the gate; pauses for approvals and answers them with the `retrofit approvals` CLI
exactly as ops would, each as a logged-in demo user (the demo hands the CLI subprocess that user's
demo password in RETROFIT_IDENTITY_PASSWORD: never in argv or output); shows that an answer from
someone who cannot log in is refused; hands a business user's goal to the AI agent (the
scripted model server, labelled as such, unless a real model is configured); shows what the gate refuses (a rejected destructive
call, invalid arguments); prints the audit trail and verifies its hash chain. Exits non-zero if
any of that does not hold.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
import uuid
from pathlib import Path
from typing import Any

from rich.rule import Rule
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle

from retrofit.agent.contracts import AgentTaskResult, StopReason
from retrofit.agent.stopped import agent_task_result
from retrofit.audit.store import AuditStore
from retrofit.cli.agent_commands import print_result
from retrofit.cli.identity_client import PASSWORD_ENV, TOKEN_ENV, IdentityClient, starting_client
from retrofit.cli.output import audit_table, console
from retrofit.embedded.identity_server import demo_password
from retrofit.embedded.stack import RunningStack, embedded_stack
from retrofit.gate.approval_models import PENDING_QUERY, ApprovalView
from retrofit.redaction import summarize
from retrofit.settings import RetrofitSettings


class DemoFailed(RuntimeError):
    pass


#: Who starts the demo's workflows (the requester, who may not approve their own requests).
REQUESTER = "erin"


async def run_demo(settings: RetrofitSettings, *, port: int, ui_port: int, identity_port: int = 8234) -> None:
    run = uuid.uuid4().hex[:6]
    console.print(Rule("Retrofit demo"))
    console.print(
        "Starting the embedded stack: Temporal dev server + Web UI, identity service, demo systems, worker…"
    )
    async with embedded_stack(
        settings, demo=True, port=port, ui_port=ui_port, identity_port=identity_port
    ) as stack:
        console.print(f"Temporal Web UI: [bold]{stack.ui_url}[/]")
        console.print(
            f"Identity service: [bold]{stack.identity_url}/login[/] (demo users alice, bob, carol, dave, "
            'erin; password "demo-<name>", demo only)'
        )
        for name, url in stack.demo_systems.items():
            console.print(f"Demo legacy system {name}: {url}")
        console.print(f"Model for the agent: {stack.model.label}")
        ids = [
            await _credit_review(stack, f"credit-review-C-1003-{run}"),
            await _overdue_follow_up(stack, f"overdue-follow-up-{run}"),
            await _agent_task(stack, f"agent-collections-{run}"),
            await _rejected_delete(stack, f"delete-C-1004-{run}"),
            await _invalid_arguments(stack, f"invalid-arguments-{run}"),
        ]

        console.print(Rule("6. The audit trail"))
        async with await AuditStore.open(stack.settings.audit_db_url) as store:
            for wid in ids:
                console.print(audit_table(await store.for_workflow(wid), f"audit trail of {wid}"))
            report = await store.verify()
        if not report.ok:
            raise DemoFailed(f"audit chain broken: {report.first_break}")
        console.print(f"[green]Audit chain verified[/]: {report.checked} records, head {report.head_hash}")

    console.print(Rule("Do it yourself"))
    console.print("retrofit dev --demo            # the stack + UI on http://localhost:8233; keeps running")
    console.print("retrofit login erin            # demo password: demo-erin")
    console.print('retrofit start CreditLimitReview --input \'{"customer_id": "C-1006"}\'')
    console.print("retrofit approvals list")
    console.print("retrofit approvals approve WORKFLOW_ID apr-2 --as alice   # asks for alice's password")
    console.print(
        "In the UI: log in at http://localhost:8234/login, then Send an Update `decide` with the JSON "
        "the workflow shows"
    )
    console.print(f"retrofit audit show {ids[0]}")
    console.print("retrofit audit verify")


async def _credit_review(stack: RunningStack, wf_id: str) -> str:
    console.print(Rule("1. Business workflow: CreditLimitReview of customer C-1003 (writes need approval)"))
    handle = await _start(
        stack, "CreditLimitReview", {"customer_id": "C-1003"}, wf_id, "Credit-limit review of C-1003 (demo)"
    )
    view = await _announce(stack, handle, "apr-2")
    console.print("[yellow]Someone without alice's password tries to answer as her:[/]")
    await _cli(
        stack,
        "approvals",
        "approve",
        wf_id,
        view.request_id,
        "--reason",
        "trust me",
        as_user="alice",
        password="not-alices-password",
        expect_failure=True,
    )
    await _cli(
        stack,
        "approvals",
        "approve",
        wf_id,
        view.request_id,
        "--reason",
        "utilisation 82%, good payer",
        as_user="alice",
    )
    view = await _announce(stack, handle, "apr-3")
    await _cli(stack, "approvals", "approve", wf_id, view.request_id, "--signal", as_user="bob")
    result = dict(await handle.result())
    if not result.get("changed"):
        raise DemoFailed("the review of C-1003 should have raised the credit limit")
    console.print(
        f"[green]Done[/]: {result['customer_name']}: utilisation {result['utilisation']}, "
        f"limit {result['old_limit']} -> {result['new_limit']}, note #{result['note_id']}"
    )
    return wf_id


async def _overdue_follow_up(stack: RunningStack, wf_id: str) -> str:
    console.print(
        Rule("2. OverdueFollowUp: ERP (SOAP) + CRM (REST, OAuth2) + warehouse (SQL); notes need approval")
    )
    handle = await _start(
        stack,
        "OverdueFollowUp",
        {"max_invoices": 2, "warehouse_customers": {"C-1003": "ERNSH", "C-1005": "LILAS"}},
        wf_id,
        "Collections run: the 2 largest overdue invoices (demo)",
    )
    answered: set[str] = set()
    for via in ((), ("--signal",)):
        view = await _announce(stack, handle, None, skip=answered)
        answered.add(view.request_id)
        await _cli(stack, "approvals", "approve", wf_id, view.request_id, *via, as_user="dave")
    result = dict(await handle.result())
    for f in result["follow_ups"]:
        console.print(
            f"[green]{f['invoice_id']}[/] {f['customer_name']}: {f['amount_due']} {f['currency']} "
            f"{f['days_overdue']} days overdue; CRM {f['crm_account_id']} note {f['note']} (#{f['note_id']}); "
            f"open warehouse orders: {f['open_warehouse_orders']}"
        )
    return wf_id


AGENT_GOAL = (
    "Find the two customers with the largest overdue invoices and log a collections note on each "
    "customer's CRM account."
)
AGENT_TOOLS = ("erp.list_invoices", "erp.get_customer", "crm.search_accounts", "crm.add_note")


async def _agent_task(stack: RunningStack, wf_id: str) -> str:
    console.print(Rule("3. The AI agent: a business user's goal; the model plans, the gate decides"))
    console.print(f"model: [bold]{stack.model.label}[/]")
    allow = [arg for tool in AGENT_TOOLS for arg in ("--allow", tool)]
    await _cli(
        stack, "agent", "run", AGENT_GOAL, *allow, "--max-steps", "8", "--id", wf_id, as_user=REQUESTER
    )
    handle = stack.client.get_workflow_handle(wf_id, result_type=AgentTaskResult)
    answered: set[str] = set()
    notes_approved = 0
    while True:  # ops answer what the agent proposes: one note approved, anything else rejected
        try:
            view = await _announce(stack, handle, None, skip=answered, attempts=50)
        except DemoFailed:
            if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
                break
            continue
        answered.add(view.request_id)
        if view.action == "crm.add_note" and notes_approved == 0:
            await _cli(stack, "agent", "progress", wf_id)
            await _cli(stack, "approvals", "approve", wf_id, view.request_id, as_user="dave")
            notes_approved += 1
        else:
            reason = "we called this customer yesterday" if view.action == "crm.add_note" else "not today"
            await _cli(
                stack, "approvals", "reject", wf_id, view.request_id, "--reason", reason, as_user="dave"
            )
    result = await agent_task_result(handle)  # answered, or stopped (a failed workflow)
    print_result(result)
    if result.scripted and (
        result.status is not StopReason.ANSWERED or notes_approved != 1 or len(answered) != 2
    ):
        raise DemoFailed(
            f"the scripted agent should have answered after 2 proposed notes; got {result.status}"
        )
    return wf_id


async def _rejected_delete(stack: RunningStack, wf_id: str) -> str:
    console.print(Rule("4. A destructive call: two approvals needed; ops reject it"))
    handle = await _start(
        stack,
        "SingleAction",
        {"action": "ledger.delete_customer", "arguments": {"customer_id": "C-1004"}},
        wf_id,
        "Delete customer C-1004 (demo)",
    )
    view = await _announce(stack, handle, "apr-1")
    await _cli(
        stack,
        "approvals",
        "reject",
        wf_id,
        view.request_id,
        "--reason",
        "C-1004 has open orders",
        as_user="carol",
    )
    await _expect_refusal(handle, "rejected delete")
    return wf_id


async def _invalid_arguments(stack: RunningStack, wf_id: str) -> str:
    console.print(Rule("5. Invalid arguments: refused before anything runs"))
    handle = await _start(
        stack,
        "SingleAction",
        {"action": "ledger.set_credit_limit", "arguments": {"customer_id": "C-1003", "credit_limit": -5}},
        wf_id,
        "Invalid credit limit (demo)",
    )
    await _expect_refusal(handle, "invalid arguments")
    return wf_id


async def _start(
    stack: RunningStack, workflow: str, arg: dict[str, Any], wf_id: str, summary: str
) -> WorkflowHandle[Any, Any]:
    # Started as the requester, signed like a CLI start: the workflow records who started it.
    identity = IdentityClient(stack.settings, REQUESTER, password=demo_password(REQUESTER))
    client: Client = await starting_client(stack.settings, identity)
    handle = await client.start_workflow(
        workflow, arg, id=wf_id, task_queue=stack.settings.task_queue, static_summary=summary
    )
    console.print(
        f"started {workflow} [bold]{wf_id}[/] as {REQUESTER}: {stack.ui_url}/namespaces/default/workflows/{wf_id}"
    )
    return handle


async def _announce(
    stack: RunningStack,
    handle: WorkflowHandle[Any, Any],
    request_id: str | None,
    skip: set[str] | None = None,
    attempts: int = 300,
) -> ApprovalView:
    view = await _wait_for(handle, request_id, skip or set(), attempts)
    console.print(
        f"[yellow]waiting for approval[/] {view.request_id}: {view.action} {summarize(view.arguments, 100)} "
        f"— needs {view.approvers_needed}, hash {view.args_hash[:12]}"
    )
    console.print(
        f"  answer in the UI: log in at {stack.identity_url}/login, open "
        f"{stack.ui_url}/namespaces/default/workflows/{handle.id}, then More Actions → Send an Update "
        "`decide` (or Send a Signal `approve`/`reject`) with the JSON from its User Metadata tab"
    )
    console.print(f"  or: retrofit login YOUR_NAME; retrofit approvals approve {handle.id} {view.request_id}")
    return view


async def _wait_for(
    handle: WorkflowHandle[Any, Any], request_id: str | None, skip: set[str], attempts: int
) -> ApprovalView:
    """The pending request `request_id`, or (None) the first pending one not in `skip`."""
    for _ in range(attempts):
        views: list[ApprovalView] = await handle.query(PENDING_QUERY, result_type=list[ApprovalView])
        for view in views:
            if view.request_id == request_id or (request_id is None and view.request_id not in skip):
                return view
        await asyncio.sleep(0.1)
    raise DemoFailed(f"{handle.id}: approval request {request_id or '(next)'} never appeared")


async def _cli(
    stack: RunningStack,
    *args: str,
    as_user: str | None = None,
    password: str | None = None,
    expect_failure: bool = False,
) -> None:
    """Run the real `retrofit` CLI, as an ops person would, against the demo stack; `as_user`
    logs in as that demo user (their demo password, or `password`, in the subprocess's
    environment only: never in the command line shown or run)."""
    if as_user is not None:
        args = (*args, "--as", as_user)
    console.print(f"[bold]$ retrofit {shlex.join(args)}[/]")
    env = dict(os.environ)
    env.pop(TOKEN_ENV, None)
    env.pop(PASSWORD_ENV, None)
    env.update(
        RETROFIT_TEMPORAL_ADDRESS=stack.settings.temporal_address,
        RETROFIT_TASK_QUEUE=stack.settings.task_queue,
        RETROFIT_AUDIT_DB_URL=stack.settings.audit_db_url,
        RETROFIT_DATA_DIR=str(stack.settings.data_dir),
        RETROFIT_IDENTITY_URL=stack.identity_url,
    )
    if as_user is not None:
        env[PASSWORD_ENV] = password or demo_password(as_user)
    exe = Path(sys.executable).parent / "retrofit"
    proc = await asyncio.create_subprocess_exec(
        str(exe), *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await proc.communicate()
    for line in out.decode().rstrip().splitlines():
        console.print(f"  {line}")
    if expect_failure:
        if proc.returncode == 0:
            raise DemoFailed(f"`retrofit {shlex.join(args)}` should have been refused")
        return
    if proc.returncode != 0:
        raise DemoFailed(f"`retrofit {shlex.join(args)}` exited with {proc.returncode}")


async def _expect_refusal(handle: WorkflowHandle[Any, Any], label: str) -> None:
    try:
        await handle.result()
    except WorkflowFailureError as exc:
        console.print(f"[yellow]{label}[/]: refused — {getattr(exc.cause, 'message', exc.cause)}")
        return
    raise DemoFailed(f"the gate should have refused the {label}")
