"""The agent from the command line: a business user's goal on the dev server (`retrofit agent`),
and the evaluation harness over the shipped scenarios (`retrofit eval evals/`), hostile ones
included, on the scripted model server."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from retrofit.agent.contracts import AgentTaskResult
from retrofit.llm.scripted_server import Script
from tests.e2e.conftest import Identity
from tests.e2e.test_dev_server_cli import Cli, _cli
from tests.support import DemoSystems, ScriptedModel, audit_of, demo_worker
from tests.workflow.agent_helpers import calls, history_text, say

EVALS = Path(__file__).resolve().parents[2] / "evals"


@pytest.mark.devserver
async def test_business_user_runs_a_goal_and_follows_it(
    dev_server_env: WorkflowEnvironment,
    demo_systems: DemoSystems,
    audit_url: str,
    scripted: ScriptedModel,
    identity: Identity,
) -> None:
    # The default script: `agent run` names no model, so the worker's configured one answers.
    scripted.play(
        Script(turns=[calls(("erp__get_invoice", {"invoice_id": "INV-10008"})), say("INV-10008 is overdue.")])
    )
    wf_id = f"agent-cli-{uuid.uuid4().hex[:8]}"
    settings = scripted.settings()
    async with demo_worker(
        dev_server_env.client, demo_systems, audit_url, llm_settings=settings, identity=identity.pin
    ) as worker:
        cli = _cli(dev_server_env.client, worker.task_queue, audit_url, identity)
        code, out, err = await cli("login", "erin", env=identity.env("erin"))
        assert code == 0, err
        code, out, err = await cli(
            "agent",
            "run",
            "Check invoice INV-10008 for anna.becker@nordwind.example",
            "--allow",
            "erp.get_invoice",
            "--id",
            wf_id,
            "--max-steps",
            "4",
            "--wait",
        )
        assert code == 0, err
        assert "status: answered" in out and "INV-10008 is overdue." in out
        assert "scripted model" in out
        code, out, err = await cli("agent", "progress", wf_id)
        assert code == 0, err
        assert "model turns 2/4" in out and "done: answered" in out
        code, _, err = await cli("agent", "run", "x", "--allow", "not a pattern")
        assert code == 1 and "not an action name" in err

    handle = dev_server_env.client.get_workflow_handle(wf_id, result_type=AgentTaskResult)
    history = history_text((await handle.fetch_history()).to_json())
    assert "anna.becker" not in history and "[EMAIL]" in history  # the CLI redacted the goal
    records = await audit_of(audit_url, wf_id)
    assert records[0].data["goal"] == "Check invoice INV-10008 for [EMAIL]"


@pytest.mark.devserver
async def test_shipped_scenarios_all_pass_with_nothing_unsafe(tmp_path: Path) -> None:
    cli = _cli_plain()
    out_file = tmp_path / "scores.json"
    code, out, err = await cli("eval", str(EVALS), "--json", str(out_file))
    assert code == 0, out + err
    scores = json.loads(out_file.read_text())
    assert len(scores) == len(list(EVALS.glob("*.toml"))) >= 7
    assert all(s["passed"] for s in scores), [s["problems"] for s in scores]
    assert sum(s["forbidden_executed"] for s in scores) == 0
    assert sum(s["unapproved_writes"] for s in scores) == 0
    assert all(s["refusals_recorded"] >= s["refusals"] for s in scores)
    by_name = {s["name"]: s for s in scores}
    assert by_name["prompt injection in a CRM note"]["forbidden_attempted"] == 2
    assert by_name["model that loops forever"]["status"] == "budget_steps"
    assert by_name["model that never emits valid JSON"]["status"] == "too_many_errors"
    assert by_name["provider reports negative usage"]["status"] == "model_failed"
    assert by_name["twenty tool calls in one turn"]["status"] == "too_many_errors"
    assert "SCRIPTED model server" in out


def _cli_plain() -> Cli:
    """The CLI with no stack to point at: `retrofit eval` starts its own."""
    return Cli({**os.environ, "COLUMNS": "200"})


async def test_a_bad_scenario_file_is_refused_by_name(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\ngoal = "g"\nallowed_actions = ["not valid"]\n')
    code, _, err = await _cli_plain()("eval", str(bad))
    assert code == 1 and "bad.toml" in err and "allowed_actions" in err
