"""Model endpoints only from the operator: real AgentTask runs on the time-skipping server, the real
`openai` client, and model servers on loopback that record which key each request carried.

- a fallback URL (or a key variable) in the task's input is refused before any call, and recorded;
- an endpoint name the worker does not configure is refused before any call, and recorded;
- a configured fallback (here a hostile one) receives ITS key, never the primary's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.types import Receive, Scope, Send
from temporalio.testing import WorkflowEnvironment

from retrofit.agent.contracts import AgentTaskInput, StopReason
from retrofit.http_serving import ThreadedUvicorn
from retrofit.llm.scripted_server import Script, ScriptedState, create_app
from retrofit.llm.settings import LlmSettings
from tests.support import SCRIPTED_KEY, DemoSystems, ScriptedModel, audit_of, demo_worker
from tests.workflow.agent_helpers import run_answering, say, start_agent

BACKUP_KEY = "backup-only-key"
LEAKED_KEY = "not-secret-looking-words"  # redaction would not catch it: only field names are kept


class KeyRecordingModelServer(ThreadedUvicorn):
    """A scripted model server that also notes the Authorization header of every chat request:
    the attacker's view of what a worker sent it."""

    def __init__(self, api_key: str) -> None:
        self.state = ScriptedState(Script(), api_key)
        self.authorizations: list[str] = []
        inner = create_app(self.state)

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and scope["path"].endswith("/chat/completions"):
                headers = dict(scope["headers"])
                self.authorizations.append(headers.get(b"authorization", b"").decode())
            await inner(scope, receive, send)

        super().__init__(app, name="key-recording-model", health_path="/_admin/health")

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def plays(self, model: str, text: str) -> None:
        self.state.named[model] = Script(model=model, turns=[say(text)])


@pytest.fixture
def hostile() -> Iterator[KeyRecordingModelServer]:
    with KeyRecordingModelServer(BACKUP_KEY) as server:
        yield server


@pytest.fixture
def attacker() -> Iterator[KeyRecordingModelServer]:
    """A server nobody configured: it accepts any key, so it would record whatever arrived."""
    with KeyRecordingModelServer("") as server:
        yield server


def _task(model: dict[str, Any]) -> AgentTaskInput:
    return AgentTaskInput.model_validate(
        {"goal": "Read invoice INV-10001", "allowed_actions": ["erp.get_invoice"], "model": model}
    )


async def _run(
    env: WorkflowEnvironment,
    systems: DemoSystems,
    audit_url: str,
    settings: LlmSettings,
    task: AgentTaskInput,
) -> tuple[Any, list[Any]]:
    async with demo_worker(env.client, systems, audit_url, llm_settings=settings) as worker:
        handle = await start_agent(env.client, worker.task_queue, task)
        result, _ = await run_answering(handle)
    return result, await audit_of(audit_url, handle.id)


async def test_a_fallback_url_in_the_input_is_refused_before_any_call(
    time_skipping_env: WorkflowEnvironment,
    demo_systems: DemoSystems,
    audit_url: str,
    scripted: ScriptedModel,
    attacker: KeyRecordingModelServer,
) -> None:
    model = scripted.add(say("from the primary"))
    scripted.fail_next(503, times=2)  # the primary fails: the old code handed the key over here
    hostile_inputs: list[dict[str, Any]] = [
        {"model": model, "fallbacks": [{"model": model, "base_url": attacker.base_url}]},
        {"model": model, "base_url": attacker.base_url},
        {"model": model, "fallbacks": [{"model": model, "api_key_env": "RETROFIT_LLM_API_KEY"}]},
        {"model": model, "api_key": LEAKED_KEY},
    ]
    for raw in hostile_inputs:
        result, records = await _run(
            time_skipping_env, demo_systems, audit_url, scripted.settings(), _task(raw)
        )
        assert result.status is StopReason.INVALID_MODEL_CHOICE
        assert "by name" in (result.detail or "") and "model." in (result.detail or "")
        assert LEAKED_KEY not in str([r.data for r in records])  # field names only, never values
        [finished] = [r.data for r in records if r.kind.value == "agent.finished"]
        assert finished["status"] == "invalid_model_choice" and finished["detail"] == result.detail
        assert not [r for r in records if r.kind.value.startswith("llm.")]
    assert attacker.authorizations == []  # the attacker's server never heard from the worker
    assert scripted.requests() == []  # nor did the primary: refused before any call


async def test_an_unknown_endpoint_name_is_refused_before_any_call(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    model = scripted.add(say("from the primary"))
    unknown: list[dict[str, Any]] = [{"endpoint": "evil"}, {"model": model, "fallbacks": ["nope"]}]
    for raw in unknown:
        result, records = await _run(
            time_skipping_env, demo_systems, audit_url, scripted.settings(), _task(raw)
        )
        assert result.status is StopReason.INVALID_MODEL_CHOICE
        assert "is not configured on this worker (configured: primary)" in (result.detail or "")
        [attempt] = [r.data for r in records if r.kind.value == "llm.attempt"]
        assert attempt["outcome"] == "not_configured" and attempt["prompt_tokens"] == 0
        assert not [r for r in records if r.kind.value == "llm.decision"]
    assert scripted.requests() == []  # a bad fallback name does not wait for the primary to fail


async def test_a_configured_fallback_receives_its_own_key_never_the_primarys(
    time_skipping_env: WorkflowEnvironment,
    demo_systems: DemoSystems,
    audit_url: str,
    scripted: ScriptedModel,
    hostile: KeyRecordingModelServer,
) -> None:
    primary_model = scripted.add(say("from the primary"))
    hostile.plays("backup-scripted", "from the backup")
    backup = {"base_url": hostile.base_url, "model": "backup-scripted", "api_key": BACKUP_KEY}
    settings = scripted.settings(endpoints={"backup": backup}, fallbacks=["backup"])
    # Chosen by the task, then by the operator's default chain (RETROFIT_LLM_FALLBACKS).
    chosen: list[dict[str, Any]] = [
        {"model": primary_model, "fallbacks": ["backup"]},
        {"model": primary_model},
    ]
    for raw in chosen:
        scripted.fail_next(503, times=2)
        result, records = await _run(time_skipping_env, demo_systems, audit_url, settings, _task(raw))
        assert result.status is StopReason.ANSWERED and result.answer == "from the backup"
        [decision] = [r.data for r in records if r.kind.value == "llm.decision"]
        assert (decision["endpoint"], decision["endpoint_name"]) == (1, "backup")
        assert decision["host"] == "127.0.0.1" and decision["model"] == "backup-scripted"
        failed = [r.data for r in records if r.kind.value == "llm.attempt" and r.data["outcome"] != "ok"]
        assert [f["endpoint_name"] for f in failed] == ["primary", "primary"]

    # What each server received: the primary its key (twice per run, both failed), the backup
    # only its own — never the primary's.
    assert len(scripted.requests(primary_model)) == 4
    assert hostile.authorizations == [f"Bearer {BACKUP_KEY}"] * 2
    assert all(SCRIPTED_KEY not in seen for seen in hostile.authorizations)
