"""Model settings, from `RETROFIT_LLM_*` environment variables (or `.env`).

The default points at the scripted model server (offline, free, labelled `-scripted`); set
`RETROFIT_LLM_BASE_URL`, `RETROFIT_LLM_API_KEY` and `RETROFIT_LLM_MODEL` for OpenAI, Azure, vLLM,
Ollama or any OpenAI-compatible server. `OPENAI_API_KEY` (and `OPENAI_BASE_URL`) alone switch to
the real model (`gpt-4o-mini` unless `RETROFIT_LLM_MODEL` names another). `RETROFIT_LLM_PRICES`
(JSON) replaces the price table.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SCRIPTED_MODEL = "retrofit-scripted"
SCRIPTED_BASE_URL = "http://127.0.0.1:8790/v1"
OPENAI_BASE_URL = "https://api.openai.com/v1"
LIVE_DEFAULT_MODEL = "gpt-4o-mini"


class ModelPrice(BaseModel):
    """USD per one million tokens."""

    model_config = {"frozen": True}

    input_per_million: float = Field(ge=0)
    output_per_million: float = Field(ge=0)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input_per_million + completion_tokens * self.output_per_million) / 1e6


def _default_prices() -> dict[str, ModelPrice]:
    # List prices at the time of writing; providers change them, so operators override the table.
    return {
        SCRIPTED_MODEL: ModelPrice(input_per_million=0.0, output_per_million=0.0),
        "gpt-4o": ModelPrice(input_per_million=2.50, output_per_million=10.00),
        "gpt-4o-mini": ModelPrice(input_per_million=0.15, output_per_million=0.60),
        "gpt-4.1": ModelPrice(input_per_million=2.00, output_per_million=8.00),
        "gpt-4.1-mini": ModelPrice(input_per_million=0.40, output_per_million=1.60),
        "gpt-4.1-nano": ModelPrice(input_per_million=0.10, output_per_million=0.40),
    }


class LlmSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RETROFIT_LLM_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    # OPENAI_BASE_URL / OPENAI_API_KEY are honoured too, so a shell set up for OpenAI just works.
    base_url: str = Field(
        default=SCRIPTED_BASE_URL, validation_alias=AliasChoices("RETROFIT_LLM_BASE_URL", "OPENAI_BASE_URL")
    )
    # The scripted server's default key; a real provider's key comes from the environment.
    api_key: SecretStr = Field(
        default=SecretStr("retrofit-scripted-key"),
        validation_alias=AliasChoices("RETROFIT_LLM_API_KEY", "OPENAI_API_KEY"),
    )
    model: str = SCRIPTED_MODEL
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    timeout_seconds: float = Field(default=60.0, gt=0)
    prices: dict[str, ModelPrice] = Field(default_factory=_default_prices)
    # Where identical requests are answered from when a task asks for the cache (ModelChoice.cache).
    cache_url: str = "sqlite:///.retrofit/llm-cache.db"
    # Accounting and bounded turns (retrofit.llm.client, the agent loop): an answer over
    # `max_response_bytes` is refused (still counted); reported usage over `max_completion_tokens`
    # is not believed (an estimate is counted); no usage at all is estimated, or an error with
    # `missing_usage="error"`; at most `max_tool_calls_per_turn` proposed calls run per model turn
    # (a task's budget may only lower it).
    max_response_bytes: int = Field(default=262_144, ge=1024)
    max_completion_tokens: int = Field(default=32_768, ge=1)
    missing_usage: Literal["estimate", "error"] = "estimate"
    max_tool_calls_per_turn: int = Field(default=10, ge=1)

    @model_validator(mode="after")
    def _live_when_openai_configured(self) -> LlmSettings:
        # Only OPENAI_API_KEY in the environment means "use the real model": OpenAI's own endpoint
        # unless a base URL is given, and a small current model unless one is named.
        if "OPENAI_API_KEY" in os.environ and "RETROFIT_LLM_API_KEY" not in os.environ:
            if "base_url" not in self.model_fields_set:
                self.base_url = OPENAI_BASE_URL
            if "model" not in self.model_fields_set:
                self.model = LIVE_DEFAULT_MODEL
        return self

    @property
    def is_scripted(self) -> bool:
        return self.model.endswith("-scripted")

    def price_of(self, model: str) -> ModelPrice | None:
        """The price of `model`; a dated variant (`gpt-4o-2024-08-06`) falls back to its family."""
        if model in self.prices:
            return self.prices[model]
        if model.endswith("-scripted"):  # any scripted server's model: it costs nothing
            return self.prices.get(SCRIPTED_MODEL, ModelPrice(input_per_million=0, output_per_million=0))
        family = max((name for name in self.prices if model.startswith(f"{name}-")), key=len, default=None)
        return self.prices[family] if family is not None else None
