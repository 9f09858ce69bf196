"""SIGKILL a `retrofit worker` while an approved write is in flight; a new worker finishes the job.

The demo ledger applies the write and then holds its answer (fault `hold_next`), so the kill lands
exactly between "the effect happened" and "the worker heard about it". Temporal retries the action
on the new worker once the attempt's start-to-close timeout (30 s) has passed; the retry records
the killed attempt as `action.attempt_lost` (outcome unknown) and carries the same idempotency key,
so the ledger answers from its idempotency table instead of writing twice.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from tests.identity_service import Identity, identity_service
from tests.reliability.processes import WorkerProcess, cli, ledger_effects, ledger_writes, stack_environment
from tests.support import DemoSystems, audit_of, kinds
from workflows.single_action.workflow import SingleActionInput, SingleActionResult


async def _wait_for_write(url: str, key: str) -> None:
    for _ in range(300):
        if any(w["idempotency_key"] == key for w in await ledger_writes(url)):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the ledger never received the write {key}")


@pytest.fixture
def identity(tmp_path: Path) -> Iterator[Identity]:
    with identity_service(tmp_path) as running:
        yield running


@pytest.mark.devserver
@pytest.mark.timeout(180)
async def test_a_write_in_flight_survives_a_killed_worker_exactly_once(
    dev_server_env: WorkflowEnvironment,
    demo_systems: DemoSystems,
    audit_url: str,
    tmp_path: Path,
    identity: Identity,
) -> None:
    client = dev_server_env.client
    env = stack_environment(
        client.service_client.config.target_host, f"kill-{uuid.uuid4()}", audit_url, demo_systems
    )
    env.update(identity.env())  # the workers pin the identity service's key
    ledger = demo_systems.ledger
    first = WorkerProcess(env, tmp_path / "worker-1.log")
    second = WorkerProcess(env, tmp_path / "worker-2.log")
    wf_id = f"kill-mid-write-{uuid.uuid4().hex[:8]}"
    key = f"{wf_id}#1"
    try:
        await first.start()
        handle = await client.start_workflow(
            "SingleAction",
            SingleActionInput(
                action="ledger.set_credit_limit",
                arguments={"customer_id": "C-1004", "credit_limit": "33333.00"},
            ),
            id=wf_id,
            task_queue=env["RETROFIT_TASK_QUEUE"],
        )
        for _ in range(100):
            code, out, _ = await cli(env, "approvals", "list", "--workflow", wf_id)
            if "apr-1" in out:
                break
            await asyncio.sleep(0.2)
        # Held past the connector's read timeout: without the kill this attempt could not finish.
        async with httpx.AsyncClient() as http:
            hold = {"hold_next": 1, "hold_ms": 15_000}
            (await http.post(f"{ledger.url}/_admin/faults", json=hold)).raise_for_status()
        code, out, err = await cli(
            {**env, **identity.env("alice")}, "approvals", "approve", wf_id, "apr-1", "--as", "alice"
        )
        assert code == 0, err

        await _wait_for_write(ledger.url, key)  # applied; the answer is being held
        await first.kill()
        await second.start()
        result = await asyncio.wait_for(handle.result(), timeout=120)
    finally:
        await first.stop()
        await second.stop()

    assert SingleActionResult.model_validate(result).output["credit_limit"] == "33333.00"
    effects = await ledger_effects(ledger.url)
    assert effects["credit_limit"] == {"C-1004": 1}, effects
    assert effects["replays"] == 1
    writes = [w for w in await ledger_writes(ledger.url) if w["idempotency_key"] == key]
    assert [w["replayed"] for w in writes] == [False, True]

    records = await audit_of(audit_url, wf_id)
    assert len({r.event_id for r in records}) == len(records)  # no duplicate
    assert kinds(records) == [
        "action.proposed",
        "approval.requested",
        "approval.granted",
        "policy.allowed",
        "action.started",  # attempt 1: killed with the worker, no outcome of its own
        "action.attempt_lost",  # ... which attempt 2 finds and records before it starts
        "action.started",  # attempt 2: on the new worker
        "action.succeeded",
    ]
    assert [r.attempt for r in records if r.kind.value == "action.started"] == [1, 2]
    lost = next(r for r in records if r.kind.value == "action.attempt_lost")
    assert (lost.attempt, lost.idempotency_key) == (1, key)
    assert lost.data["outcome"] == "unknown" and lost.data["found_by"] == "attempt 2"
    assert "the write may have landed" in lost.data["message"]
    assert {r.idempotency_key for r in records if r.kind.value in ("action.started", "action.succeeded")} == {
        key
    }
    code, out, err = await cli(env, "audit", "verify")
    assert code == 0 and "audit chain intact" in out, err


@pytest.mark.devserver
@pytest.mark.timeout(180)
async def test_a_killed_attempt_is_recorded_lost_by_the_next_one(
    dev_server_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, tmp_path: Path
) -> None:
    """The same kill with no approval in the way (an operator policy that allows writes): the
    attempt that died with its worker is recorded `action.attempt_lost` — outcome unknown, the write
    may have landed — by the attempt that replaces it, and the ledger's state shows one effect."""
    client = dev_server_env.client
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[effects.read]\noutcome = "allow"\n\n[effects.write]\noutcome = "allow"\n', encoding="utf-8"
    )
    env = stack_environment(
        client.service_client.config.target_host, f"lost-{uuid.uuid4()}", audit_url, demo_systems
    )
    env["RETROFIT_POLICY_FILE"] = str(policy)
    ledger = demo_systems.ledger
    first = WorkerProcess(env, tmp_path / "worker-1.log")
    second = WorkerProcess(env, tmp_path / "worker-2.log")
    wf_id = f"lost-attempt-{uuid.uuid4().hex[:8]}"
    key = f"{wf_id}#1"
    try:
        await first.start()
        async with httpx.AsyncClient() as http:
            hold = {"hold_next": 1, "hold_ms": 15_000}
            (await http.post(f"{ledger.url}/_admin/faults", json=hold)).raise_for_status()
        handle = await client.start_workflow(
            "SingleAction",
            SingleActionInput(
                action="ledger.set_credit_limit",
                arguments={"customer_id": "C-1003", "credit_limit": "44444.00"},
            ),
            id=wf_id,
            task_queue=env["RETROFIT_TASK_QUEUE"],
        )
        await _wait_for_write(ledger.url, key)  # applied; the answer is being held
        await first.kill()
        await second.start()
        result = await asyncio.wait_for(handle.result(), timeout=120)
    finally:
        await first.stop()
        await second.stop()

    assert SingleActionResult.model_validate(result).output["credit_limit"] == "44444.00"
    assert (await ledger_effects(ledger.url))["credit_limit"] == {"C-1003": 1}
    records = await audit_of(audit_url, wf_id)
    assert kinds(records)[-4:] == [
        "action.started",
        "action.attempt_lost",
        "action.started",
        "action.succeeded",
    ]
    lost = next(r for r in records if r.kind.value == "action.attempt_lost")
    assert (lost.attempt, lost.idempotency_key, lost.data["outcome"]) == (1, key, "unknown")
    assert "the write may have landed" in lost.data["message"]
