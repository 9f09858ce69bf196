"""A model that answers with JSON nested past what Python's parser can follow (tool-call
arguments, a structured answer) gets it back as a problem, like any other invalid JSON: the
workflow never fails a task on it (a RecursionError in workflow code would be retried forever)."""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from retrofit.agent.contracts import AgentTaskInput, StopReason, ToolOutcome
from retrofit.llm.scripted_server import ScriptedToolCall, ScriptedTurn
from tests.support import DemoSystems, ScriptedModel, audit_of, demo_worker, kinds
from tests.workflow.agent_helpers import run_answering, say, start_agent

DEEP = "[" * 30_000 + "]" * 30_000  # past any recursion limit, under the usage ceiling


async def test_deeply_nested_json_from_the_model_goes_back_as_a_problem(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    model = scripted.add(
        ScriptedTurn(tool_calls=[ScriptedToolCall(name="erp__get_invoice", raw_arguments="[" * 30_000)]),
        ScriptedTurn(
            tool_calls=[ScriptedToolCall(name="erp__get_invoice", raw_arguments='{"a": ' + DEEP + "}")]
        ),
        say(DEEP),
        say('{"checked": 2}'),
    )
    task = AgentTaskInput.model_validate(
        {
            "goal": "Check invoice INV-10008",
            "allowed_actions": ["erp.get_invoice"],
            "model": {"model": model},
            "budget": {"max_tokens": 1_000_000, "max_consecutive_errors": 5},
            "output_schema": {"type": "object", "properties": {"checked": {"type": "integer"}}},
        }
    )
    env = time_skipping_env
    async with demo_worker(env.client, demo_systems, audit_url, llm_settings=scripted.settings()) as worker:
        handle = await start_agent(env.client, worker.task_queue, task)
        result, _ = await run_answering(handle)
        history = await handle.fetch_history()

    assert result.status is StopReason.ANSWERED and result.output == {"checked": 2}
    assert [t.outcome for t in result.tools] == [ToolOutcome.INVALID, ToolOutcome.INVALID]
    assert not [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
    sent = scripted.requests(model)
    corrections = [m["content"] for m in sent[3]["body"]["messages"] if m["role"] == "user"]
    assert "nested too deeply" in corrections[-1]
    assert "action.started" not in kinds(await audit_of(audit_url, handle.id))
