"""Fixtures of the model-layer tests: one scripted model server on loopback for the session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import openai
import pytest
from pydantic import SecretStr

from retrofit.llm.client import make_client
from retrofit.llm.scripted_server import ScriptedModelServer
from retrofit.llm.settings import LlmSettings
from tests.support import SCRIPTED_KEY

API_KEY = SCRIPTED_KEY


@pytest.fixture
def settings(scripted_server: ScriptedModelServer) -> LlmSettings:
    # Explicit values, so a developer's RETROFIT_LLM_* environment cannot change a test.
    return LlmSettings(
        base_url=scripted_server.base_url,
        api_key=SecretStr(API_KEY),
        model="retrofit-scripted",
        temperature=0.0,
        timeout_seconds=5.0,
    )


@pytest.fixture
async def client(settings: LlmSettings) -> AsyncIterator[openai.AsyncOpenAI]:
    async with make_client(settings) as openai_client:
        yield openai_client
