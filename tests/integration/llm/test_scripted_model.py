"""The real `openai` client against the scripted model server: answers, tools, usage, errors."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from pydantic import SecretStr, ValidationError

from connectors.ledger.connector import LedgerConnector
from retrofit.llm.client import complete, make_client
from retrofit.llm.contracts import ChatMessage, LlmRequest, ToolCall
from retrofit.llm.scripted_server import Script, ScriptedToolCall, ScriptedTurn, estimate_tokens
from retrofit.llm.settings import LlmSettings, ModelPrice
from retrofit.llm.tools import action_name, tool_spec, tool_specs
from retrofit.sdk import AuthError, NonRetryableError, RetryableError, describe_connector
from tests.support import ScriptedModel

ASK = LlmRequest(messages=[ChatMessage(role="user", content="What is customer C-1's credit limit?")])


def ledger_tools() -> list[Any]:
    return tool_specs(describe_connector(LedgerConnector, plugin="test").actions)


async def test_a_scripted_text_answer_comes_back_through_the_real_client(
    scripted: ScriptedModel, client: openai.AsyncOpenAI, settings: LlmSettings
) -> None:
    scripted.play(Script(turns=[ScriptedTurn(content="The limit is 5000 EUR.")]))

    response = await complete(client, settings, ASK)

    assert response.content == "The limit is 5000 EUR."
    assert response.tool_calls == []
    assert response.scripted is True
    assert response.model.endswith("-scripted")
    assert response.latency_ms > 0


async def test_a_scripted_tool_call_is_parsed_and_the_conversation_moves_on(
    scripted: ScriptedModel, client: openai.AsyncOpenAI, settings: LlmSettings
) -> None:
    scripted.play(
        Script(
            turns=[
                ScriptedTurn(
                    tool_calls=[
                        ScriptedToolCall(name="ledger__get_customer", arguments={"customer_id": "C-1"})
                    ]
                ),
                ScriptedTurn(content="C-1 may borrow 5000 EUR."),
            ]
        )
    )
    request = ASK.model_copy(update={"tools": ledger_tools()})

    first = await complete(client, settings, request)

    assert first.content is None
    [call] = first.tool_calls
    assert call.name == "ledger__get_customer"
    assert action_name(call.name) == "ledger.get_customer"
    assert json.loads(call.arguments) == {"customer_id": "C-1"}
    assert call.id.startswith("call_")

    # The answer to the tool call goes back; the next scripted turn is the final text.
    follow_up = request.model_copy(
        update={
            "messages": [
                *request.messages,
                ChatMessage(role="assistant", tool_calls=[call]),
                ChatMessage(role="tool", tool_call_id=call.id, content='{"credit_limit": "5000"}'),
            ]
        }
    )
    second = await complete(client, settings, follow_up)

    assert second.content == "C-1 may borrow 5000 EUR."
    sent = scripted.requests()[-1]["body"]
    assert isinstance(sent, dict)
    assert sent["messages"][1]["tool_calls"][0] == {
        "id": call.id,
        "type": "function",
        "function": {"name": "ledger__get_customer", "arguments": call.arguments},
    }
    assert sent["messages"][2] == {
        "role": "tool",
        "content": '{"credit_limit": "5000"}',
        "tool_call_id": call.id,
    }


async def test_the_provider_receives_the_tool_schema_built_from_the_action(
    scripted: ScriptedModel, client: openai.AsyncOpenAI, settings: LlmSettings
) -> None:
    scripted.play(Script(turns=[ScriptedTurn(content="ok")]))
    spec = next(
        a for a in describe_connector(LedgerConnector, plugin="test").actions if a.method == "add_note"
    )

    await complete(client, settings, ASK.model_copy(update={"tools": [tool_spec(spec)]}))

    [received] = scripted.requests()
    body = received["body"]
    assert isinstance(body, dict)
    assert body["model"] == "retrofit-scripted"
    assert body["temperature"] == 0.0
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "ledger__add_note",
                "description": spec.description,
                "parameters": {k: v for k, v in spec.input_schema().items() if k != "title"},
            },
        }
    ]
    assert body["tools"][0]["function"]["parameters"]["required"] == ["customer_id", "text"]


async def test_usage_and_cost_are_computed(
    scripted: ScriptedModel, settings: LlmSettings, client: openai.AsyncOpenAI
) -> None:
    answer = "The limit is 5000 EUR."
    scripted.play(Script(turns=[ScriptedTurn(content=answer)]))

    free = await complete(client, settings, ASK)

    assert free.prompt_tokens == estimate_tokens(ASK.messages[0].content or "")
    assert free.completion_tokens == estimate_tokens(answer)
    assert free.total_tokens == free.prompt_tokens + free.completion_tokens
    assert free.cost_usd == 0.0

    priced = settings.model_copy(
        update={"prices": {"retrofit-scripted": ModelPrice(input_per_million=2.0, output_per_million=8.0)}}
    )
    paid = await complete(client, priced, ASK)
    assert paid.prompt_tokens == free.prompt_tokens
    assert paid.cost_usd == pytest.approx((free.prompt_tokens * 2.0 + free.completion_tokens * 8.0) / 1e6)


async def test_an_unpriced_model_has_no_cost_rather_than_zero(
    scripted: ScriptedModel, settings: LlmSettings, client: openai.AsyncOpenAI
) -> None:
    scripted.play(Script(model="other-scripted", turns=[ScriptedTurn(content="hi")]))
    unpriced = settings.model_copy(update={"prices": {}, "model": "mystery-model"})

    response = await complete(client, unpriced, ASK)

    assert response.model == "other-scripted"
    # Scripted models are free even without a table entry; a real unknown model would be None.
    assert response.cost_usd == 0.0
    assert unpriced.price_of("mystery-model") is None
    assert settings.price_of("gpt-4o-mini-2024-07-18") == settings.prices["gpt-4o-mini"]


async def test_429_with_retry_after_is_retryable_after_that_delay(
    scripted: ScriptedModel, settings: LlmSettings, client: openai.AsyncOpenAI
) -> None:
    scripted.play(Script(turns=[ScriptedTurn(content="ok")]))
    scripted.fail_next(429, retry_after=7)

    with pytest.raises(RetryableError) as caught:
        await complete(client, settings, ASK)

    assert caught.value.retry_after == timedelta(seconds=7)
    assert "429" in caught.value.message
    # One request only: the client's own retries are off, Temporal retries.
    assert len(scripted.requests()) == 1
    # The fault was for one request; the next one is answered.
    assert (await complete(client, settings, ASK)).content == "ok"


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_are_retryable(
    scripted: ScriptedModel, settings: LlmSettings, client: openai.AsyncOpenAI, status: int
) -> None:
    scripted.fail_next(status)

    with pytest.raises(RetryableError) as caught:
        await complete(client, settings, ASK)

    assert caught.value.retry_after is None
    assert len(scripted.requests()) == 1


async def test_an_unreachable_provider_is_retryable(settings: LlmSettings) -> None:
    nowhere = settings.model_copy(update={"base_url": "http://127.0.0.1:9/v1", "timeout_seconds": 2.0})
    async with make_client(nowhere) as client:
        with pytest.raises(RetryableError, match="could not reach"):
            await complete(client, nowhere, ASK)


async def test_a_wrong_key_is_an_auth_error(scripted: ScriptedModel, settings: LlmSettings) -> None:
    wrong = settings.model_copy(update={"api_key": SecretStr("not-the-key")})
    async with make_client(wrong) as client:
        with pytest.raises(AuthError) as caught:
            await complete(client, wrong, ASK)

    assert "401" in caught.value.message
    assert "not-the-key" not in f"{caught.value.message} {caught.value.details}"
    assert scripted.requests() == []


async def test_a_malformed_request_is_not_retryable(
    scripted: ScriptedModel, settings: LlmSettings, client: openai.AsyncOpenAI
) -> None:
    # A tool message that answers no call: the provider refuses the shape with a 400.
    bad = LlmRequest(messages=[ChatMessage(role="tool", content="orphan")])

    with pytest.raises(NonRetryableError) as caught:
        await complete(client, settings, bad)

    assert not isinstance(caught.value, AuthError | RetryableError)
    assert "400" in caught.value.message
    assert caught.value.details is not None and "tool_call_id" in caught.value.details


async def test_an_exhausted_script_is_a_clear_non_retryable_error(
    scripted: ScriptedModel, settings: LlmSettings, client: openai.AsyncOpenAI
) -> None:
    with pytest.raises(NonRetryableError, match="script has 0 turns"):
        await complete(client, settings, ASK)


async def test_the_server_answers_openai_shaped_json_and_labels_it(
    scripted: ScriptedModel, client: openai.AsyncOpenAI
) -> None:
    scripted.play(Script(turns=[ScriptedTurn(tool_calls=[ScriptedToolCall(name="ledger__get_customer")])]))

    raw = await client.chat.completions.with_raw_response.create(
        model="anything", messages=[{"role": "user", "content": "hi"}]
    )
    completion = raw.parse()

    assert raw.headers["x-retrofit-scripted"] == "true"
    assert completion.object == "chat.completion"
    assert completion.model == "retrofit-scripted"
    assert completion.choices[0].finish_reason == "tool_calls"
    assert completion.usage is not None
    assert (
        completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    )


@pytest.mark.parametrize(
    "body",
    [
        {"model": "m", "messages": []},
        {"model": "m", "messages": [{"role": "robot", "content": "x"}]},
        {"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": {"not": "a list"}},
        {"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]},
        {"messages": [{"role": "user", "content": "x"}]},
    ],
)
def test_bad_shapes_get_an_openai_style_400(scripted: ScriptedModel, body: dict[str, Any]) -> None:
    response = httpx.post(
        f"{scripted.server.base_url}/chat/completions",
        json=body,
        headers={"Authorization": "Bearer test-scripted-key"},
        timeout=5,
        verify=False,
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"]


def test_a_script_loads_from_json_and_refuses_unlabelled_models(tmp_path: Path) -> None:
    path = tmp_path / "script.json"
    path.write_text(
        json.dumps(
            {
                "turns": [
                    {"tool_calls": [{"name": "ledger__get_customer", "arguments": {"customer_id": "C-1"}}]},
                    {"content": "done"},
                ]
            }
        )
    )
    script = Script.from_file(path)
    assert script.model == "retrofit-scripted"
    assert [t.content for t in script.turns] == [None, "done"]

    with pytest.raises(ValidationError, match="-scripted"):
        Script(model="gpt-4o")
    with pytest.raises(ValidationError, match="either content or tool_calls"):
        ScriptedTurn()


def test_tool_names_are_openai_safe_and_reversible() -> None:
    tools = ledger_tools()
    names = sorted(t.name for t in tools)
    assert names == [
        "ledger__add_note",
        "ledger__delete_customer",
        "ledger__get_customer",
        "ledger__set_credit_limit",
    ]
    assert [action_name(n) for n in names] == [
        "ledger.add_note",
        "ledger.delete_customer",
        "ledger.get_customer",
        "ledger.set_credit_limit",
    ]
    assert all(t.description for t in tools)
    assert ToolCall(id="x", name="a", arguments="{}").arguments == "{}"


async def test_named_scripts_answer_requests_for_their_model_and_others_get_the_default(
    scripted: ScriptedModel, client: openai.AsyncOpenAI, settings: LlmSettings
) -> None:
    scripted.play(Script(turns=[ScriptedTurn(content="default")]))
    mine = scripted.add(ScriptedTurn(content="mine"))

    assert (await complete(client, settings, ASK.model_copy(update={"model": mine}))).content == "mine"
    answered = await complete(client, settings, ASK)
    assert answered.content == "default" and answered.model == "retrofit-scripted"


async def test_broken_arguments_and_endless_repetition_can_be_scripted(
    scripted: ScriptedModel, client: openai.AsyncOpenAI, settings: LlmSettings
) -> None:
    broken = ScriptedToolCall(name="ledger__get_customer", raw_arguments='{"customer_id": ')
    model = scripted.add(ScriptedTurn(tool_calls=[broken]), repeat_last=True)
    request = ASK.model_copy(update={"model": model, "tools": ledger_tools()})
    for turn in range(3):  # each answer adds an assistant turn; the last one repeats forever
        response = await complete(client, settings, request)
        assert response.tool_calls[0].arguments == '{"customer_id": '
        messages = [*request.messages, ChatMessage(role="assistant", tool_calls=response.tool_calls)]
        messages.append(
            ChatMessage(role="tool", tool_call_id=response.tool_calls[0].id, content=f"bad {turn}")
        )
        request = request.model_copy(update={"messages": messages})


def test_openai_environment_switches_to_the_live_model(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RETROFIT_LLM_API_KEY", "RETROFIT_LLM_BASE_URL", "RETROFIT_LLM_MODEL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
    live = LlmSettings(_env_file=None)  # type: ignore[call-arg]
    assert (live.base_url, live.model, live.is_scripted) == (
        "https://api.openai.com/v1",
        "gpt-4o-mini",
        False,
    )
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")
    monkeypatch.setenv("RETROFIT_LLM_MODEL", "llama3.1")
    local = LlmSettings(_env_file=None)  # type: ignore[call-arg]
    assert (local.base_url, local.model) == ("http://127.0.0.1:11434/v1", "llama3.1")
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.delenv("RETROFIT_LLM_MODEL")
    assert LlmSettings(_env_file=None).is_scripted  # type: ignore[call-arg]
