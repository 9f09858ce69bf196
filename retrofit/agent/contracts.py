"""What an agent task takes, carries across continue-as-new, and returns.

Durable: these are workflow inputs and results in history. Add fields with defaults; never rename.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from retrofit.gate.policy_merge import PolicyRequest
from retrofit.gate.workflow_input import WorkflowInput
from retrofit.llm.contracts import PRIMARY_ENDPOINT, ChatMessage, ModelEndpoint
from retrofit.redaction import check_patterns, redact_with

_ACTION_PATTERN = r"^[a-z][a-z0-9_]*\.(\*|[a-z_][a-z0-9_]*)$"


class Budget(BaseModel):
    """Hard limits: the workflow stops (recorded, with a clear status) when one is reached."""

    max_steps: int = Field(default=12, ge=1, le=500, description="model turns")
    max_tokens: int = Field(default=60_000, ge=1, description="prompt + completion tokens, all turns")
    max_cost_usd: float = Field(default=0.50, ge=0, description="USD, from the price table")
    max_consecutive_errors: int = Field(
        default=3, ge=1, description="tool calls in a row that were refused, invalid or failed"
    )
    max_tool_calls_per_turn: int | None = Field(
        default=None,
        ge=1,
        description="tool calls run per model turn; None: the operator's cap "
        "(RETROFIT_LLM_MAX_TOOL_CALLS_PER_TURN), which this can only lower",
    )


_NAMES_ONLY = (
    "a task chooses model endpoints by name (model.endpoint, model.fallbacks[].endpoint) among "
    "those the operator configured (RETROFIT_LLM_ENDPOINTS), never by URL or key"
)


class EndpointChoice(BaseModel):
    """One of the operator's named model endpoints, and optionally a model it offers."""

    # Anything else (a base_url, a key, a key variable) still decodes, so the task is refused
    # with a clear message and a record instead of failing to start.
    model_config = ConfigDict(extra="allow")

    endpoint: str = Field(default=PRIMARY_ENDPOINT, description="an endpoint name from the worker's settings")
    model: str | None = Field(default=None, description="None: the endpoint's configured model")

    @model_validator(mode="before")
    @classmethod
    def _a_bare_name(cls, data: Any) -> Any:
        return {"endpoint": data} if isinstance(data, str) else data

    def chosen(self) -> ModelEndpoint:
        return ModelEndpoint(name=self.endpoint, model=self.model)


class ModelChoice(BaseModel):
    """Which model answers: an endpoint the operator named (default `primary`) and a model it
    offers (default: the endpoint's), with fallbacks by name. Never a URL or a key."""

    model_config = ConfigDict(extra="allow")  # refused, with a clear message: see `refusal`

    endpoint: str | None = Field(default=None, description="None: the primary endpoint")
    model: str | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    fallbacks: list[EndpointChoice] = Field(
        default_factory=list,
        description="endpoint names (or {endpoint, model}) tried in order when the first keeps "
        "failing retryably; none: the operator's RETROFIT_LLM_FALLBACKS",
    )
    fallback_after: int = Field(default=2, ge=1, description="failed attempts before the next endpoint")
    cache: bool = Field(default=False, description="answer identical requests from the response cache")

    def refusal(self) -> str | None:
        """Why this choice is refused before any model call (a URL, a key or any field a task may
        not set), or None. Fields set to null are not counted: older inputs carried them empty."""
        fields = [f"model.{name}" for name, value in (self.model_extra or {}).items() if value is not None]
        for index, fallback in enumerate(self.fallbacks):
            extra = fallback.model_extra or {}
            fields += [
                f"model.fallbacks[{index}].{name}" for name, value in extra.items() if value is not None
            ]
        if not fields:
            return None
        return f"not accepted: {', '.join(sorted(fields))}; {_NAMES_ONLY}"

    def chain(self) -> list[ModelEndpoint]:
        """The endpoints a model turn tries, in order; empty: the operator's default chain."""
        if self.endpoint is None and not self.fallbacks:
            return []
        first = ModelEndpoint(name=self.endpoint or PRIMARY_ENDPOINT, model=self.model)
        return [first, *(fallback.chosen() for fallback in self.fallbacks)]


