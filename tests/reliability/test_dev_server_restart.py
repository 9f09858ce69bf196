"""A worker killed while its workflow waits for approval, then the Temporal dev server restarted on
its persistent database (`--db-filename`): after both, the approval still goes through."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from retrofit.embedded.dev_server import DevServer
from tests.identity_service import Identity, identity_service
from tests.reliability.processes import WorkerProcess, cli, ledger_effects, stack_environment
from tests.support import DemoSystems, audit_of, kinds
from workflows.single_action.workflow import SingleActionInput


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_listed(env: dict[str, str], wf_id: str, request_id: str) -> None:
    for _ in range(150):
        code, out, _ = await cli(env, "approvals", "list", "--workflow", wf_id)
        if code == 0 and request_id in out:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{request_id} of {wf_id} never listed")


@pytest.fixture
def identity(tmp_path: Path) -> Iterator[Identity]:
    with identity_service(tmp_path) as running:
        yield running


@pytest.mark.devserver
@pytest.mark.timeout(180)
async def test_approval_works_after_worker_kill_and_server_restart(
    demo_systems: DemoSystems, audit_url: str, tmp_path: Path, identity: Identity
) -> None:
    server = DevServer(
        port=_free_port(),
        ui_port=_free_port(),
        db_file=tmp_path / "temporal.db",
        log_file=tmp_path / "temporal.log",
    )
    env = stack_environment(server.address, f"restart-{uuid.uuid4()}", audit_url, demo_systems)
    env.update(identity.env())  # the workers pin the identity service's key
    first = WorkerProcess(env, tmp_path / "worker-1.log")
    second = WorkerProcess(env, tmp_path / "worker-2.log")
    wf_id = f"restart-{uuid.uuid4().hex[:8]}"
    try:
        await asyncio.to_thread(server.start)
        client = await Client.connect(server.address, data_converter=pydantic_data_converter)
        await first.start()
        await client.start_workflow(
            "SingleAction",
            SingleActionInput(
                action="ledger.set_credit_limit",
                arguments={"customer_id": "C-1002", "credit_limit": "27500.00"},
            ),
            id=wf_id,
            task_queue=env["RETROFIT_TASK_QUEUE"],
        )
        await _wait_listed(env, wf_id, "apr-1")

        await first.kill()
        await asyncio.to_thread(server.stop)
        await asyncio.to_thread(server.start)  # same ports, same database file
        await second.start()

        await _wait_listed(env, wf_id, "apr-1")  # still waiting, answered by the new worker
        code, out, err = await cli(
            {**env, **identity.env("bob")}, "approvals", "approve", wf_id, "apr-1", "--as", "bob"
        )
        assert code == 0 and "apr-1: approved" in out, err
        client = await Client.connect(server.address, data_converter=pydantic_data_converter)
        result = await asyncio.wait_for(client.get_workflow_handle(wf_id).result(), timeout=60)
    finally:
        await first.stop()
        await second.stop()
        await asyncio.to_thread(server.stop)

    assert result["output"]["credit_limit"] == "27500.00"
    assert (await ledger_effects(demo_systems.ledger.url))["credit_limit"] == {"C-1002": 1}
    records = await audit_of(audit_url, wf_id)
    assert kinds(records) == [
        "action.proposed",
        "approval.requested",
        "approval.granted",
        "policy.allowed",
        "action.started",
        "action.succeeded",
    ]
    granted = next(r for r in records if r.kind.value == "approval.granted")
    assert granted.actor.name == "bob" and (granted.actor.identity or "").startswith("retrofit-cli:")
    code, out, err = await cli(env, "audit", "verify")
    assert code == 0 and "audit chain intact: 6 records" in out, err
