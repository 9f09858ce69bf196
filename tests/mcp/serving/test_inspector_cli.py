"""A real third-party MCP client against `retrofit mcp serve --http`: the MCP Inspector's CLI
(`@modelcontextprotocol/inspector`, pinned in `inspector/package.json` + lock, installed with
`npm ci` there). It lists the tools, calls a READ, and calls a WRITE that completes after
another verified person approves it.

Skips when the Inspector is not installed, unless RETROFIT_REQUIRE_MCP_INSPECTOR=1 (CI)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from legacy.ledger.server import LedgerServer
from tests.identity_service import identity_service
from tests.identity_support import SIGNER, pending_views, signed
from tests.mcp.serving.stack import mcp_http, serve_settings, session_of
from tests.support import ledger_effects, ledger_worker

INSPECTOR_DIR = Path(__file__).parent / "inspector"
INSPECTOR = INSPECTOR_DIR / "node_modules" / ".bin" / "mcp-inspector"
REQUIRE_ENV = "RETROFIT_REQUIRE_MCP_INSPECTOR"


def _inspector_or_skip() -> Path:
    if INSPECTOR.exists() and shutil.which("node"):
        return INSPECTOR
    reason = f"the MCP Inspector is not installed: run `npm ci` in {INSPECTOR_DIR} (needs node and npm)"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but {reason}")
    pytest.skip(reason)


async def _inspector(home: Path, url: str, bearer: str, *args: str) -> Any:
    proc = await asyncio.create_subprocess_exec(
        str(INSPECTOR),
        "--cli",
        url,
        "--transport",
        "http",
        "--header",
        f"Authorization: Bearer {bearer}",
        "--format",
        "json",
        *args,
        env={**os.environ, "HOME": str(home), "MCP_CATALOG_PATH": str(home / "mcp.json")},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=90)
    assert proc.returncode == 0, (proc.returncode, out.decode()[-2000:], err.decode()[-2000:])
    reply = json.loads(out)  # --format json: {"result": <the MCP result>}
    return reply["result"]


async def _running_call(client: Client, task_queue: str) -> str:
    query = f'TaskQueue = "{task_queue}" AND WorkflowType = "SingleAction" AND ExecutionStatus = "Running"'
    for _ in range(300):
        async for wf in client.list_workflows(query):
            return wf.id
        await asyncio.sleep(0.1)
    raise AssertionError("the Inspector's call never started a workflow")


@pytest.mark.devserver
async def test_the_mcp_inspector_lists_reads_and_writes_after_an_approval(
    dev_server_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str, tmp_path: Path
) -> None:
    _inspector_or_skip()
    client: Client = dev_server_env.client
    home = tmp_path / "inspector-home"
    home.mkdir()
    with identity_service(tmp_path, signer=SIGNER) as identity:
        alice = (await session_of(identity, "alice"))["session"]
        async with ledger_worker(client, ledger, audit_url) as worker:
            settings = serve_settings(client, worker.task_queue, identity, tmp_path / "serve")
            async with mcp_http(settings, client, ["ledger.get_customer", "ledger.add_note"]) as server:
                listed = await _inspector(home, server.url, alice, "--method", "tools/list")
                tools = {t["name"]: t for t in listed["tools"]}
                assert set(tools) == {"ledger__get_customer", "ledger__add_note"}
                assert tools["ledger__get_customer"]["annotations"]["readOnlyHint"] is True
                assert tools["ledger__add_note"]["annotations"]["readOnlyHint"] is False

                read = await _inspector(
                    home,
                    server.url,
                    alice,
                    "--method",
                    "tools/call",
                    "--tool-name",
                    "ledger__get_customer",
                    "--tool-arg",
                    "customer_id=C-1001",
                )
                assert read.get("isError") is not True, read
                assert read["structuredContent"]["id"] == "C-1001"

                write = asyncio.ensure_future(
                    _inspector(
                        home,
                        server.url,
                        alice,
                        "--method",
                        "tools/call",
                        "--tool-name",
                        "ledger__add_note",
                        "--tool-args-json",
                        json.dumps({"customer_id": "C-1001", "text": "from the inspector"}),
                    )
                )
                wf_id = await _running_call(client, worker.task_queue)
                [view] = await _pending_soon(client, wf_id)
                assert view.started_by == "alice" and not write.done()
                await client.get_workflow_handle(wf_id).execute_update(
                    "decide", await signed(None, wf_id, view, "bob", "approve")
                )
                result = await write
                assert result.get("isError") is not True, result
                assert result["structuredContent"]["text"] == "from the inspector"
                assert ledger_effects(ledger)["notes"] == {"C-1001": 1}, ledger_effects(ledger)


async def _pending_soon(client: Client, wf_id: str) -> list[Any]:
    for _ in range(200):
        try:
            views = await pending_views(client, wf_id)
        except Exception:
            views = []
        if views:
            return views
        await asyncio.sleep(0.05)
    raise AssertionError(f"{wf_id}: no approval request")
