"""Durable contracts of one model call: pure pydantic, safe inside workflow code.

No I/O library is imported here (a test checks it): workflows build an `LlmRequest`, an activity
turns it into an OpenAI call, and the `LlmResponse` comes back through Temporal's history.
Fields are added with defaults, never renamed.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Role = Literal["system", "user", "assistant", "tool"]


class ToolCall(BaseModel):
    """A function call the model asked for; `arguments` is the raw JSON text, validated later."""

    id: str
    name: str
    arguments: str


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

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens
