"""`retrofit start` as a business user meets it: what it refuses before anything starts (one
line, never a traceback, nothing left running), a reused `--id`, and `--wait` saying which
approval it waits for and how to answer it."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from legacy.ledger.server import LedgerServer
from tests.e2e.conftest import Identity
from tests.e2e.test_dev_server_cli import RETROFIT, _cli
from tests.support import ledger_worker


async def _running(env: WorkflowEnvironment, prefix: str) -> list[str]:
    return [
        w.id
        async for w in env.client.list_workflows(f"WorkflowId STARTS_WITH '{prefix}'")
        if w.status == WorkflowExecutionStatus.RUNNING
    ]


@pytest.mark.devserver
async def test_start_refuses_bad_input_in_one_line_and_starts_nothing(
    dev_server_env: WorkflowEnvironment,
    ledger: LedgerServer,
    audit_url: str,
    identity: Identity,
    tmp_path: Path,
) -> None:
    prefix = f"refuse-{uuid.uuid4().hex[:8]}"
    async with ledger_worker(dev_server_env.client, ledger, audit_url, identity=identity.pin) as worker:
        cli = _cli(dev_server_env.client, worker.task_queue, audit_url, identity)
        code, _, err = await cli("login", "erin", env=identity.env("erin"))
        assert code == 0, err
        cases = {
            "big": ('{"customer_id": "' + "C" * (5 * 1024 * 1024) + '"}', "Temporal refuses a payload over"),
            "deep": ('{"customer_id": ' + "[" * 5000 + "]" * 5000 + "}", "at most 64 levels are accepted"),
            "surrogate": ('{"customer_id": "C-1\\ud800"}', "lone surrogate (U+D800)"),
            "nan": ('{"customer_id": "C-1001", "utilisation_threshold": NaN}', "NaN is not a JSON number"),
            "null": ("null", "invalid input for CreditLimitReview, nothing started"),
            "list": ("[]", "invalid input for CreditLimitReview, nothing started"),
            "pattern": ('{"customer_id": "../admin"}', "customer_id:"),
            "unknown": (
                '{"customer_id": "C-1001", "treshold": 0.1}',
                "treshold: Extra inputs are not permitted",
            ),
        }
        for case, (text, says) in cases.items():
            argument = text
            if len(text) > 100_000:  # over what one argv string may hold: through a file
                (tmp_path / f"{case}.json").write_text(text)
                argument = f"@{tmp_path / f'{case}.json'}"
            code, out, err = await cli(
                "start", "CreditLimitReview", "--input", argument, "--id", f"{prefix}-{case}"
            )
            assert code == 1, (case, out)
            assert says in err, (case, err[:500])
            assert "Traceback" not in err and len(err.strip().splitlines()) <= 3, (case, err[:500])
        code, _, err = await cli("start", "CreditLimitReview", "--input", f"@{tmp_path / 'absent.json'}")
        assert code == 1 and "cannot read" in err and "No such file or directory" in " ".join(err.split()), (
            err
        )
        code, _, err = await cli("start", "CreditLimitReview", "--input", f"@{tmp_path / 'absent.json'}")
        assert code == 1 and "cannot read" in err and "No such file or directory" in " ".join(err.split()), (
            err
        )
        assert await _running(dev_server_env, prefix) == []
        assert [
            w.id async for w in dev_server_env.client.list_workflows(f"WorkflowId STARTS_WITH '{prefix}'")
        ] == []

        # A reused id: the first run finishes (C-1001 is under the threshold), the second is refused.
        reused = f"{prefix}-reused"
        code, out, err = await cli(
            "start", "CreditLimitReview", "--input", '{"customer_id": "C-1001"}', "--id", reused, "--wait"
        )
        assert code == 0, out + err
        code, _, err = await cli(
            "start", "CreditLimitReview", "--input", '{"customer_id": "C-1001"}', "--id", reused
        )
        assert code == 1 and f"workflow id {reused!r} is already taken" in err and "Traceback" not in err, err


@pytest.mark.devserver
async def test_wait_says_which_approval_it_waits_for_and_how_to_answer(
    dev_server_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str, identity: Identity
) -> None:
    wf_id = f"wait-{uuid.uuid4().hex[:8]}"
    async with ledger_worker(dev_server_env.client, ledger, audit_url, identity=identity.pin) as worker:
        cli = _cli(dev_server_env.client, worker.task_queue, audit_url, identity)
        code, _, err = await cli("login", "erin", env=identity.env("erin"))
        assert code == 0, err
        proc = await asyncio.create_subprocess_exec(
            RETROFIT,
            "start",
            "CreditLimitReview",
            "--input",
            json.dumps({"customer_id": "C-1006"}),
            "--id",
            wf_id,
            "--wait",
            env=cli.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        seen: list[str] = []

        async def line_with(text: str) -> str:
            while True:
                raw = await asyncio.wait_for(proc.stdout.readline(), timeout=60)  # type: ignore[union-attr]
                assert raw, f"--wait ended before saying {text!r}: {seen}"
                seen.append(raw.decode())
                if text in seen[-1]:
                    return seen[-1]

        first = await line_with("waiting for approval apr-2")
        assert "ledger.set_credit_limit" in first and "0/1 approvals" in first
        assert (
            f"retrofit approvals approve {wf_id} apr-2" in first
            and f"retrofit approvals reject {wf_id} apr-2" in first
        )
        code, _, err = await cli(
            "approvals", "approve", wf_id, "apr-2", "--as", "alice", env=identity.env("alice")
        )
        assert code == 0, err
        await line_with("waiting for approval apr-3")
        code, _, err = await cli(
            "approvals", "approve", wf_id, "apr-3", "--as", "alice", env=identity.env("alice")
        )
        assert code == 0, err
        out, err_bytes = await asyncio.wait_for(proc.communicate(), timeout=60)
        assert proc.returncode == 0, err_bytes.decode()
        assert json.loads(out.decode()[out.decode().index("{") :])["new_limit"] == "90000.00"
