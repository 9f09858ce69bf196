"""The progress line ops read in the Temporal UI: it says when the totals are partly estimates."""

from __future__ import annotations

from retrofit.agent.contracts import Budget, Usage
from retrofit.agent.progress import AgentProgress, header


def test_the_header_says_when_usage_is_partly_estimated() -> None:
    usage = Usage(steps=2, attempts=3, estimated_attempts=1, prompt_tokens=900, completion_tokens=100)
    line = header(AgentProgress.of(usage, Budget(), "waiting for the model", "gpt-4o-mini", False))
    assert "tokens 1,000/60,000" in line
    assert line.endswith("(estimated for 1 of 3 attempts)")


def test_the_header_says_nothing_of_estimates_when_all_usage_was_reported() -> None:
    usage = Usage(steps=2, attempts=2, prompt_tokens=900, completion_tokens=100)
    line = header(AgentProgress.of(usage, Budget(), "waiting for the model", "gpt-4o-mini", False))
    assert "estimated" not in line
