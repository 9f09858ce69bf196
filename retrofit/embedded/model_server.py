"""The model the embedded stack's agent uses: the scripted server, unless a real one is configured.

With the default settings (`RETROFIT_LLM_BASE_URL` unset, no `OPENAI_API_KEY`) the demo starts the
scripted OpenAI-compatible server on loopback with the shipped demo conversation, and everything
that uses it is labelled "scripted". Configure a real model and this starts nothing.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from importlib import resources
from urllib.parse import urlsplit

from retrofit.llm.scripted_server import Script, ScriptedModelServer
from retrofit.llm.settings import SCRIPTED_BASE_URL, LlmSettings

DEMO_SCRIPT = "retrofit-scripted.json"


@dataclass(frozen=True)
class ModelInUse:
    settings: LlmSettings
    label: str  # what the CLI prints: model, where, and whether it is scripted


def demo_script() -> Script:
    text = resources.files("retrofit.embedded").joinpath("scripts", DEMO_SCRIPT).read_text(encoding="utf-8")
    return Script.model_validate_json(text)


def start_model(
    stack: contextlib.AsyncExitStack, settings: LlmSettings, *, ephemeral: bool = False
) -> ModelInUse:
    """Start the scripted server when `settings` point at its default address; else use them as they are."""
    if settings.base_url != SCRIPTED_BASE_URL:
        return ModelInUse(settings, f"{settings.model} at {urlsplit(settings.base_url).hostname} (live)")
    port = 0 if ephemeral else urlsplit(SCRIPTED_BASE_URL).port or 8790
    server = ScriptedModelServer(demo_script(), api_key=settings.api_key.get_secret_value(), port=port)
    stack.enter_context(server)
    used = settings.model_copy(update={"base_url": server.base_url})
    return ModelInUse(used, f"{used.model} — SCRIPTED model server at {server.base_url} (offline, no key)")
