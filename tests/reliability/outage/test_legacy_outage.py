"""Each demo legacy system down for a while, on a real-time Temporal dev server.

What must hold, per system (REST ledger: connection refused; REST CRM: HTTP 503; SOAP ERP: server
faults; SQL warehouse: "database is locked"):

- actions retry with backoff, and the breaker opens after consecutive failures: later calls fail
  fast without touching the system, recorded as `CircuitOpen` attempts with the breaker's state;
- after the open period one trial goes through, and its success closes the breaker;
- every write lands exactly once in the legacy system (its own effect counters);
- an outage longer than the retry budget escalates to a person, and "retry" (from the CLI or the
  Update) finishes the job, still exactly once.

The breaker here opens after 2 failures for 1.5 s (connector settings), so each test takes seconds.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from connectors.crm.connector import CrmConnector
from connectors.erp.connector import ErpConnector
from connectors.ledger.connector import LedgerConnector
from connectors.northwind.connector import NorthwindConnector
from legacy.ledger.server import LedgerServer
from retrofit.audit.events import AuditRecord
from retrofit.audit.store import AuditStore
from retrofit.gate.approval_models import ApprovalView
from retrofit.gate.failure_models import ResolveFailureResult
from retrofit.gate.policy import allow_all
from retrofit.plugin import RetrofitPlugin
from retrofit.registry import connectors_from_classes
from retrofit.sdk.connector import ConnectorSettings
from tests.identity_service import identity_service
from tests.identity_support import PIN, SIGNER, signed
from tests.support import SHIPPED_WORKFLOWS, DemoSystems, audit_of
from workflows.single_action.workflow import SingleActionInput, SingleActionResult

pytestmark = pytest.mark.timeout(120)

BREAKER = {"breaker_threshold": 2, "breaker_open_seconds": 1.5}
BIN = Path(sys.executable).parent


def _worker(env: WorkflowEnvironment, settings: dict[str, ConnectorSettings], audit_url: str) -> Worker:
    tuned = {name: s.model_copy(update=BREAKER) for name, s in settings.items()}
    plugin = RetrofitPlugin(
        connectors=connectors_from_classes([LedgerConnector, ErpConnector, CrmConnector, NorthwindConnector]),
        workflows=SHIPPED_WORKFLOWS,
        audit_url=audit_url,
        policy=allow_all(),
        settings_overrides=tuned,
        identity=PIN,
    )
    return Worker(env.client, task_queue=f"outage-{uuid.uuid4()}", plugins=[plugin])


def _settings(systems: DemoSystems) -> dict[str, ConnectorSettings]:
    settings = systems.connector_settings()
    # A short busy timeout: a locked file fails an attempt in 0.2 s instead of waiting it out.
    settings["northwind"] = settings["northwind"].model_copy(update={"lock_timeout_seconds": 0.2})
    return settings


async def _start_all(
    env: WorkflowEnvironment, worker: Worker, action: str, arguments: Sequence[dict[str, Any]]
) -> list[WorkflowHandle[Any, SingleActionResult]]:
    return [
        await env.client.start_workflow(
            "SingleAction",
            SingleActionInput(action=action, arguments=args),
            id=f"outage-{uuid.uuid4().hex[:8]}",
            task_queue=worker.task_queue,
            result_type=SingleActionResult,
        )
        for args in arguments
    ]


async def _ride_out(
    stack: Stack,
    worker: Worker,
    action: str,
    arguments: Sequence[dict[str, Any]],
    *,
    down_for: float,
    back_up: Callable[[], Awaitable[None]],
) -> list[list[AuditRecord]]:
    """Start one workflow per argument set while the system is down; bring it back after
    `down_for` seconds; every workflow must finish on its own (no escalation). Returns the trails."""
    handles = await _start_all(stack.env, worker, action, arguments)
    await asyncio.sleep(down_for)
    await back_up()
    results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), timeout=60)
    assert all(r.action == action for r in results)
    return [await audit_of(stack.audit_url, h.id) for h in handles]


@dataclass
class Stack:
    env: WorkflowEnvironment
    systems: DemoSystems
    audit_url: str

    def worker(self, settings: dict[str, ConnectorSettings] | None = None) -> Worker:
        return _worker(self.env, settings or _settings(self.systems), self.audit_url)


@pytest.fixture
async def stack(
    dev_server_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str
) -> AsyncIterator[Stack]:
    yield Stack(dev_server_env, demo_systems, audit_url)
    for url in (demo_systems.erp.url, demo_systems.crm.url):
        await _post(f"{url}/_admin/faults", {})


async def _post(url: str, body: dict[str, Any]) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        (await client.post(url, json=body)).raise_for_status()


async def _effects(system_url: str) -> dict[str, Any]:
    """The legacy system's own count of applied writes (its admin endpoint)."""
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(f"{system_url}/_admin/effects")
        response.raise_for_status()
        return dict(response.json())


