"""`retrofit demo` / `make demo`: the whole product, end to end, non-interactively.

Starts the embedded stack with the demo legacy systems, runs a business workflow that reads and
writes the legacy ledger through the gate, shows what the gate refuses, prints the audit trail and
verifies its hash chain. Exits non-zero if any of that does not hold.
"""

from __future__ import annotations

import uuid
from typing import Any

from rich.console import Console
from rich.rule import Rule
from temporalio.client import Client, WorkflowFailureError

from retrofit.audit.store import AuditStore
from retrofit.cli.output import audit_table
from retrofit.embedded.stack import embedded_stack
from retrofit.settings import RetrofitSettings

console = Console()


class DemoFailed(RuntimeError):
    pass


async def run_demo(settings: RetrofitSettings, *, port: int, ui_port: int) -> None:
    run = uuid.uuid4().hex[:6]
    console.print(Rule("Retrofit demo"))
    console.print("Starting the embedded stack: Temporal dev server + Web UI, demo ledger (REST), worker…")
    async with embedded_stack(settings, demo=True, port=port, ui_port=ui_port) as stack:
        console.print(f"Temporal Web UI: [bold]{stack.ui_url}[/]")
        for name, url in stack.demo_systems.items():
            console.print(f"Demo legacy system {name}: {url}")
        queue = stack.settings.task_queue
        ids: list[str] = []

        console.print(Rule("1. Business workflow: CreditLimitReview for customer C-1003"))
        wf_id = f"credit-review-C-1003-{run}"
        ids.append(wf_id)
        result = await _run(
            stack.client,
            "CreditLimitReview",
            {"customer_id": "C-1003"},
            wf_id,
            queue,
            "Credit-limit review of C-1003 (demo)",
        )
        if not result.get("changed"):
            raise DemoFailed("the review of C-1003 should have raised the credit limit")
        console.print(
            f"C-1003 {result['customer_name']}: utilisation {result['utilisation']}, "
            f"limit {result['old_limit']} -> {result['new_limit']}, note #{result['note_id']}"
        )
        console.print(f"UI: {stack.ui_url}/namespaces/default/workflows/{wf_id}")

        console.print(Rule("2. The gate refuses: invalid arguments and a destructive action"))
        for label, args in (
            (
                "invalid arguments",
                {
                    "action": "ledger.set_credit_limit",
                    "arguments": {"customer_id": "C-1003", "credit_limit": -5},
                },
            ),
            (
                "destructive action",
                {"action": "ledger.delete_customer", "arguments": {"customer_id": "C-1004"}},
            ),
        ):
            wf = f"single-action-{label.replace(' ', '-')}-{run}"
            ids.append(wf)
            try:
                await _run(stack.client, "SingleAction", args, wf, queue, f"Demo: {label}")
            except WorkflowFailureError as exc:
                console.print(f"[yellow]{label}[/]: refused — {getattr(exc.cause, 'message', exc.cause)}")
            else:
                raise DemoFailed(f"the gate should have refused the {label}")

        console.print(Rule("3. The audit trail"))
        async with await AuditStore.open(stack.settings.audit_db_url) as store:
            for wid in ids:
                console.print(audit_table(await store.for_workflow(wid), f"audit trail of {wid}"))
            report = await store.verify()
        if not report.ok:
            raise DemoFailed(f"audit chain broken: {report.first_break}")
        console.print(f"[green]Audit chain verified[/]: {report.checked} records, head {report.head_hash}")

    console.print(Rule("Do it yourself"))
    console.print("retrofit dev --demo            # stack + UI on http://localhost:8233, keeps running")
    console.print('retrofit start CreditLimitReview --input \'{"customer_id": "C-1006"}\' --wait')
    console.print(f"retrofit audit show {ids[0]}")
    console.print("retrofit audit verify")


async def _run(
    client: Client, workflow: str, arg: dict[str, Any], wf_id: str, queue: str, summary: str
) -> dict[str, Any]:
    result = await client.execute_workflow(
        workflow,
        arg,
        id=wf_id,
        task_queue=queue,
        static_summary=summary,
        result_type=dict,
    )
    return dict(result)
