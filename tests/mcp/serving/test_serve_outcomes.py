"""How the gate's other answers reach an MCP client: a request nobody answers in time (the
policy says reject) and a call the policy denies are tool errors with the gate's reason, and
the waiting message names the approver group the operator's policy gives."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from legacy.ledger.server import LedgerServer
from retrofit.gate.policy import ApprovalRequirement, Outcome, Policy, Rule
from tests.identity_service import identity_service
from tests.identity_support import SIGNER, pending_views, signed
from tests.mcp.serving.stack import call_waiting, mcp_http, serve_settings, session_of
from tests.support import audit_of, kinds, ledger_effects, ledger_worker

POLICY = Policy(
    by_action={
        "ledger.add_note": Rule(
            outcome=Outcome.REQUIRE_APPROVAL,
            reason="notes need finance",
            approval=ApprovalRequirement(
                allowed_groups=("finance",), timeout=timedelta(seconds=2), on_timeout="reject"
            ),
        ),
        "ledger.set_credit_limit": Rule(outcome=Outcome.DENY, reason="limits change in the ERP only"),
    },
    groups={"finance": ("alice", "bob")},
)


@pytest.mark.devserver
async def test_expired_and_denied_calls_are_tool_errors_with_the_gates_reason(
    dev_server_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str, tmp_path: Path
) -> None:
    client: Client = dev_server_env.client
    with identity_service(tmp_path, signer=SIGNER) as identity:
        erin = (await session_of(identity, "erin"))["session"]
        async with ledger_worker(client, ledger, audit_url, policy=POLICY) as worker:
            settings = serve_settings(client, worker.task_queue, identity, tmp_path / "serve")
            async with mcp_http(settings, client, ["ledger.*"]) as server:
                task, messages, wf_id = await call_waiting(
                    lambda: server.client(erin), "ledger__add_note", {"customer_id": "C-1001", "text": "hi"}
                )
                assert (
                    "waiting for approval apr-1 in the Temporal UI (group finance; 0/1 approvals)"
                    in messages[0]
                )
                result = await asyncio.wait_for(task, timeout=30)
                assert result.is_error
                text = result.content[0].text  # type: ignore[union-attr]
                assert text.startswith("ledger.add_note not approved:") and "\n" not in text, text
                assert "approval.expired" in kinds(await audit_of(audit_url, wf_id))

                async with server.client(erin) as mcp:
                    denied = await mcp.call_tool(
                        "ledger__set_credit_limit", {"customer_id": "C-1001", "credit_limit": 1}
                    )
                assert denied.is_error
                text = denied.content[0].text  # type: ignore[union-attr]
                assert "ledger.set_credit_limit" in text and "limits change in the ERP only" in text, text
                assert ledger_effects(ledger)["credit_limit"] == {} and ledger_effects(ledger)["notes"] == {}


ALLOW_NOTES = Policy(
    by_action={"ledger.add_note": Rule(outcome=Outcome.ALLOW, reason="notes are harmless here")}
)


@pytest.mark.devserver
async def test_the_result_leaves_redacted_though_the_legacy_system_got_the_real_value(
    dev_server_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str, tmp_path: Path
) -> None:
    client: Client = dev_server_env.client
    iban = "DE89370400440532013000"
    with identity_service(tmp_path, signer=SIGNER) as identity:
        erin = (await session_of(identity, "erin"))["session"]
        async with ledger_worker(client, ledger, audit_url, policy=ALLOW_NOTES) as worker:
            settings = serve_settings(client, worker.task_queue, identity, tmp_path / "serve")
            async with mcp_http(settings, client, ["ledger.add_note"]) as server, server.client(erin) as mcp:
                result = await mcp.call_tool(
                    "ledger__add_note", {"customer_id": "C-1001", "text": f"refund to IBAN {iban}"}
                )
    assert not result.is_error, result.content
    assert isinstance(result.structured_content, dict)
    assert result.structured_content["text"] == "refund to IBAN [IBAN]"
    assert iban not in result.content[0].text  # type: ignore[union-attr]
    assert ledger_effects(ledger)["notes"] == {"C-1001": 1}


@pytest.mark.devserver
async def test_a_destructive_call_reports_each_approval_and_needs_two_people(
    dev_server_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str, tmp_path: Path
) -> None:
    client: Client = dev_server_env.client
    with identity_service(tmp_path, signer=SIGNER) as identity:
        erin = (await session_of(identity, "erin"))["session"]
        async with ledger_worker(client, ledger, audit_url) as worker:
            settings = serve_settings(client, worker.task_queue, identity, tmp_path / "serve")
            async with mcp_http(settings, client, ["ledger.delete_customer"]) as server:
                task, messages, wf_id = await call_waiting(
                    lambda: server.client(erin), "ledger__delete_customer", {"customer_id": "C-1004"}
                )
                assert "(anyone but you; 0/2 approvals)" in messages[0], messages
                handle = client.get_workflow_handle(wf_id)
                [view] = await pending_views(client, wf_id)
                await handle.execute_update("decide", await signed(None, wf_id, view, "bob", "approve"))
                for _ in range(100):  # the next progress says so, without waiting for the keepalive
                    if any("1/2 approvals" in m for m in messages):
                        break
                    await asyncio.sleep(0.1)
                assert any("1/2 approvals" in m for m in messages), messages
                assert not task.done()
                await handle.execute_update("decide", await signed(None, wf_id, view, "carol", "approve"))
                result = await asyncio.wait_for(task, timeout=30)
    assert not result.is_error, result.content
    assert ledger_effects(ledger)["deleted"] == {"C-1004": 1}


@pytest.mark.devserver
async def test_temporal_refusing_the_start_is_a_tool_error_not_an_internal_error(
    dev_server_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    config = dev_server_env.client.config()
    config["namespace"] = "no-such-namespace"
    elsewhere = Client(**config)
    with identity_service(tmp_path, signer=SIGNER) as identity:
        erin = (await session_of(identity, "erin"))["session"]
        settings = serve_settings(elsewhere, "nobody-polls", identity, tmp_path / "serve")
        async with mcp_http(settings, elsewhere) as server, server.client(erin) as mcp:
            result = await mcp.call_tool("ledger__get_customer", {"customer_id": "C-1001"})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert text.startswith("ledger.get_customer was not started: Temporal answered NOT_FOUND"), text
