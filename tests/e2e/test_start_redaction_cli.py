"""`retrofit start AgentTask` (not `agent run`): the goal is redacted before the CLI sends it, so
no event of the history, the start event and its static details included, holds it in plain."""

from __future__ import annotations

import json
import uuid

import pytest
from temporalio.testing import WorkflowEnvironment

from retrofit.agent.contracts import AgentTaskResult
from retrofit.llm.scripted_server import Script
from tests.e2e.conftest import Identity
from tests.e2e.test_dev_server_cli import _cli
from tests.support import DemoSystems, ScriptedModel, audit_of, demo_worker
from tests.workflow.agent_helpers import calls, history_text, say

SECRETS = ("Hunter2Secret!", "AKIAIOSFODNN7EXAMPLE", "555-867-5309", "anna.becker@nordwind.example")


@pytest.mark.devserver
async def test_start_agent_task_sends_a_redacted_goal(
    dev_server_env: WorkflowEnvironment,
    demo_systems: DemoSystems,
    audit_url: str,
    scripted: ScriptedModel,
    identity: Identity,
) -> None:
    scripted.play(
        Script(turns=[calls(("erp__get_invoice", {"invoice_id": "INV-10008"})), say("INV-10008 is overdue.")])
    )
    goal = (
        "Check invoice INV-10008; the portal login is password=Hunter2Secret!, AWS key AKIAIOSFODNN7EXAMPLE, "
        "call 555-867-5309 or mail anna.becker@nordwind.example"
    )
    task = {"goal": goal, "allowed_actions": ["erp.get_invoice"], "budget": {"max_steps": 4}}
    wf_id = f"start-agent-{uuid.uuid4().hex[:8]}"
    async with demo_worker(
        dev_server_env.client,
        demo_systems,
        audit_url,
        llm_settings=scripted.settings(),
        identity=identity.pin,
    ) as worker:
        cli = _cli(dev_server_env.client, worker.task_queue, audit_url, identity)
        code, _, err = await cli("login", "erin", env=identity.env("erin"))
        assert code == 0, err
        code, out, err = await cli("start", "AgentTask", "--input", json.dumps(task), "--id", wf_id, "--wait")
        assert code == 0, out + err
        assert "INV-10008 is overdue." in out

    handle = dev_server_env.client.get_workflow_handle(wf_id, result_type=AgentTaskResult)
    history = history_text((await handle.fetch_history()).to_json())
    described = await handle.describe()
    details = json.dumps([await described.static_summary(), await described.static_details()])
    assert "INV-10008" in details  # the control: the details hold the (redacted) input
    for secret in SECRETS:
        assert secret not in history and secret not in details, secret
    # Redacted, not dropped: the placeholders and the invoice id are what was sent.
    assert "password=[REDACTED]" in history and "[PHONE]" in history and "INV-10008" in history
    records = await audit_of(audit_url, wf_id)
    assert not any(secret in json.dumps([r.model_dump(mode="json") for r in records]) for secret in SECRETS)
