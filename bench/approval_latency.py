"""From the approval to the legacy write: how long one approved action takes to land.

For each of N `SingleAction` workflows (a `ledger.set_credit_limit` that waits for one approval,
the default policy) the bench waits until the request is pending, notes the time, sends the
`decide` Update, and reads from the demo ledger's `GET /_admin/writes` when the write with that
workflow's idempotency key arrived. Ledger and bench share the machine's clock.

Baseline in the same run: the round trip of the `pending_approvals` Query to the same workflow
(client -> server -> worker -> back), the floor of any message to a workflow.

    .venv/bin/python bench/approval_latency.py [--workflows 30]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from bench_stack import dev_server, ledger_process
from results_table import Result, print_table, write_results
from temporalio.client import WorkflowHandle
from temporalio.worker import Worker

from connectors.ledger.connector import LedgerConnector
from retrofit.gate.approval_models import ApprovalView
from retrofit.identity.testing import TestSigner
from retrofit.plugin import RetrofitPlugin
from retrofit.registry import connectors_from_classes
from workflows.single_action.workflow import SingleAction, SingleActionInput

MEDIAN_TARGET_MS = 250.0
P95_TARGET_MS = 500.0


async def pending(handle: WorkflowHandle[Any, Any]) -> tuple[ApprovalView, float]:
    """The first pending request, and the round trip of the query that found it."""
    while True:
        started = time.perf_counter()
        views = await handle.query("pending_approvals", result_type=list[ApprovalView])
        rtt = time.perf_counter() - started
        if views:
            return views[0], rtt
        await asyncio.sleep(0.02)


async def write_received_at(ledger_url: str, key: str, within: float = 30) -> float:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            items = (await http.get(f"{ledger_url}/_admin/writes")).json()["items"]
            for item in items:
                if item["idempotency_key"] == key:
                    return float(item["received_at"])
            await asyncio.sleep(0.005)
    raise RuntimeError(f"the ledger never received the write {key}")


SIGNER = TestSigner()


async def main(count: int) -> list[Result]:
    latencies: list[float] = []
    rtts: list[float] = []
    with ledger_process() as (ledger_url, api_key), tempfile.TemporaryDirectory() as tmp:
        plugin = RetrofitPlugin(
            connectors=connectors_from_classes([LedgerConnector]),
            workflows=[SingleAction],
            audit_url=f"sqlite:///{Path(tmp) / 'audit.db'}",
            settings_overrides={
                "ledger": LedgerConnector.load_settings(base_url=ledger_url, api_key=api_key)
            },
            identity=SIGNER.pin(),
        )
        async with (
            dev_server() as env,
            Worker(env.client, task_queue=f"latency-{uuid.uuid4()}", plugins=[plugin]) as worker,
        ):
            for i in range(count + 2):  # the first two warm the worker up and are not counted
                wf_id = f"latency-{i}-{uuid.uuid4().hex[:6]}"
                handle = await env.client.start_workflow(
                    "SingleAction",
                    SingleActionInput(
                        action="ledger.set_credit_limit",
                        arguments={"customer_id": "C-1004", "credit_limit": f"{20_000 + i}.00"},
                    ),
                    id=wf_id,
                    task_queue=worker.task_queue,
                )
                view, rtt = await pending(handle)
                # Signed as the identity service would, before the clock starts: the latency
                # measured is the workflow's (verification included), not the signer's.
                answer = SIGNER.answer(
                    "ops",
                    workflow_id=wf_id,
                    request_id=view.request_id,
                    args_hash=view.args_hash,
                    decision="approve",
                )
                approved_at = time.time()
                await handle.execute_update("decide", answer)
                received = await write_received_at(ledger_url, f"{wf_id}#{view.step}")
                await handle.result()
                if i >= 2:
                    latencies.append((received - approved_at) * 1000)
                    rtts.append(rtt * 1000)

    median = statistics.median(latencies)
    p95 = statistics.quantiles(latencies, n=20)[-1]
    rtt = statistics.median(rtts)
    print(
        f"{count} approved writes: median {median:.0f} ms, p95 {p95:.0f} ms, "
        f"min {min(latencies):.0f} ms, max {max(latencies):.0f} ms; query round trip median {rtt:.1f} ms"
    )
    return [
        Result(
            bench="approval_latency",
            figure=f"approval -> ledger write, median of {count}",
            value=f"{median:.0f} ms",
            target=f"< {MEDIAN_TARGET_MS:.0f} ms",
            baseline=f"{rtt:.1f} ms query RTT",
            ratio=median / rtt,
            passed=median < MEDIAN_TARGET_MS,
        ),
        Result(
            bench="approval_latency",
            figure=f"approval -> ledger write, p95 of {count}",
            value=f"{p95:.0f} ms",
            target=f"< {P95_TARGET_MS:.0f} ms",
            baseline=f"{rtt:.1f} ms query RTT",
            ratio=p95 / rtt,
            passed=p95 < P95_TARGET_MS,
        ),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Latency from an approval to the legacy write.")
    parser.add_argument("--workflows", type=int, default=30)
    parser.add_argument("--results", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()
    results = asyncio.run(main(args.workflows))
    print_table(results, "approval latency")
    if args.results:
        write_results(args.results, results)
