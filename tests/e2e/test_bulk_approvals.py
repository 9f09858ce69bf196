"""`retrofit approvals approve --all --workflow-type T`: the pending requests of one type that a
person reviewed — exactly the request/hash pairs of the `--reviewed` file, each with its own
signed assertion — and nothing of other types, nothing changed since, nothing not reviewed."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import uuid
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from legacy.ledger.server import LedgerServer
from retrofit.gate.approval_models import ApprovalView
from tests.e2e.conftest import Identity
from tests.reliability.processes import RETROFIT, cli
from tests.support import ledger_effects, ledger_worker
from workflows.credit_limit_review.models import CreditReviewInput
from workflows.single_action.workflow import SingleActionInput


@pytest.mark.devserver
async def test_approve_all_of_one_workflow_type(
    dev_server_env: WorkflowEnvironment,
    ledger: LedgerServer,
    audit_url: str,
    identity: Identity,
    tmp_path: Path,
) -> None:
    client = dev_server_env.client
    async with ledger_worker(client, ledger, audit_url, identity=identity.pin) as worker:
        env = dict(
            os.environ,
            RETROFIT_TEMPORAL_ADDRESS=client.service_client.config.target_host,
            RETROFIT_AUDIT_DB_URL=audit_url,
            COLUMNS="200",
            **identity.env("dave"),
        )
        tag = uuid.uuid4().hex[:6]
        handles = [
            await client.start_workflow(
                "SingleAction",
                SingleActionInput(
                    action="ledger.set_credit_limit",
                    arguments={"customer_id": customer, "credit_limit": "12345.00"},
                ),
                id=f"bulk-{tag}-{customer}",
                task_queue=worker.task_queue,
            )
            for customer in ("C-1001", "C-1002", "C-1003")
        ]
        other = await client.start_workflow(
            "CreditLimitReview",
            CreditReviewInput(customer_id="C-1006"),
            id=f"bulk-{tag}-review",
            task_queue=worker.task_queue,
        )
        for handle in [*handles, other]:
            for _ in range(100):
                if await handle.query("pending_approvals"):
                    break
                await asyncio.sleep(0.1)

        code, _, err = await cli(env, "approvals", "approve", "--all", "--as", "dave")
        assert code == 1 and "--all needs --workflow-type" in err
        # No terminal to confirm on and nothing reviewed: nothing is approved blind.
        code, _, err = await cli(
            env, "approvals", "approve", "--all", "--workflow-type", "SingleAction", "--as", "dave"
        )
        assert code == 1 and "--all approves only what a person has seen" in err

        reviewed = tmp_path / "reviewed.json"
        code, _, err = await cli(env, "approvals", "list", "--json", "-o", str(reviewed))
        assert code == 0, err
        rows = [r for r in json.loads(reviewed.read_text()) if r["workflow_id"].startswith(f"bulk-{tag}")]
        assert {r["workflow_id"] for r in rows} == {h.id for h in [*handles, other]}
        assert all(len(r["args_hash"]) == 64 and r["action"] for r in rows)
        # What the person saw: C-1001 as it is; C-1002 with other arguments than now (its hash
        # differs); C-1003 not at all (left out of the file).
        seen = [r for r in rows if r["workflow_id"] == handles[0].id]
        seen.append({**next(r for r in rows if r["workflow_id"] == handles[1].id), "args_hash": "0" * 64})
        reviewed.write_text(json.dumps(seen))
        code, out, err = await cli(
            env,
            "approvals",
            "approve",
            "--all",
            "--workflow-type",
            "SingleAction",
            "--as",
            "dave",
            "--reviewed",
            str(reviewed),
        )
        assert code == 0, err
        assert (
            "approved 1 request(s), refused 0, not reviewed 2, in 3 running SingleAction workflow(s)" in out
        )
        assert f"{handles[1].id} apr-1: not approved: its arguments changed since they were reviewed" in err
        assert f"{handles[2].id} apr-1: not approved: not in the reviewed file" in err
        await asyncio.wait_for(handles[0].result(), timeout=30)
        assert ledger_effects(ledger)["credit_limit"] == {"C-1001": 1}
        for handle in (handles[1], handles[2], other):  # unreviewed, changed, another type: untouched
            assert len(await handle.query("pending_approvals")) == 1

        # On a terminal: every request is shown, hash and all, and nothing happens without a yes.
        code, shown = await _on_terminal(
            env, "n", "approvals", "approve", "--all", "--workflow-type", "SingleAction"
        )
        assert code == 1 and "not confirmed: nothing approved" in shown, shown
        for handle in handles[1:]:
            [view] = await handle.query("pending_approvals", result_type=list[ApprovalView])
            assert f"{handle.id} apr-1: ledger.set_credit_limit" in shown and view.args_hash in shown, shown
        code, shown = await _on_terminal(
            env, "y", "approvals", "approve", "--all", "--workflow-type", "SingleAction", "--as", "dave"
        )
        assert code == 0 and "approved 2 request(s), refused 0, not reviewed 0" in shown, shown
        for handle in handles[1:]:
            await asyncio.wait_for(handle.result(), timeout=30)
        assert ledger_effects(ledger)["credit_limit"] == {"C-1001": 1, "C-1002": 1, "C-1003": 1}
        assert len(await other.query("pending_approvals")) == 1  # another type: untouched
        await other.terminate("test over")


async def _on_terminal(env: dict[str, str], answer: str, *args: str) -> tuple[int, str]:
    """Run the CLI on a pseudo-terminal, answer its confirmation prompt; (exit code, screen)."""
    main, child = pty.openpty()
    proc = await asyncio.create_subprocess_exec(
        RETROFIT, *args, env={**env, "NO_COLOR": "1", "TERM": "dumb"}, stdin=child, stdout=child, stderr=child
    )
    os.close(child)
    # One reader for the terminal, driven by the event loop: a read abandoned by a timeout must
    # never swallow output (the prompt) that a later read should have seen.
    chunks: asyncio.Queue[bytes] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def readable() -> None:
        try:
            chunks.put_nowait(os.read(main, 4096))
        except OSError:  # the child closed the terminal: it is done
            loop.remove_reader(main)
            chunks.put_nowait(b"")

    os.set_blocking(main, False)
    loop.add_reader(main, readable)
    screen = b""
    answered = False
    deadline = loop.time() + 90
    try:
        while loop.time() < deadline:
            try:
                chunk = await asyncio.wait_for(chunks.get(), timeout=1)
            except TimeoutError:
                if proc.returncode is not None:
                    break
                continue
            if not chunk:
                break
            screen += chunk
            if not answered and b"[y/N]" in screen:
                os.write(main, f"{answer}\n".encode())
                answered = True
        if proc.returncode is None and loop.time() >= deadline:
            proc.kill()
        code = await asyncio.wait_for(proc.wait(), timeout=30)
    finally:
        loop.remove_reader(main)
        os.close(main)
    return code, screen.decode(errors="replace").replace("\r", "")
