"""Model settings, from `RETROFIT_LLM_*` environment variables (or `.env`).

The default points at the scripted model server (offline, free, labelled `-scripted`); set
`RETROFIT_LLM_BASE_URL`, `RETROFIT_LLM_API_KEY` and `RETROFIT_LLM_MODEL` for OpenAI, Azure, vLLM,
Ollama or any OpenAI-compatible server. `OPENAI_API_KEY` (and `OPENAI_BASE_URL`) alone switch to
the real model (`gpt-4o-mini` unless `RETROFIT_LLM_MODEL` names another). `RETROFIT_LLM_PRICES`
(JSON) replaces the price table.

Named endpoints: those variables are the endpoint called `primary`. `RETROFIT_LLM_ENDPOINTS` (JSON)
names more, each with its own base URL, model, key and optionally its own prices:

    RETROFIT_LLM_ENDPOINTS='{"backup": {"base_url": "https://llm.example/v1", "model": "gpt-4o-mini",
                             "api_key_env": "BACKUP_LLM_KEY"}}'
    RETROFIT_LLM_FALLBACKS='["backup"]'    # tried in order after the primary, when a task names none

A task chooses among these NAMES (and a model name the endpoint's `models` patterns allow), never
a URL or a key; each endpoint's key is only ever sent to that endpoint's base URL (the LLM activity
keeps one client per name). A `primary` entry in `RETROFIT_LLM_ENDPOINTS` replaces the
single-endpoint variables.
"""

from __future__ import annotations

import fnmatch
import os
import re
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from retrofit.llm.contracts import PRIMARY_ENDPOINT

SCRIPTED_MODEL = "retrofit-scripted"
SCRIPTED_BASE_URL = "http://127.0.0.1:8790/v1"
OPENAI_BASE_URL = "https://api.openai.com/v1"
LIVE_DEFAULT_MODEL = "gpt-4o-mini"
PRIMARY = PRIMARY_ENDPOINT
ENDPOINT_NAME = r"^[a-z][a-z0-9_-]{0,39}$"
#: Sent as the key to an endpoint configured without one (a local server that checks none): an
#: explicit value, so the `openai` client never falls back to OPENAI_API_KEY from the environment.
NO_KEY = "no-key-configured"


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


class EndpointRefused(ValueError):
    """A task asked for an endpoint or model the operator did not configure; nothing was sent."""


