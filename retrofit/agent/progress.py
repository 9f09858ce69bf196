"""Where an agent task stands: the budget check, and the progress the UI and the query show."""

from __future__ import annotations

from pydantic import BaseModel

from retrofit.agent.contracts import Budget, StopReason, Usage


def budget_reason(usage: Usage, budget: Budget, *, after_call: bool = False) -> StopReason | None:
    """The budget limit reached, if any. Before a call, a step limit reached stops it; after a call,
    only tokens or cost past the limit do (the turn that reached the step limit still counts)."""
    if usage.total_tokens >= budget.max_tokens if not after_call else usage.total_tokens > budget.max_tokens:
        return StopReason.MAX_TOKENS
    if usage.cost_usd >= budget.max_cost_usd if not after_call else usage.cost_usd > budget.max_cost_usd:
        return StopReason.MAX_COST
    if not after_call and usage.steps >= budget.max_steps:
        return StopReason.MAX_STEPS
    return None


class AgentProgress(BaseModel):
    """The `agent_progress` query's answer."""

    step: int = 0
    max_steps: int = 0
    tokens: int = 0
    max_tokens: int = 0
    cost_usd: float = 0.0
    max_cost_usd: float = 0.0
    waiting_for: str = "starting"
    model: str = ""
    scripted: bool = False
    # Model attempts so far, and how many of them have an estimated usage (the provider's was
    # missing or not believable, or the attempt was lost): the totals are partly estimates then.
    attempts: int = 0
    estimated_attempts: int = 0

    @classmethod
    def of(cls, usage: Usage, budget: Budget, waiting_for: str, model: str, scripted: bool) -> AgentProgress:
        return cls(
            step=usage.steps,
            max_steps=budget.max_steps,
            tokens=usage.total_tokens,
            max_tokens=budget.max_tokens,
            cost_usd=usage.cost_usd,
            max_cost_usd=budget.max_cost_usd,
            waiting_for=waiting_for,
            model=model,
            scripted=scripted,
            attempts=usage.attempts,
            estimated_attempts=usage.estimated_attempts,
        )


def header(progress: AgentProgress) -> str:
    """One line for the Temporal UI's current details."""
    label = " (scripted model)" if progress.scripted else ""
    estimated = (
        f" (estimated for {progress.estimated_attempts} of {progress.attempts} attempts)"
        if progress.estimated_attempts
        else ""
    )
    return (
        f"**Agent** · {progress.model}{label} · model turns {progress.step}/{progress.max_steps} · "
        f"tokens {progress.tokens:,}/{progress.max_tokens:,} · "
        # No `$`: the UI renders details as markdown, and a pair of `$` reads as math there.
        f"cost USD {progress.cost_usd:.4f} of {progress.max_cost_usd:.2f}{estimated}"
    )