# --- what every outage must show --------------------------------------------------------------


def assert_rode_out_the_outage(trails: list[list[AuditRecord]], outage_error: str) -> None:
    everything = [r for trail in trails for r in trail]
    for trail in trails:
        kinds = [r.kind.value for r in trail]
        assert kinds[-1] == "action.succeeded", kinds
        assert "action.failed" not in kinds and "failure.escalated" not in kinds
        # Backoff: the first retry waits at least the initial interval (1 s).
        attempts = _attempt_times(trail)
        assert len(attempts) >= 2, kinds
        assert (attempts[2] - attempts[1]).total_seconds() >= 0.9

    failed = [r for r in everything if r.kind.value == "action.attempt_failed"]
    real = [r for r in failed if r.data["error_type"] == "Retryable"]
    assert real and all(outage_error in r.data["error"] for r in real), [r.data["error"] for r in real]
    # The breaker opened on consecutive failures...
    transitions = [r.data["breaker"].get("transition") for r in everything if "breaker" in r.data]
    assert "closed->open" in transitions, transitions
    # ...later calls failed fast, recorded as such, without a `started` (the system untouched)...
    fast = [r for r in failed if r.data["error_type"] == "CircuitOpen"]
    assert fast, "no call met the open breaker"
    for record in fast:
        assert record.data["retryable"] is True
        assert record.data["breaker"]["state"] in ("open", "half_open")
        assert record.data["breaker"]["retry_in_seconds"] > 0
        started = {(r.workflow_id, r.attempt) for r in everything if r.kind.value == "action.started"}
        assert (record.workflow_id, record.attempt) not in started
    # ...and a trial call's success closed it again.
    assert any(t is not None and t.endswith("->closed") for t in transitions), transitions


def _attempt_times(trail: list[AuditRecord]) -> dict[int, Any]:
    """When each attempt first shows in the trail (started, or a fast failure)."""
    times: dict[int, Any] = {}
    for r in trail:
        if r.kind.value in ("action.started", "action.attempt_failed") and r.attempt is not None:
            times.setdefault(r.attempt, r.occurred_at)
    return times


# --- the four systems -------------------------------------------------------------------------


async def test_ledger_connection_refused(stack: Stack) -> None:
    """REST ledger: the server is gone (connection refused), then comes back on the same port."""
    with LedgerServer() as first:
        port, state = first.port, first.state
    # Stopped: nothing listens on the port; the worker is pointed there anyway.
    settings = _settings(stack.systems)
    settings["ledger"] = LedgerConnector.load_settings(
        base_url=f"http://127.0.0.1:{port}", api_key=first.api_key
    )
    revived = LedgerServer(port=port, state=state)
    async with stack.worker(settings) as worker:
        arguments = [{"customer_id": c, "credit_limit": "77000.00"} for c in ("C-1001", "C-1002", "C-1003")]
        trails = await _ride_out(
            stack,
            worker,
            "ledger.set_credit_limit",
            arguments,
            down_for=1.5,
            back_up=lambda: asyncio.to_thread(revived.start),
        )
    try:
        assert_rode_out_the_outage(trails, "connect")
        effects = await _effects(revived.url)
        assert effects["credit_limit"] == {"C-1001": 1, "C-1002": 1, "C-1003": 1}
    finally:
        revived.stop()


async def test_crm_http_503(stack: Stack) -> None:
    crm = stack.systems.crm
    await _post(f"{crm.url}/_admin/faults", {"fail_next": 10_000, "status": 503})
    async with stack.worker() as worker:
        arguments = [
            {"account_id": a, "body": "Outage drill: called back."} for a in ("A-2001", "A-2002", "A-2003")
        ]
        trails = await _ride_out(
            stack,
            worker,
            "crm.add_note",
            arguments,
            down_for=1.5,
            back_up=lambda: _post(f"{crm.url}/_admin/faults", {}),
        )
    assert_rode_out_the_outage(trails, "503")
    effects = await _effects(crm.url)
    assert effects["notes"] == {"A-2001": 1, "A-2002": 1, "A-2003": 1}


async def test_erp_soap_server_fault(stack: Stack) -> None:
    erp = stack.systems.erp
    await _post(f"{erp.url}/_admin/faults", {"fail_next": 10_000})
    async with stack.worker() as worker:
        arguments = [{"invoice_id": i, "amount": "10.00"} for i in ("INV-10002", "INV-10003", "INV-10005")]
        trails = await _ride_out(
            stack,
            worker,
            "erp.record_payment",
            arguments,
            down_for=1.5,
            back_up=lambda: _post(f"{erp.url}/_admin/faults", {}),
        )
    assert_rode_out_the_outage(trails, "soap:Server")
    effects = await _effects(erp.url)
    assert effects["payments"] == {"INV-10002": 1, "INV-10003": 1, "INV-10005": 1}


ORDERS = (11008, 11019, 11039)


