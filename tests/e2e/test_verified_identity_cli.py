"""Verified identity end to end on the dev server: the CLI answers only as a person the identity
service authenticated, and what an attacker tries instead is refused and recorded.

The attacker's tries: a name without its password, someone else's session, a raw `temporalio`
client sending a typed name, an assertion signed by a key the worker does not pin, the same
person twice under another spelling (`ALICE` for `alice`), the requester approving their own
request — and the identity service being down is a clear error, not a silent unverified answer.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from legacy.ledger.server import LedgerServer
from retrofit.gate.approval_models import ApprovalView
from retrofit.identity.testing import TestSigner
from tests.e2e.conftest import Identity
from tests.e2e.test_dev_server_cli import Cli, _cli
from tests.support import audit_of, kinds, ledger_effects, ledger_worker

DELETE = {"action": "ledger.delete_customer", "arguments": {"customer_id": "C-1004"}}


async def _view(handle: WorkflowHandle[Any, Any], request_id: str = "apr-1") -> ApprovalView:
    for _ in range(200):
        views: list[ApprovalView] = await handle.query("pending_approvals", result_type=list[ApprovalView])
        for view in views:
            if view.request_id == request_id:
                return view
        await asyncio.sleep(0.05)
    raise AssertionError(f"{handle.id}: {request_id} never pending")


async def _start_delete(cli: Cli, identity: Identity, prefix: str) -> str:
    wf_id = f"{prefix}-{uuid.uuid4().hex[:8]}"
    code, _, err = await cli(
        "start",
        "SingleAction",
        "--input",
        json.dumps(DELETE),
        "--id",
        wf_id,
        "--as",
        "erin",
        env=identity.env("erin"),
    )
    assert code == 0, err
    return wf_id


@pytest.mark.devserver
async def test_only_people_who_can_log_in_answer_and_each_person_counts_once(
    dev_server_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str, identity: Identity
) -> None:
    client: Client = dev_server_env.client
    async with ledger_worker(client, ledger, audit_url, identity=identity.pin) as worker:
        cli = _cli(client, worker.task_queue, audit_url, identity)
        wf_id = await _start_delete(cli, identity, "verified-delete")
        handle = client.get_workflow_handle(wf_id)
        view = await _view(handle)
        assert view.approvers_needed == 2
        assert view.started_by == "erin", "the verified starter, from the signed start header"

        # --as someone whose password you do not have.
        code, _, err = await cli(
            "approvals", "approve", wf_id, "apr-1", "--as", "bob", env=identity.env(password="guess")
        )
        assert code == 1 and "refused the login: unknown user or wrong password" in err
        code, _, err = await cli(
            "approvals", "approve", wf_id, "apr-1", "--as", "nobody", env=identity.env(password="x")
        )
        assert code == 1 and "refused the login: unknown user or wrong password" in err
        # No password at all, no terminal to ask on: not logged in, nothing sent.
        code, _, err = await cli("approvals", "approve", wf_id, "apr-1", "--as", "bob")
        assert code == 1 and "not logged in as 'bob'" in err
        # Logged in as alice, `--as bob` does not borrow alice's session.
        code, _, err = await cli("login", "alice", env=identity.env("alice"))
        assert code == 0, err
        code, _, err = await cli("approvals", "approve", wf_id, "apr-1", "--as", "bob")
        assert code == 1 and "not logged in as 'bob'" in err
        # The identity service down: a clear error, no unsigned answer goes out instead.
        code, _, err = await cli(
            "approvals",
            "approve",
            wf_id,
            "apr-1",
            "--as",
            "alice",
            env={**identity.env("alice"), "RETROFIT_IDENTITY_URL": "http://127.0.0.1:9"},
        )
        assert code == 1 and "cannot reach the identity service at http://127.0.0.1:9" in err
        assert (await _view(handle)).approved_by == []

        # The requester may not approve their own request.
        code, _, err = await cli(
            "approvals", "approve", wf_id, "apr-1", "--as", "erin", env=identity.env("erin")
        )
        assert code == 1 and "started this workflow and may not answer its own request" in err, err

        # A raw client typing a name, and one with an assertion from a key nobody pinned.
        typed = {
            "workflow_id": wf_id,
            "request_id": "apr-1",
            "decision": "approve",
            "args_hash": view.args_hash,
            "approver": "bob",
            "reason": "trust me",
        }
        await handle.signal("approve", typed)
        forged = TestSigner().answer(
            "bob", workflow_id=wf_id, request_id="apr-1", args_hash=view.args_hash, decision="approve"
        )
        await handle.signal("approve", forged)

        # alice (verified) approves; "ALICE" is the same person and does not make a second approval.
        code, out, err = await cli("approvals", "approve", wf_id, "apr-1", "--reason", "checked")
        assert code == 0 and "as alice (1/2 approvals: alice)" in out, out + err
        code, _, err = await cli(
            "approvals", "approve", wf_id, "apr-1", "--as", "ALICE", env=identity.env("alice")
        )
        assert code == 1 and "has already approved request apr-1; another person must" in err, err
        assert (await _view(handle)).approved_by == ["alice"]

        code, out, err = await cli(
            "approvals", "approve", wf_id, "apr-1", "--as", "bob", env=identity.env("bob")
        )
        assert code == 0, err
        await asyncio.wait_for(handle.result(), timeout=60)
        assert ledger_effects(ledger)["deleted"] == {"C-1004": 1}

    records = await audit_of(audit_url, wf_id)
    granted = [r for r in records if r.kind.value == "approval.granted"]
    assert [r.actor.name for r in granted] == ["alice", "bob"]
    refused = [r for r in records if r.kind.value == "approval.refused"]
    # erin's own, the typed name, the foreign key, ALICE again: each refused and recorded.
    assert len(refused) >= 4, kinds(records)
    assert not any(r.data.get("reason") == "trust me" for r in granted)
