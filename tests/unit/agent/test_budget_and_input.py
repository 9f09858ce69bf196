"""Budget checks and the validation of an agent task's input."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from retrofit.agent.contracts import AgentTaskInput, Budget, StopReason, Usage
from retrofit.agent.progress import budget_reason


def test_budget_reasons_before_and_after_a_call() -> None:
    budget = Budget(max_steps=3, max_tokens=1000, max_cost_usd=0.10)
    assert budget_reason(Usage(steps=2, prompt_tokens=900), budget) is None
    assert budget_reason(Usage(steps=3), budget) is StopReason.MAX_STEPS
    assert budget_reason(Usage(steps=3), budget, after_call=True) is None  # the last turn still counts
    assert (
        budget_reason(Usage(prompt_tokens=990, completion_tokens=20), budget, after_call=True)
        is StopReason.MAX_TOKENS
    )
    assert budget_reason(Usage(cost_usd=0.1000001), budget, after_call=True) is StopReason.MAX_COST
    assert budget_reason(Usage(prompt_tokens=1000), budget) is StopReason.MAX_TOKENS


def test_allowed_actions_must_be_names_or_connector_patterns() -> None:
    AgentTaskInput(goal="g", allowed_actions=["erp.*", "crm.add_note"])
    for bad in (["*"], ["erp"], ["erp.add note"], [], ["erp.*.x"]):
        with pytest.raises(ValidationError):
            AgentTaskInput(goal="g", allowed_actions=bad)


def test_redaction_patterns_are_checked_when_the_task_is_built() -> None:
    with pytest.raises(ValidationError, match="UPPER_SNAKE_CASE"):
        AgentTaskInput(goal="g", allowed_actions=["erp.*"], redact_patterns={"case": r"\d+"})
    with pytest.raises(ValidationError, match="redaction pattern CASE"):
        AgentTaskInput(goal="g", allowed_actions=["erp.*"], redact_patterns={"CASE": r"(unclosed"})


def test_output_schema_must_describe_an_object() -> None:
    with pytest.raises(ValidationError, match="JSON object"):
        AgentTaskInput(goal="g", allowed_actions=["erp.*"], output_schema={"type": "array"})