async def test_sql_database_locked(stack: Stack) -> None:
    northwind = stack.systems.northwind
    lock = northwind.lock()
    try:
        async with stack.worker() as worker:
            arguments = [{"order_id": o, "shipped_date": date.today().isoformat()} for o in ORDERS]
            trails = await _ride_out(
                stack,
                worker,
                "northwind.ship_order",
                arguments,
                down_for=1.5,
                back_up=lambda: asyncio.to_thread(lock.release),
            )
    finally:
        lock.release()
    assert_rode_out_the_outage(trails, "locked")
    shipped = northwind.query(
        f"SELECT OrderID FROM Orders WHERE ShippedDate IS NOT NULL AND OrderID IN ({','.join('?' * len(ORDERS))})",
        ORDERS,
    )
    assert sorted(o for (o,) in shipped) == sorted(ORDERS)
    keys = northwind.query("SELECT idempotency_key FROM retrofit_idempotency")
    assert sorted(k for (k,) in keys) == sorted(f"{trail[0].workflow_id}#1" for trail in trails)


# --- longer than the retry budget: escalation --------------------------------------------------


async def test_outage_past_the_retry_budget_escalates_and_retry_finishes_once(stack: Stack) -> None:
    erp = stack.systems.erp
    await _post(f"{erp.url}/_admin/faults", {"fail_next": 10_000})
    async with stack.worker() as worker:
        handles = await _start_all(
            stack.env,
            worker,
            "erp.record_payment",
            [{"invoice_id": i, "amount": "10.00"} for i in ("INV-10002", "INV-10003")],
        )
        views = [await _failure_request(h) for h in handles]
        assert [v.request_id for v in views] == ["fail-1-1", "fail-1-1"]
        assert all(v.choices == ["retry", "skip", "abort"] for v in views)
        assert (await _effects(erp.url))["payments"] == {}

        await _post(f"{erp.url}/_admin/faults", {})  # the ERP is back
        cli = await _cli_resolve(stack.env, handles[0].id, "fail-1-1", "retry")
        assert cli.returncode == 0, cli.stdout
        by_update = await handles[1].execute_update(
            "resolve_failure",
            await signed(None, handles[1].id, views[1], "ops", "retry"),
            result_type=ResolveFailureResult,
        )
        assert by_update.choice == "retry"
        results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), timeout=60)
    assert [r.output["invoice_id"] for r in results] == ["INV-10002", "INV-10003"]
    effects = await _effects(erp.url)
    assert effects["payments"] == {"INV-10002": 1, "INV-10003": 1}

    for handle in handles:
        trail = await audit_of(stack.audit_url, handle.id)
        kinds = [r.kind.value for r in trail]
        first_round = [r for r in trail if r.kind.value == "action.attempt_failed" and "round" not in r.data]
        assert {r.attempt for r in first_round} == {1, 2, 3, 4, 5}  # the whole budget, then a person
        assert "CircuitOpen" in {r.data["error_type"] for r in first_round}
        assert (
            kinds.index("action.failed") < kinds.index("failure.escalated") < kinds.index("failure.resolved")
        )
        assert kinds[-1] == "action.succeeded" and trail[-1].data["round"] == 2
        assert len({r.event_id for r in trail}) == len(trail)
    resolved = next(
        r for r in await audit_of(stack.audit_url, handles[0].id) if r.kind.value == "failure.resolved"
    )
    assert resolved.actor.name == "erin"  # the verified subject, not a typed name
    assert resolved.actor.identity and resolved.actor.identity.startswith("retrofit-cli:")
    async with await AuditStore.open(stack.audit_url) as store:
        assert (await store.verify()).ok


async def _failure_request(handle: WorkflowHandle[Any, Any]) -> ApprovalView:
    for _ in range(600):
        views: list[ApprovalView] = await handle.query("pending_approvals", result_type=list[ApprovalView])
        failures = [v for v in views if v.kind == "failure"]
        if failures:
            return failures[0]
        await asyncio.sleep(0.1)
    raise AssertionError("no failure request within 60 s")


@dataclass
class _Done:
    returncode: int
    stdout: str


async def _cli_resolve(env: WorkflowEnvironment, workflow_id: str, request_id: str, choice: str) -> _Done:
    # The CLI answers as a person the identity service signs for, with the key the worker pins.
    with tempfile.TemporaryDirectory() as tmp, identity_service(Path(tmp), signer=SIGNER) as identity:
        env_vars = {
            **os.environ,
            "RETROFIT_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "RETROFIT_TEMPORAL_NAMESPACE": env.client.namespace,
            **identity.env("erin"),
        }
        process = await asyncio.create_subprocess_exec(
            str(BIN / "retrofit"),
            "resolve",
            workflow_id,
            request_id,
            choice,
            "--as",
            "erin",
            env=env_vars,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    return _Done(process.returncode or 0, out.decode())