class AgentTaskInput(WorkflowInput):
    goal: str = Field(min_length=1, max_length=4000, description="what to achieve, in plain words")
    allowed_actions: list[str] = Field(
        min_length=1, description="action names or `connector.*` patterns the agent may call"
    )
    policy: PolicyRequest | None = Field(
        default=None,
        description="stricter rules for this task; the worker's (operator's) policy is always in "
        "force and this can only tighten it: more approvers, fewer actions, deny",
    )
    budget: Budget = Field(default_factory=Budget)
    model: ModelChoice = Field(default_factory=ModelChoice)
    output_schema: dict[str, Any] | None = Field(
        default=None, description="JSON schema the final answer must satisfy (a JSON object)"
    )
    redact_patterns: dict[str, str] = Field(
        default_factory=dict, description="extra `LABEL -> regex` redactions before text reaches the model"
    )
    # Continue-as-new: the history event count at which the run hands over to a fresh one.
    history_limit: int = Field(default=2_000, ge=50)
    carried: AgentCarry | None = Field(default=None, description="set by continue-as-new only")

    @field_validator("allowed_actions")
    @classmethod
    def _patterns(cls, patterns: list[str]) -> list[str]:
        bad = [p for p in patterns if not re.fullmatch(_ACTION_PATTERN, p)]
        if bad:
            raise ValueError(f"not an action name or `connector.*` pattern: {bad}")
        return patterns

    @field_validator("redact_patterns")
    @classmethod
    def _redactions(cls, patterns: dict[str, str]) -> dict[str, str]:
        check_patterns(patterns)
        return patterns

    @model_validator(mode="after")
    def _goal_redacted(self) -> AgentTaskInput:
        # Whoever started the task (the CLI redacts first, a raw client may not), the goal the
        # workflow keeps, shows and carries into continue-as-new is the redacted one. Capped so a
        # placeholder longer than what it replaced cannot fail the next run's validation.
        self.goal = redact_with(self.goal, self.redact_patterns)[:4000]
        return self

    @model_validator(mode="after")
    def _schema_is_object(self) -> AgentTaskInput:
        if self.output_schema is not None and self.output_schema.get("type", "object") != "object":
            raise ValueError("output_schema must describe a JSON object")
        return self


# The failure type of a task that stopped without an answer; its first detail is the AgentTaskResult.
AGENT_STOPPED = "AgentStopped"


class StopReason(StrEnum):
    ANSWERED = "answered"
    MAX_STEPS = "budget_steps"
    MAX_TOKENS = "budget_tokens"
    MAX_COST = "budget_cost"
    TOO_MANY_ERRORS = "too_many_errors"
    MODEL_FAILED = "model_failed"
    # The task chose a model endpoint or model the worker does not offer, or a URL or key:
    # refused before anything was sent to any provider.
    INVALID_MODEL_CHOICE = "invalid_model_choice"


class Usage(BaseModel):
    """Running totals. Tokens and cost are the sum of the `llm.attempt` records: every attempt the
    provider may have billed, failed ones included (a test holds it to that)."""

    steps: int = 0
    llm_calls: int = 0  # model turns answered by the provider (not the cache)
    attempts: int = 0  # model attempts (its `llm.attempt` records): failed and cached ones included
    estimated_attempts: int = 0  # ... whose usage is an estimate (missing, unbelievable, lost)
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = 0  # calls whose model had no price: the cost is a lower bound then
    latency_ms: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class ToolOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    INVALID = "invalid"  # bad JSON or arguments: nothing ran
    NOT_ALLOWED = "not_allowed"  # outside the allowed list: nothing ran
    DENIED = "denied"
    REJECTED = "rejected"
    FAILED = "failed"
    OVER_CAP = "over_cap"  # past the per-turn tool-call cap: nothing ran


class ToolRecord(BaseModel):
    """One tool call the model proposed, and what became of it."""

    turn: int  # the model turn (1, 2, ...) that proposed it
    action: str  # the action, or the raw tool name when it names none
    outcome: ToolOutcome
    detail: str = ""


class AgentCarry(BaseModel):
    """What a run hands to its continuation: the compacted conversation and the totals so far."""

    messages: list[ChatMessage]
    usage: Usage
    tools: list[ToolRecord] = Field(default_factory=list)
    consecutive_errors: int = 0
    gate_step: int = 0
    runs: int = 1


class AgentTaskResult(BaseModel):
    status: StopReason
    detail: str | None = None  # why it stopped, when not answered
    answer: str | None = None
    output: dict[str, Any] | None = None  # the answer parsed against output_schema, when one was given
    usage: Usage
    tools: list[ToolRecord]
    model: str
    scripted: bool = Field(description="a scripted (offline) model answered, not a live one")
    runs: int = Field(default=1, description="runs of this workflow id (continue-as-new)")


AgentTaskInput.model_rebuild()
