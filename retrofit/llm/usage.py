"""What model attempts cost: pure pydantic, safe inside workflow code (durable contracts).

An *attempt* is one request to a provider (one try of the LLM activity). Every attempt the
provider may have billed is recorded (`llm.attempt`) with an `AttemptUsage`, and the agent's
totals are the sum of those records, failed attempts included:

    reported   the provider's own usage, checked (whole numbers, >= 0, under the ceilings)
    estimated  the provider's usage was missing, unbelievable or unreadable (oversize or garbage
               answer, lost connection after the request left): counted from the request and
               answer sizes, deliberately on the high side
    cached     answered from the response cache: nothing billed
    none       the provider refused before doing work (an HTTP error status, a refused
               connection): nothing billed

`StepUsage` is the sum over the attempts of one model turn; the LLM activity returns it with the
answer, or with the error of its last attempt, so the workflow counts every attempt it paid for.
Fields are added with defaults, never renamed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

UsageSource = Literal["reported", "estimated", "cached", "none"]

# The key of the `ApplicationError` detail in which a failed model turn carries its bill.
BILL_DETAIL = "llm_billed"

# Above any tokenizer's average (about four characters a token for English text, three for JSON),
# so an estimate counts more rather than fewer tokens than a provider would bill.
_BYTES_PER_TOKEN = 3


def estimate_tokens(size_bytes: int) -> int:
    """Tokens for `size_bytes` of text when the provider did not say: on the high side."""
    return 0 if size_bytes <= 0 else -(-size_bytes // _BYTES_PER_TOKEN)


class AttemptUsage(BaseModel):
    """What one attempt cost, and where the numbers come from."""

    source: UsageSource
    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)
    # None when the price table does not know the model: unknown is not free.
    cost_usd: float | None = Field(default=None, ge=0)

    @property
    def billed(self) -> bool:
        """The provider may have billed this attempt."""
        return self.source in ("reported", "estimated")


class StepUsage(BaseModel):
    """The sum over the attempts of one model turn (what its `llm.attempt` records add up to)."""

    attempts: int = Field(default=0, ge=0)
    billed_attempts: int = Field(default=0, ge=0)  # attempts the provider may have billed
    estimated_attempts: int = Field(default=0, ge=0)  # ... of which the usage is an estimate
    unpriced_attempts: int = Field(default=0, ge=0)  # billed attempts with no price: cost is a floor
    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)
    cost_usd: float = Field(default=0.0, ge=0)

    @classmethod
    def of(cls, usages: Iterable[AttemptUsage]) -> StepUsage:
        total = cls()
        for usage in usages:
            total.attempts += 1
            total.billed_attempts += usage.billed
            total.estimated_attempts += usage.source == "estimated"
            total.prompt_tokens += usage.prompt_tokens
            total.completion_tokens += usage.completion_tokens
            if usage.cost_usd is None:
                total.unpriced_attempts += usage.billed
            else:
                total.cost_usd += usage.cost_usd
        return total

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def bill_in(details: Sequence[Any]) -> StepUsage | None:
    """The bill a failed model turn carries in its error details (None from an older worker)."""
    for detail in details:
        if isinstance(detail, dict) and BILL_DETAIL in detail:
            try:
                return StepUsage.model_validate(detail[BILL_DETAIL])
            except ValidationError:
                return None
    return None
