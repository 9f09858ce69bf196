"""`retrofit mcp serve --http` end to end on the dev server, with the SDK's own client: the tools
the operator chose, a READ answered at once, a WRITE that waits (progress says for what and
where), approved by another verified person or rejected; the attacker's tries — no bearer, a
forged one, a password instead of a bearer, another person's MCP session, the identity service
down, the caller approving their own call — start nothing and count for nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from legacy.ledger.server import LedgerServer
from tests.identity_service import identity_service
from tests.identity_support import SIGNER, pending_views, signed
from tests.mcp.serving.stack import call_waiting, free_port, mcp_http, serve_settings, session_of
from tests.support import audit_of, kinds, ledger_effects, ledger_worker


@pytest.mark.devserver
async def test_tools_reads_and_a_write_that_waits_for_another_persons_approval(
    dev_server_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str, tmp_path: Path
) -> None:
    client: Client = dev_server_env.client
    with identity_service(tmp_path, signer=SIGNER) as identity:
        alice = (await session_of(identity, "alice"))["session"]
        async with ledger_worker(client, ledger, audit_url) as worker:
            settings = serve_settings(client, worker.task_queue, identity, tmp_path / "serve")

            # Default: READ actions only.
            async with mcp_http(settings, client) as server, server.client(alice) as mcp:
                listed = {t.name: t for t in (await mcp.list_tools()).tools}
                assert set(listed) == {"ledger__get_customer"}
                read = listed["ledger__get_customer"]
                assert read.annotations is not None
                assert read.annotations.read_only_hint is True and read.annotations.idempotent_hint is True
                assert read.input_schema["required"] == ["customer_id"]
                assert "Read-only" in (read.description or "")

                result = await mcp.call_tool("ledger__get_customer", {"customer_id": "C-1001"})
                assert not result.is_error, result.content
                assert isinstance(result.structured_content, dict)
                assert result.structured_content["id"] == "C-1001"
                assert '"C-1001"' in result.content[0].text  # type: ignore[union-attr]

                # A WRITE that is not served is not callable either.
                refused = await mcp.call_tool(
                    "ledger__set_credit_limit", {"customer_id": "C-1001", "credit_limit": 1}
                )
                assert refused.is_error and "no tool 'ledger__set_credit_limit'" in refused.content[0].text  # type: ignore[union-attr]
                # Arguments that do not fit the input model: refused before anything starts.
                bad = await mcp.call_tool("ledger__get_customer", {"customer_id": "../etc"})
                assert bad.is_error and "invalid arguments for ledger.get_customer" in bad.content[0].text  # type: ignore[union-attr]

            async with mcp_http(settings, client, ["ledger.*"]) as server:
                async with server.client(alice) as mcp:
                    listed = {t.name: t for t in (await mcp.list_tools()).tools}
                assert set(listed) == {
                    "ledger__get_customer",
                    "ledger__set_credit_limit",
                    "ledger__add_note",
                    "ledger__delete_customer",
                }
                write, gone = (
                    listed["ledger__set_credit_limit"].annotations,
                    listed["ledger__delete_customer"].annotations,
                )
                assert write is not None and gone is not None
                assert (write.read_only_hint, write.destructive_hint) == (False, False)
                assert (gone.read_only_hint, gone.destructive_hint) == (False, True)

                task, messages, wf_id = await call_waiting(
                    lambda: server.client(alice),
                    "ledger__set_credit_limit",
                    {"customer_id": "C-1002", "credit_limit": 7500},
                )
                assert (
                    "waiting for approval apr-1 in the Temporal UI (anyone but you; 0/1 approvals)"
                    in messages[0]
                )
                [view] = await pending_views(client, wf_id)
                assert view.started_by == "alice", "the caller is the verified starter"

                # The caller approving their own call: refused by the gate, and it waits on.
                handle = client.get_workflow_handle(wf_id)
                with pytest.raises(WorkflowUpdateFailedError) as own:
                    await handle.execute_update("decide", await signed(None, wf_id, view, "alice", "approve"))
                assert "started this workflow and may not answer its own request" in str(own.value.cause)
                assert not task.done()

                await handle.execute_update("decide", await signed(None, wf_id, view, "bob", "approve"))
                result = await asyncio.wait_for(task, timeout=30)
                assert not result.is_error, result.content
                assert isinstance(result.structured_content, dict)
                assert float(result.structured_content["credit_limit"]) == 7500
                assert ledger_effects(ledger)["credit_limit"] == {"C-1002": 1}

                records = await audit_of(audit_url, wf_id)
                granted = [r for r in records if r.kind.value == "approval.granted"]
                assert [r.actor.name for r in granted] == ["bob"], kinds(records)
                assert any(r.kind.value == "approval.refused" for r in records), kinds(records)

                # Rejected: a tool error with who and why, in one sentence.
                task, _, wf_id = await call_waiting(
                    lambda: server.client(alice),
                    "ledger__add_note",
                    {"customer_id": "C-1002", "text": "call back"},
                )
                [view] = await pending_views(client, wf_id)
                await client.get_workflow_handle(wf_id).execute_update(
                    "decide", await signed(None, wf_id, view, "bob", "reject", reason="not today")
                )
                result = await asyncio.wait_for(task, timeout=30)
                assert result.is_error
                text = result.content[0].text  # type: ignore[union-attr]
                assert text == "ledger.add_note rejected by bob: not today", text


@pytest.mark.devserver
async def test_no_forged_or_password_bearer_is_a_401_and_starts_nothing(
    dev_server_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str, tmp_path: Path
) -> None:
    client: Client = dev_server_env.client
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "x", "version": "1"},
        },
    }
    with identity_service(tmp_path, signer=SIGNER) as identity:
        alice = (await session_of(identity, "alice"))["session"]
        async with ledger_worker(client, ledger, audit_url) as worker:
            settings = serve_settings(client, worker.task_queue, identity, tmp_path / "serve")
            async with mcp_http(settings, client, ["ledger.*"]) as server:
                forged = SIGNER.answer(
                    "alice", workflow_id="x", request_id="apr-1", args_hash="0" * 64, decision="approve"
                )["assertion"]
                tries = {
                    "none": {},
                    "forged": {"Authorization": "Bearer not-a-session"},
                    "assertion": {"Authorization": f"Bearer {forged}"},  # signed, but not a login
                    "password": {"Authorization": "Basic YWxpY2U6ZGVtby1hbGljZQ=="},  # alice:demo-alice
                    "tampered": {"Authorization": f"Bearer {alice[:-2]}xx"},
                }
                call = {
                    "jsonrpc": "2.0",
                    "id": 2,
                    "method": "tools/call",
                    "params": {"name": "ledger__get_customer", "arguments": {"customer_id": "C-1001"}},
                }
                headers = {
                    "Accept": "application/json, text/event-stream",
                    "Content-Type": "application/json",
                }
                async with httpx.AsyncClient(timeout=10) as http:
                    for label, auth in tries.items():
                        response = await http.post(server.url, json=initialize, headers={**headers, **auth})
                        assert response.status_code == 401, (label, response.status_code, response.text)
                        response = await http.post(server.url, json=call, headers={**headers, **auth})
                        assert response.status_code == 401, (label, response.status_code)
                    # bob's valid bearer on alice's MCP session: as if the session did not exist.
                    bob = (await session_of(identity, "bob"))["session"]
                    opened = await http.post(
                        server.url, json=initialize, headers={**headers, "Authorization": f"Bearer {alice}"}
                    )
                    assert opened.status_code == 200, opened.text
                    session_id = opened.headers["mcp-session-id"]
                    listing = {"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {}}
                    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
                    for who, status in ((bob, 404), (alice, 200)):  # alice: the control
                        mine = {**headers, "Authorization": f"Bearer {who}", "Mcp-Session-Id": session_id}
                        notified = await http.post(server.url, json=initialized, headers=mine)
                        response = await http.post(server.url, json=listing, headers=mine)
                        assert response.status_code == status, (
                            who == bob,
                            response.status_code,
                            response.text,
                        )
                        assert notified.status_code == (404 if status == 404 else 202), notified.status_code
                    assert "ledger__get_customer" in response.text
                # The SDK client without a bearer cannot even connect.
                with pytest.raises(Exception):  # noqa: B017 - the SDK's error for a 401 differs by era
                    async with server.client(None) as mcp:
                        await mcp.list_tools()

                async with server.client(alice) as mcp:
                    ok = await mcp.call_tool("ledger__get_customer", {"customer_id": "C-1001"})
                assert not ok.is_error

            # The identity service unreachable: nobody is verified, alice's good session included.
            down = settings.model_copy(update={"identity_url": f"http://127.0.0.1:{free_port()}"})
            async with mcp_http(down, client, ["ledger.*"]) as server, httpx.AsyncClient(timeout=10) as http:
                response = await http.post(
                    server.url, json=call, headers={**headers, "Authorization": f"Bearer {alice}"}
                )
                assert response.status_code == 401, response.status_code

        # Visibility lags a little: wait for the legitimate call's workflow, started after every
        # refused try, so one of theirs would be listed by then too.
        query = f'TaskQueue = "{worker.task_queue}" AND WorkflowType = "SingleAction"'
        for _ in range(100):
            ids = [wf.id async for wf in client.list_workflows(query)]
            if ids:
                break
            await asyncio.sleep(0.1)
        assert len(ids) == 1 and ids[0].startswith("mcp-ledger-get_customer-"), ids
