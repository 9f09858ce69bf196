"""`retrofit mcp serve --http` as the command runs it (a subprocess on its own port): a typo in
--actions stops it before it serves anything; started (the actions from RETROFIT_MCP_ACTIONS), it
answers the SDK client with a bearer and refuses one without (401)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from legacy.ledger.server import LedgerServer
from tests.identity_service import identity_service
from tests.identity_support import SIGNER
from tests.mcp.serving.stack import (
    RETROFIT,
    HttpServer,
    free_port,
    serve_settings,
    session_of,
    subprocess_env,
)
from tests.support import ledger_worker


@pytest.mark.devserver
async def test_the_command_serves_http_with_bearers_only(
    dev_server_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str, tmp_path: Path
) -> None:
    client: Client = dev_server_env.client
    with identity_service(tmp_path, signer=SIGNER) as identity:
        alice = (await session_of(identity, "alice"))["session"]
        async with ledger_worker(client, ledger, audit_url) as worker:
            settings = serve_settings(client, worker.task_queue, identity, tmp_path / "serve")
            env = subprocess_env(settings, identity)

            typo = await asyncio.create_subprocess_exec(
                RETROFIT, "mcp", "serve", "--http", "--actions", "ledger.get_customers", env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            _, err = await asyncio.wait_for(typo.communicate(), timeout=60)
            assert typo.returncode == 1 and "'ledger.get_customers' matches no action" in err.decode(), err

            port = free_port()
            proc = await asyncio.create_subprocess_exec(
                RETROFIT, "mcp", "serve", "--http", "--port", str(port),
                env={**env, "RETROFIT_MCP_ACTIONS": "ledger.get_customer, ledger.set_credit_limit ledger.*"},
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            try:
                server = HttpServer(f"http://127.0.0.1:{port}/mcp")
                async with httpx.AsyncClient(timeout=5) as http:
                    for _ in range(300):
                        with contextlib.suppress(httpx.TransportError):
                            response = await http.post(server.url, json={})
                            break
                        assert proc.returncode is None, "retrofit mcp serve --http exited"
                        await asyncio.sleep(0.1)
                    else:
                        raise AssertionError(f"retrofit mcp serve --http never listened on {port}")
                    assert response.status_code == 401
                async with server.client(alice) as mcp:
                    names = {t.name for t in (await mcp.list_tools()).tools}
                    assert "ledger__delete_customer" in names and len(names) == 4
                    read = await mcp.call_tool("ledger__get_customer", {"customer_id": "C-1004"})
                    assert not read.is_error and read.structured_content["id"] == "C-1004"
            finally:
                proc.terminate()
                _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
            assert "retrofit mcp serve: http://127.0.0.1:" in err.decode(), err
