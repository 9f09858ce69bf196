"""Durable contracts of one model call: pure pydantic, safe inside workflow code.

No I/O library is imported here (a test checks it): workflows build an `LlmCall`, the LLM activity
turns it into an OpenAI call, and the `LlmResponse` comes back through Temporal's history.
Fields are added with defaults, never renamed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from retrofit.audit.events import Actor
from retrofit.llm.usage import StepUsage
from retrofit.redaction import redact_with

Role = Literal["system", "user", "assistant", "tool"]

LLM_ACTIVITY = "retrofit.llm.complete"
#: The endpoint the single-endpoint settings (RETROFIT_LLM_BASE_URL, _MODEL, _API_KEY) describe.
PRIMARY_ENDPOINT = "primary"
#: The `ApplicationError` type of a model turn refused because the task chose an endpoint or model
#: the worker does not offer (or a URL or key): nothing was sent to any provider.
MODEL_CHOICE_REFUSED = "ModelChoiceRefused"


class ToolCall(BaseModel):
    """A function call the model asked for; `arguments` is the raw JSON text, validated later."""

    id: str
    name: str
    arguments: str


def redacted_turn(
    content: str | None, calls: Sequence[ToolCall], redactions: Mapping[str, str]
) -> dict[str, Any]:
    """A model turn's `content` and `tool_calls` with secrets, PII and `redactions` replaced, as
    fields for a `ChatMessage` or an `LlmResponse`: the one way a turn is cleaned, wherever it goes."""
    return {
        "content": redact_with(content, redactions),
        "tool_calls": [
            call.model_copy(update={"arguments": redact_with(call.arguments, redactions)}) for call in calls
        ],
    }


class ChatMessage(BaseModel):
    role: Role
    content: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None  # on a `tool` message: which call this answers
    name: str | None = None


class ToolSpec(BaseModel):
    """One function tool as offered to the model: OpenAI-safe name, description, JSON schema."""

    name: str
    description: str
    parameters: dict[str, Any]


class LlmRequest(BaseModel):
    messages: list[ChatMessage]
    tools: list[ToolSpec] = Field(default_factory=list)
    model: str | None = None  # None: the configured model
    temperature: float | None = None  # None: the configured temperature


class ModelEndpoint(BaseModel):
    """One endpoint of a model turn, by the NAME the operator configured it under (worker settings,
    `RETROFIT_LLM_ENDPOINTS`), never by URL or key: the worker resolves the name to its base URL
    and its own key, so neither enters workflow input or history, and a key only ever goes to the
    endpoint it was configured for."""

    name: str = PRIMARY_ENDPOINT
    model: str | None = None  # a model the endpoint offers; None: the endpoint's configured model
    # Never honoured: calls built before endpoints had names carried these; the LLM activity
    # refuses a call that sets either, before anything is sent.
    base_url: str | None = None
    api_key_env: str | None = None


class LlmCall(BaseModel):
    """Input of the LLM activity: one request, who asks, and how to fall back or use the cache."""

    request: LlmRequest
    step: int
    workflow_type: str
    actor: Actor
    # Tried in order: `fallback_after` attempts (Temporal's retries) on each before the next.
    # Empty: the worker's configured model (or `request.model`) only.
    endpoints: list[ModelEndpoint] = Field(default_factory=list)
    fallback_after: int = Field(default=2, ge=1)
    use_cache: bool = False
    # Extra `label -> regex` redactions applied to every text before it leaves for the provider.
    redactions: dict[str, str] = Field(default_factory=dict)


class LlmResponse(BaseModel):
    content: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    # None when the price table does not know the model: unknown is not free.
    cost_usd: float | None = None
    model: str
    # True when a scripted (offline) model server answered; shown wherever the answer is used.
    scripted: bool = False
    cache_hit: bool = False
    endpoint: int = 0  # index into LlmCall.endpoints: > 0 means a fallback answered
    endpoint_name: str = ""  # the operator's name for the endpoint that answered
    prompt_hash: str = ""
    # Set by the LLM activity: every attempt of this turn, failed ones included (what the
    # `llm.attempt` records add up to, and what the agent's totals count).
    billed: StepUsage | None = None
    # The operator's cap on tool calls run per model turn, at the worker that answered.
    max_tool_calls: int | None = None

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens
