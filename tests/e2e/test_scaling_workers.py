"""Workers at scale on the dev server: `retrofit worker` processes as ops run them — two sharing
one task queue, a connector group on its own queue, and a graceful stop on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.client import WorkflowHistory as History
from temporalio.testing import WorkflowEnvironment

from tests.support import DemoSystems, inject_fault

RETROFIT = str(Path(sys.executable).parent / "retrofit")


@dataclass
class WorkerProcess:
    proc: asyncio.subprocess.Process
    audit_db: Path

    @property
    def identity_prefix(self) -> str:
        return f"{self.proc.pid}@"  # the SDK's default identity is pid@hostname

    def audit_kinds(self) -> Counter[str]:
        if not self.audit_db.exists():
            return Counter()
        with sqlite3.connect(self.audit_db) as conn:
            return Counter(kind for (kind,) in conn.execute("SELECT kind FROM audit_events"))


def _env(client: Client, systems: DemoSystems, task_queue: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        RETROFIT_TEMPORAL_ADDRESS=client.service_client.config.target_host,
        RETROFIT_TASK_QUEUE=task_queue,
        RETROFIT_LEDGER_BASE_URL=systems.ledger.url,
        RETROFIT_LEDGER_API_KEY=systems.ledger.api_key,
        RETROFIT_ERP_WSDL=systems.erp.wsdl_url,
        RETROFIT_CRM_BASE_URL=systems.crm.url,
        RETROFIT_CRM_CLIENT_SECRET=systems.crm.client_secret,
        RETROFIT_NORTHWIND_URL=systems.northwind.url,
    )
    env.update(extra)
    return env


@asynccontextmanager
async def workers(
    tmp_path: Path, envs: list[tuple[dict[str, str], tuple[str, ...]]]
) -> AsyncIterator[list[WorkerProcess]]:
    """Start `retrofit worker ARGS` processes, each with its own audit store, and wait until each
    says it polls; stop (SIGTERM) whatever is still running at the end."""
    started: list[WorkerProcess] = []
    try:
        for env, args in envs:
            audit_db = tmp_path / f"audit-{uuid.uuid4().hex[:6]}.db"
            proc = await asyncio.create_subprocess_exec(
                RETROFIT,
                "worker",
                *args,
                env={**env, "RETROFIT_AUDIT_DB_URL": f"sqlite:///{audit_db}", "COLUMNS": "300"},
                cwd=tmp_path,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            started.append(WorkerProcess(proc, audit_db))
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
            assert b"worker on" in line, line
        yield started
    finally:
        for worker in started:
            if worker.proc.returncode is None:
                worker.proc.send_signal(signal.SIGTERM)
        for worker in started:
            await asyncio.wait_for(worker.proc.wait(), timeout=60)


def _activity_starts(history: History) -> list[tuple[str, str, str]]:
    """(activity type, task queue, identity of the worker that ran it) per executed activity."""
    scheduled = {
        e.event_id: e.activity_task_scheduled_event_attributes
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    }
    return [
        (
            scheduled[a.scheduled_event_id].activity_type.name,
            scheduled[a.scheduled_event_id].task_queue.name,
            a.identity,
        )
        for e in history.events
        if e.HasField("activity_task_started_event_attributes")
        for a in [e.activity_task_started_event_attributes]
    ]


async def _wait_for_pollers(client: Client, queue: str, processes: list[WorkerProcess]) -> None:
    """Until every process polls `queue` for workflow and activity tasks: a worker prints its
    banner before its pollers reach the server, and the first one up would take everything."""
    # Generous: a worker process imports the whole stack before it polls, and on a loaded
    # two-core machine (the suite runs on xdist workers) that took over 30 s once.
    deadline = time.monotonic() + 90
    for kind in (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY):
        while True:
            described = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=client.namespace, task_queue=TaskQueue(name=queue), task_queue_type=kind
                )
            )
            identities = {p.identity for p in described.pollers}
            if all(any(i.startswith(w.identity_prefix) for i in identities) for w in processes):
                break
            exited = [w.proc.returncode for w in processes]
            assert time.monotonic() < deadline, f"pollers on {queue}: {identities}; exit codes {exited}"
            await asyncio.sleep(0.1)


def _get_customer(n: int) -> dict[str, object]:
    return {"action": "ledger.get_customer", "arguments": {"customer_id": f"C-100{1 + n % 6}"}}


@pytest.mark.devserver
async def test_two_workers_share_one_queue_and_stop_gracefully(
    dev_server_env: WorkflowEnvironment, demo_systems: DemoSystems, tmp_path: Path
) -> None:
    client = dev_server_env.client
    queue = f"shared-{uuid.uuid4()}"
    env = _env(client, demo_systems, queue, RETROFIT_GRACEFUL_SHUTDOWN_SECONDS="30")
    # A little latency keeps activities in flight long enough for both pollers to be handed work.
    inject_fault(demo_systems.ledger, latency_ms=150)
    async with workers(tmp_path, [(env, ()), (env, ())]) as (first, second):
        await _wait_for_pollers(client, queue, [first, second])
        handles = [
            await client.start_workflow("SingleAction", _get_customer(n), id=f"{queue}-{n}", task_queue=queue)
            for n in range(20)
        ]
        results = await asyncio.gather(*(h.result() for h in handles))
        assert all(r["output"]["id"].startswith("C-100") for r in results)

        ran_by: Counter[str] = Counter()
        for handle in handles:
            for activity_type, task_queue, identity in _activity_starts(await handle.fetch_history()):
                assert task_queue == queue
                if activity_type == "ledger.get_customer":
                    ran_by[identity.split("@")[0] + "@"] += 1
        assert sum(ran_by.values()) == 20
        assert ran_by[first.identity_prefix] > 0 and ran_by[second.identity_prefix] > 0, ran_by
        # Each worker's own audit store holds the actions it ran.
        audited = first.audit_kinds()["action.succeeded"] + second.audit_kinds()["action.succeeded"]
        assert audited == 20

        # Graceful stop: a slow call is in flight when both workers get SIGTERM; it still finishes.
        inject_fault(demo_systems.ledger, latency_ms=3000)
        slow = await client.start_workflow(
            "SingleAction", _get_customer(0), id=f"{queue}-slow", task_queue=queue
        )
        before = {w.proc.pid: w.audit_kinds()["action.started"] for w in (first, second)}
        deadline = time.monotonic() + 30
        while all(w.audit_kinds()["action.started"] == before[w.proc.pid] for w in (first, second)):
            assert time.monotonic() < deadline, "the slow action never started"
            await asyncio.sleep(0.05)
        running = next(w for w in (first, second) if w.audit_kinds()["action.started"] > before[w.proc.pid])
        stopped_at = time.monotonic()
        for w in (first, second):
            w.proc.send_signal(signal.SIGTERM)
        codes = [await asyncio.wait_for(w.proc.wait(), timeout=60) for w in (first, second)]
        assert codes == [0, 0]
        assert time.monotonic() - stopped_at > 1.0  # the busy worker waited for its call
        assert running.audit_kinds()["action.succeeded"] > before[running.proc.pid]

    inject_fault(demo_systems.ledger, latency_ms=0)
    history = await slow.fetch_history()
    completed = [e for e in history.events if e.HasField("activity_task_completed_event_attributes")]
    starts = [s for s in _activity_starts(history) if s[0] == "ledger.get_customer"]
    # Completed by the worker that was told to stop, on its first attempt: nothing was cut off.
    assert starts and starts[0][2].startswith(running.identity_prefix)
    assert any(
        e.activity_task_completed_event_attributes.identity.startswith(running.identity_prefix)
        for e in completed
    )
    await slow.terminate("test over: no worker left to finish the workflow task")


@pytest.mark.devserver
async def test_connector_group_runs_on_its_own_queue_and_workers(
    dev_server_env: WorkflowEnvironment, demo_systems: DemoSystems, tmp_path: Path
) -> None:
    client = dev_server_env.client
    queue = f"main-{uuid.uuid4()}"
    ledger_queue = f"ledger-{uuid.uuid4()}"
    env = _env(client, demo_systems, queue, RETROFIT_TASK_QUEUE_GROUPS=f'{{"ledger": "{ledger_queue}"}}')
    async with workers(tmp_path, [(env, ()), (env, ("--connectors", "ledger"))]) as (main, ledger_group):
        result = await client.execute_workflow(
            "SingleAction", _get_customer(0), id=f"{queue}-routed", task_queue=queue
        )
        assert result["output"]["id"] == "C-1001"
        history = await client.get_workflow_handle(f"{queue}-routed").fetch_history()
    starts = _activity_starts(history)
    [(_, routed_queue, identity)] = [s for s in starts if s[0] == "ledger.get_customer"]
    assert routed_queue == ledger_queue and identity.startswith(ledger_group.identity_prefix)
    # The main worker ran the workflow and its own activities, never the ledger call.
    assert ledger_group.audit_kinds()["action.succeeded"] == 1
    assert main.audit_kinds()["action.succeeded"] == 0
