"""What the client sends passes a local OpenAI-compatible server stricter than OpenAI (issue 16.2).

llama.cpp's server answers HTTP 500 to a message whose `content` is null (and some of its versions
to a missing `content`), which OpenAI allows on an assistant turn that calls tools. The strict
server here is a real HTTP server on loopback that checks each request the way llama.cpp does and
passes what it accepts on to the scripted model server, so the turns are still scripted.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.testing import WorkflowEnvironment

from retrofit.agent.contracts import AgentTaskInput, StopReason
from retrofit.http_serving import ThreadedUvicorn
from retrofit.llm.client import attempt, make_client
from retrofit.llm.contracts import ChatMessage, LlmRequest, ToolCall, ToolSpec
from retrofit.llm.scripted_server import ScriptedModelServer
from tests.support import DemoSystems, ScriptedModel, demo_worker
from tests.workflow.agent_helpers import calls, run_answering, say, start_agent


def strict_problem(body: Any) -> str | None:
    """What llama.cpp's server fails on (HTTP 500) in a request OpenAI accepts; None if nothing."""
    for index, message in enumerate(body.get("messages", [])):
        if "content" not in message:
            return f"Expected 'content' (messages[{index}])"
        if not isinstance(message["content"], str | list):
            kind = type(message["content"]).__name__
            return f"[json.exception.type_error.302] type must be string, but is {kind} (messages[{index}])"
        for call in message.get("tool_calls") or []:
            arguments = call.get("function", {}).get("arguments")
            try:
                json.loads(arguments)
            except (TypeError, ValueError):
                return f"[json.exception.parse_error.101] tool call arguments (messages[{index}])"
    return None


class StrictLocalServer(ThreadedUvicorn):
    """A llama.cpp-strict front of the scripted server: 500 to what llama.cpp refuses."""

    def __init__(self, upstream: str) -> None:
        self.received: list[Any] = []
        self.refused: list[str] = []
        lock = threading.Lock()

        async def chat(request: Request) -> Response:
            raw = await request.body()
            body = json.loads(raw)
            problem = strict_problem(body)
            with lock:
                self.received.append(body)
                if problem is not None:
                    self.refused.append(problem)
            if problem is not None:  # llama.cpp's own error shape
                error = {"error": {"code": 500, "message": problem, "type": "server_error"}}
                return JSONResponse(error, status_code=500)
            headers = {
                "authorization": request.headers.get("authorization", ""),
                "content-type": "application/json",
            }
            async with httpx.AsyncClient() as http:
                answer = await http.post(
                    f"{upstream}/chat/completions", content=raw, headers=headers, timeout=5
                )
            return Response(answer.content, status_code=answer.status_code, media_type="application/json")

        async def health(_: Request) -> Response:
            return JSONResponse({"status": "ok"})

        app = Starlette(
            routes=[
                Route("/v1/chat/completions", chat, methods=["POST"]),
                Route("/health", health, methods=["GET"]),
            ]
        )
        super().__init__(app, name="strict-local-model", health_path="/health")

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"


@pytest.fixture
def strict(scripted_server: ScriptedModelServer) -> Iterator[StrictLocalServer]:
    with StrictLocalServer(scripted_server.base_url) as server:
        yield server


def test_strict_server_refuses_null_content_as_llama_cpp_does(strict: StrictLocalServer) -> None:
    # The test server itself: it must refuse what llama.cpp refuses, or the tests below prove nothing.
    message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": []}
    answer = httpx.post(
        f"{strict.base_url}/chat/completions",
        json={"model": "m-scripted", "messages": [{"role": "user", "content": "hi"}, message]},
        timeout=5,
    )
    assert answer.status_code == 500
    assert "type must be string" in answer.json()["error"]["message"]
    missing = {"model": "m-scripted", "messages": [{"role": "assistant"}]}
    assert httpx.post(f"{strict.base_url}/chat/completions", json=missing, timeout=5).status_code == 500


async def test_every_message_kind_passes_a_strict_local_server(
    strict: StrictLocalServer, scripted: ScriptedModel
) -> None:
    # The scripted server answers by counting assistant turns: the request holds one already.
    model = scripted.add(say("not played"), say("done"))
    request = LlmRequest(
        model=model,
        messages=[
            ChatMessage(role="system", content="You are careful."),
            ChatMessage(role="user", content="Look up A-1"),
            # What a model's tool-calling turn becomes in the conversation: no text.
            ChatMessage(
                role="assistant",
                content=None,
                tool_calls=[
                    ToolCall(id="c1", name="erp__get_invoice", arguments='{"id": "A-1"}'),
                    ToolCall(id="c2", name="erp__list_invoices", arguments=""),
                ],
            ),
            ChatMessage(role="tool", tool_call_id="c1", content='{"total": 3}'),
            ChatMessage(role="tool", tool_call_id="c2", content=None),
            ChatMessage(role="user", content=None),
        ],
        tools=[ToolSpec(name="erp__get_invoice", description="get", parameters={"type": "object"})],
    )
    settings = scripted.settings(base_url=strict.base_url, model=model)
    async with make_client(settings) as client:
        tried = await attempt(client, settings, request)
    assert strict.refused == []
    assert tried.error is None and tried.response is not None
    assert tried.response.content == "done"
    sent = strict.received[0]["messages"]
    assert all(isinstance(m["content"], str) for m in sent)
    assert sent[2]["content"] == ""
    assert [c["function"]["arguments"] for c in sent[2]["tool_calls"]] == ['{"id": "A-1"}', "{}"]


async def test_agent_with_tools_runs_against_a_strict_local_server(
    time_skipping_env: WorkflowEnvironment,
    demo_systems: DemoSystems,
    audit_url: str,
    scripted: ScriptedModel,
    strict: StrictLocalServer,
) -> None:
    model = scripted.add(
        calls(("erp__list_invoices", {"overdue_only": True, "page_size": 2})),
        say("Two overdue invoices."),
    )
    task = AgentTaskInput.model_validate(
        {"goal": "List overdue invoices", "allowed_actions": ["erp.*"], "model": {"model": model}}
    )
    settings = scripted.settings(base_url=strict.base_url)
    env = time_skipping_env
    async with demo_worker(env.client, demo_systems, audit_url, llm_settings=settings) as worker:
        handle = await start_agent(env.client, worker.task_queue, task)
        result, _ = await run_answering(handle)

    assert strict.refused == []
    assert result.status is StopReason.ANSWERED, result
    assert result.answer == "Two overdue invoices."
    second = strict.received[1]["messages"]
    turn = next(m for m in second if m["role"] == "assistant")
    assert turn["content"] == "" and turn["tool_calls"]