class ModelEndpointSettings(BaseModel):
    """One endpoint the operator named: where it is, which model, and its own key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str
    model: str
    api_key: SecretStr | None = None
    # The environment variable holding the key, read once when the worker loads its settings.
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    # Model names a task may ask for on this endpoint (shell-style patterns); `model` always.
    models: tuple[str, ...] = ("*",)
    prices: dict[str, ModelPrice] = Field(default_factory=dict)  # on top of the shared table
    timeout_seconds: float | None = Field(default=None, gt=0)
    # Read tool calls the model wrote as text in `content` (retrofit.llm.text_tool_calls): for
    # local servers without native tool calls. Off: a model's prose holding JSON stays prose.
    text_tool_calls: bool = False

    @model_validator(mode="before")
    @classmethod
    def _key_from_environment(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("api_key_env") is None:
            return data
        if data.get("api_key") is not None:
            raise ValueError("give api_key or api_key_env, not both")
        name = data["api_key_env"]
        secret = os.environ.get(name) if isinstance(name, str) else None
        if not secret:
            raise ValueError(f"api_key_env names {name}, which is not set in this worker's environment")
        return {**data, "api_key": SecretStr(secret)}

    def allows(self, model: str) -> bool:
        return model == self.model or any(fnmatch.fnmatchcase(model, p) for p in self.models)


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
    # Model names a task may ask for on the primary endpoint (shell-style patterns).
    models: tuple[str, ...] = ("*",)
    # More named endpoints (RETROFIT_LLM_ENDPOINTS, JSON), and the default order after the
    # primary when a task names no fallbacks of its own (RETROFIT_LLM_FALLBACKS, JSON list).
    endpoints: dict[str, ModelEndpointSettings] = Field(default_factory=dict)
    fallbacks: list[str] = Field(default_factory=list)
    # Accounting and bounded turns (retrofit.llm.client, the agent loop): an answer over
    # `max_response_bytes` is refused (still counted); reported usage over `max_completion_tokens`
    # is not believed (an estimate is counted); no usage at all is estimated, or an error with
    # `missing_usage="error"`; at most `max_tool_calls_per_turn` proposed calls run per model turn
    # (a task's budget may only lower it).
    max_response_bytes: int = Field(default=262_144, ge=1024)
    max_completion_tokens: int = Field(default=32_768, ge=1)
    missing_usage: Literal["estimate", "error"] = "estimate"
    max_tool_calls_per_turn: int = Field(default=10, ge=1)
    # The primary endpoint's `text_tool_calls` (RETROFIT_LLM_TEXT_TOOL_CALLS); see
    # ModelEndpointSettings. Narrowed settings (`for_endpoint`) carry the endpoint's own.
    text_tool_calls: bool = False

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

    @model_validator(mode="after")
    def _named_endpoints(self) -> LlmSettings:
        bad = [name for name in self.endpoints if re.fullmatch(ENDPOINT_NAME, name) is None]
        if bad:
            raise ValueError(f"endpoint names must match {ENDPOINT_NAME}: {bad}")
        primary = self.endpoints.pop(PRIMARY, None)
        if primary is not None:  # one primary: the top-level fields always describe it
            self.base_url, self.model = primary.base_url, primary.model
            self.api_key = primary.api_key or SecretStr(NO_KEY)
            self.models = primary.models
            if primary.prices:
                self.prices = {**self.prices, **primary.prices}
            if primary.timeout_seconds is not None:
                self.timeout_seconds = primary.timeout_seconds
            self.text_tool_calls = primary.text_tool_calls
        unknown = [name for name in self.fallbacks if name not in self.endpoints]
        if unknown:
            raise ValueError(f"RETROFIT_LLM_FALLBACKS names endpoints that are not configured: {unknown}")
        return self

    def endpoint_names(self) -> list[str]:
        return [PRIMARY, *self.endpoints]

    def endpoint(self, name: str) -> ModelEndpointSettings:
        """The endpoint called `name`; `EndpointRefused` when the operator configured none."""
        if name == PRIMARY:
            return ModelEndpointSettings(
                base_url=self.base_url,
                model=self.model,
                api_key=self.api_key,
                models=self.models,
                text_tool_calls=self.text_tool_calls,
            )
        found = self.endpoints.get(name)
        if found is None:
            configured = ", ".join(self.endpoint_names())
            raise EndpointRefused(
                f"model endpoint {name!r} is not configured on this worker (configured: {configured}); "
                "a task chooses endpoints by name, the operator configures them"
            )
        return found

    def for_endpoint(self, name: str, model: str | None = None) -> LlmSettings:
        """These settings narrowed to one endpoint: its base URL, its own key, its model (or
        `model`, when the endpoint allows it) and its prices. Raises `EndpointRefused`."""
        endpoint = self.endpoint(name)
        chosen = model or endpoint.model
        if not endpoint.allows(chosen):
            allowed = ", ".join(dict.fromkeys((endpoint.model, *endpoint.models)))
            raise EndpointRefused(
                f"model {chosen!r} is not offered on endpoint {name!r} (allowed: {allowed})"
            )
        return self.model_copy(
            update={
                "base_url": endpoint.base_url,
                "api_key": endpoint.api_key or SecretStr(NO_KEY),
                "model": chosen,
                "prices": {**self.prices, **endpoint.prices},
                "timeout_seconds": endpoint.timeout_seconds or self.timeout_seconds,
                "text_tool_calls": endpoint.text_tool_calls,
                "endpoints": {},
                "fallbacks": [],
            }
        )

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
