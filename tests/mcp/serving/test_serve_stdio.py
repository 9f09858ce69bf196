"""`retrofit mcp serve` over stdio, as Claude Desktop runs it: a subprocess the SDK's client
spawns, calling as the local user's saved `retrofit login` session. Without a session it does
not start (and says how to log in); with one, a READ answers and a WRITE waits for another
verified person's approval."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from temporalio.client import Client as TemporalClient
from temporalio.testing import WorkflowEnvironment

from legacy.ledger.server import LedgerServer
from retrofit.cli.identity_client import save_session
from tests.identity_service import identity_service
from tests.identity_support import SIGNER, pending_views, signed
from tests.mcp.serving.stack import RETROFIT, call_waiting, serve_settings, session_of, subprocess_env
from tests.support import audit_of, ledger_effects, ledger_worker


@pytest.mark.devserver
async def test_stdio_calls_as_the_logged_in_user_and_waits_for_an_approval(
    dev_server_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str, tmp_path: Path
) -> None:
    client: TemporalClient = dev_server_env.client
    with identity_service(tmp_path, signer=SIGNER) as identity:
        async with ledger_worker(client, ledger, audit_url) as worker:
            settings = serve_settings(client, worker.task_queue, identity, tmp_path / "cli-data")
            env = subprocess_env(settings, identity)

            # Not logged in: no server, and the reason on stderr (stdout is the MCP channel).
            proc = await asyncio.create_subprocess_exec(
                RETROFIT,
                "mcp",
                "serve",
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
            assert proc.returncode == 1 and out == b""
            assert "not logged in: run `retrofit login YOUR_NAME` first" in err.decode(), err

            save_session(settings, await session_of(identity, "alice"))  # `retrofit login alice`
            params = StdioServerParameters(
                command=RETROFIT,
                args=["mcp", "serve", "--actions", "ledger.get_customer,ledger.set_credit_limit"],
                env=env,
            )

            @contextlib.asynccontextmanager
            async def connect() -> AsyncIterator[Client]:
                async with Client(params) as mcp:
                    yield mcp

            async with connect() as mcp:
                listed = {t.name: t for t in (await mcp.list_tools()).tools}
                assert set(listed) == {"ledger__get_customer", "ledger__set_credit_limit"}
                result = await mcp.call_tool("ledger__get_customer", {"customer_id": "C-1003"})
                assert not result.is_error, result.content
                assert json.loads(result.content[0].text)["id"] == "C-1003"  # type: ignore[union-attr]

            task, messages, wf_id = await call_waiting(
                connect, "ledger__set_credit_limit", {"customer_id": "C-1003", "credit_limit": 1234.5}
            )
            assert "waiting for approval apr-1 in the Temporal UI" in messages[0]
            [view] = await pending_views(client, wf_id)
            assert view.started_by == "alice"
            await client.get_workflow_handle(wf_id).execute_update(
                "decide", await signed(None, wf_id, view, "bob", "approve")
            )
            result = await asyncio.wait_for(task, timeout=30)
            assert not result.is_error, result.content
            assert ledger_effects(ledger)["credit_limit"] == {"C-1003": 1}
            records = await audit_of(audit_url, wf_id)
            assert [r.actor.name for r in records if r.kind.value == "approval.granted"] == ["bob"]
