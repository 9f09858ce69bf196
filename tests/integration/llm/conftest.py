"""Fixtures of the model-layer tests: one scripted model server on loopback for the session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import openai
import pytest
from pydantic import SecretStr

from retrofit.llm.client import make_client
from retrofit.llm.scripted_server import Script, ScriptedModelServer
from retrofit.llm.settings import LlmSettings

API_KEY = "test-scripted-key"


@pytest.fixture(scope="session")
def scripted_server() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer(api_key=API_KEY) as server:
        yield server


class ScriptedModel:
    """The shared server, as one test sees it: set the script, queue faults, read what was sent."""

    def __init__(self, server: ScriptedModelServer) -> None:
        self.server = server

    def admin(self, method: str, path: str, body: object = None) -> httpx.Response:
        # Plain HTTP on loopback: verify=False only skips loading a CA bundle that would go unused.
        response = httpx.request(method, f"{self.server.url}{path}", json=body, timeout=5, verify=False)
        response.raise_for_status()
        return response

    def play(self, script: Script) -> None:
        self.admin("PUT", "/_admin/script", script.model_dump(mode="json"))

    def fail_next(self, status: int, *, retry_after: float | None = None, times: int = 1) -> None:
        self.admin(
            "POST", "/_admin/faults", {"fail_next": times, "status": status, "retry_after": retry_after}
        )

    def requests(self) -> list[dict[str, object]]:
        received: list[dict[str, object]] = self.admin("GET", "/_admin/requests").json()
        return received


@pytest.fixture
def scripted(scripted_server: ScriptedModelServer) -> Iterator[ScriptedModel]:
    model = ScriptedModel(scripted_server)
    model.admin("POST", "/_admin/reset")
    model.play(Script())
    yield model
    model.admin("POST", "/_admin/reset")


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
