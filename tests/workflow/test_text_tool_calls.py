"""Tool calls written as text (issue 16.2b): read only on an endpoint the operator opted in, then
validated, allowed and gated exactly like native calls. Real AgentTask runs on the time-skipping
server against the scripted model server answering with text, through the real `openai` client."""

from __future__ import annotations

import json

import pytest
from temporalio.testing import WorkflowEnvironment

from retrofit.agent.contracts import AgentTaskInput, StopReason, ToolOutcome
from retrofit.llm.client import attempt, make_client
from retrofit.llm.contracts import ChatMessage, LlmRequest
from retrofit.llm.scripted_server import ScriptedTurn
from retrofit.llm.settings import LlmSettings
from retrofit.llm.text_tool_calls import INVALID_NAME, MAX_CALLS, parse_text_tool_calls
from tests.support import SCRIPTED_KEY, DemoSystems, ScriptedModel, demo_worker
from tests.workflow.agent_helpers import as_json, by_action, run_answering, say, start_agent, tool_messages

LIST = {"name": "erp__list_invoices", "arguments": {"overdue_only": True, "page_size": 2}}


def _fenced(value: object) -> str:
    return f"I will look.\n```json\n{json.dumps(value)}\n```\n"


# --- the parser ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"<tool_call>\n{json.dumps(LIST)}\n</tool_call>",
        f"<tool_call>{json.dumps(LIST)}",  # never closed
        _fenced(LIST),
        json.dumps(LIST),
        json.dumps([LIST]),
        json.dumps({"name": LIST["name"], "parameters": LIST["arguments"]}),
        json.dumps({"type": "function", "function": {**LIST, "arguments": json.dumps(LIST["arguments"])}}),
    ],
)
def test_each_text_form_is_one_call(text: str) -> None:
    _, calls = parse_text_tool_calls(text)
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [(LIST["name"], LIST["arguments"])]


def test_prose_around_calls_is_kept_and_ids_are_stable_and_distinct() -> None:
    text = f"Checking both.\n<tool_call>{json.dumps(LIST)}</tool_call>\n<tool_call>{json.dumps(LIST)}</tool_call>"
    rest, calls = parse_text_tool_calls(text)
    assert rest == "Checking both."
    assert len(calls) == 2 and calls[0].id != calls[1].id
    assert [c.id for c in parse_text_tool_calls(text)[1]] == [c.id for c in calls]


@pytest.mark.parametrize(
    "text",
    [
        'The answer is {"name": "Ada", "arguments": {}} as you asked.',  # JSON inside prose
        _fenced({"name": "x", "arguments": {}, "explanation": "extra key: not a call"}),
        _fenced({"name": "has spaces", "arguments": {}}),
        _fenced({"total": 3}),
        '```python\n{"name": "erp__list_invoices", "arguments": {}}\n```',
        json.dumps({"name": "erp__list_invoices", "arguments": {}, "parameters": {}}),
        "[" * 50_000,
        "```json\n" + "[" * 50_000 + "\n```",
        "{} {}",
        "",
        json.dumps({"name": "Ada"}),  # an answer (an output schema's, say), not a call: no arguments
        _fenced([LIST, {"name": "Ada"}]),  # a list is calls only if every item is one
    ],
)
def test_text_that_is_not_a_call_stays_text(text: str) -> None:
    assert parse_text_tool_calls(text) == (text, [])


def test_a_tool_call_element_needs_no_arguments() -> None:
    _, calls = parse_text_tool_calls('<tool_call>{"name": "erp__list_invoices"}</tool_call>')
    assert [(c.name, c.arguments) for c in calls] == [("erp__list_invoices", "{}")]


def test_a_broken_tool_call_element_is_a_call_the_agent_refuses() -> None:
    _, calls = parse_text_tool_calls(
        '<tool_call>{"name": "erp__list_invoices", "arguments": {"page_size": </tool_call>'
    )
    assert [c.name for c in calls] == ["erp__list_invoices"]
    with pytest.raises(ValueError):
        json.loads(calls[0].arguments)
    _, calls = parse_text_tool_calls("<tool_call>no json at all</tool_call>")
    assert [c.name for c in calls] == [INVALID_NAME]
    _, calls = parse_text_tool_calls("<tool_call>" + "[" * 100_000 + "</tool_call>")
    with pytest.raises(ValueError):  # never a RecursionError in the workflow's json.loads
        json.loads(calls[0].arguments)


def test_a_huge_blob_is_bounded() -> None:
    blob = "".join(f"<tool_call>{json.dumps(LIST)}</tool_call>" for _ in range(5_000))
    _, calls = parse_text_tool_calls(blob)
    assert len(calls) == MAX_CALLS
    many = json.dumps([LIST] * (MAX_CALLS + 1))
    assert parse_text_tool_calls(many) == (many, [])
    deep = json.dumps({"name": "erp__list_invoices", "arguments": {"a": "x" * 200_000}})
    assert len(parse_text_tool_calls(deep)[1][0].arguments) > 200_000


# --- through the client ----------------------------------------------------------------------


async def test_off_by_default_text_stays_text_through_the_client(scripted: ScriptedModel) -> None:
    model = scripted.add(say(f"<tool_call>{json.dumps(LIST)}</tool_call>"))
    settings = scripted.settings(model=model)
    assert settings.text_tool_calls is False
    request = LlmRequest(messages=[ChatMessage(role="user", content="go")])
    async with make_client(settings) as client:
        tried = await attempt(client, settings, request)
    assert tried.response is not None and tried.response.tool_calls == []
    assert tried.response.content == f"<tool_call>{json.dumps(LIST)}</tool_call>"


def test_the_setting_is_per_endpoint() -> None:
    settings = LlmSettings(
        base_url="http://127.0.0.1:1/v1",
        model="m",
        endpoints={
            "local": {"base_url": "http://127.0.0.1:2/v1", "model": "qwen", "text_tool_calls": True},
            "other": {"base_url": "http://127.0.0.1:3/v1", "model": "qwen"},
        },
    )
    assert settings.for_endpoint("local").text_tool_calls is True
    assert settings.for_endpoint("other").text_tool_calls is False
    assert settings.for_endpoint("primary").text_tool_calls is False
    primary_on = settings.model_copy(update={"text_tool_calls": True})
    assert primary_on.for_endpoint("primary").text_tool_calls is True
    assert primary_on.for_endpoint("other").text_tool_calls is False


# --- through the agent -----------------------------------------------------------------------


def _task(model: str, allowed: list[str], endpoint: str | None = None) -> AgentTaskInput:
    choice: dict[str, object] = {"model": model}
    if endpoint is not None:
        choice["endpoint"] = endpoint
    # Room for every refusal a hostile turn earns before the model answers.
    budget = {"max_consecutive_errors": 10}
    return AgentTaskInput.model_validate(
        {"goal": "List overdue invoices", "allowed_actions": allowed, "model": choice, "budget": budget}
    )


async def test_agent_runs_text_calls_on_the_opted_in_endpoint_only(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    turns = (say(f"Let me look.\n<tool_call>{json.dumps(LIST)}</tool_call>"), say("Two overdue invoices."))
    on, off = scripted.add(*turns), scripted.add(*turns)
    local = {
        "base_url": scripted.server.base_url,
        "model": on,
        "api_key": SCRIPTED_KEY,
        "text_tool_calls": True,
    }
    settings = scripted.settings(endpoints={"local": local})
    env = time_skipping_env
    async with demo_worker(env.client, demo_systems, audit_url, llm_settings=settings) as worker:
        handle = await start_agent(env.client, worker.task_queue, _task(on, ["erp.*"], endpoint="local"))
        parsed, _ = await run_answering(handle)
        handle = await start_agent(env.client, worker.task_queue, _task(off, ["erp.*"]))
        plain, _ = await run_answering(handle)

    assert parsed.status is StopReason.ANSWERED and parsed.answer == "Two overdue invoices."
    assert [(t.action, t.outcome) for t in parsed.tools] == [("erp.list_invoices", ToolOutcome.SUCCEEDED)]
    second = scripted.requests(on)[1]["body"]
    turn = next(m for m in second["messages"] if m["role"] == "assistant")
    assert (
        turn["content"] == "Let me look."
        and turn["tool_calls"][0]["function"]["name"] == "erp__list_invoices"
    )
    assert as_json(tool_messages(second)[0])  # the tool's output went back to the model
    # The primary endpoint did not opt in: the text is the answer, nothing ran.
    assert plain.status is StopReason.ANSWERED and plain.tools == []
    assert plain.answer is not None and plain.answer.startswith("Let me look.")


async def test_hostile_text_calls_take_the_native_refusals(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    write = {"name": "crm__add_note", "arguments": {"account_id": "A-1", "body": "x"}}
    broken = '<tool_call>{"name": "erp__list_invoices", "arguments": {"page_size": </tool_call>'
    nested = {"name": "erp__list_invoices", "arguments": {"page_size": {"a": [[[{"b": 1}]]]}}}
    model = scripted.add(
        say(f"<tool_call>{json.dumps(write)}</tool_call><tool_call>{json.dumps(nested)}</tool_call>"),
        say(broken),
        say("Stopping."),
    )
    settings = scripted.settings(text_tool_calls=True)
    env = time_skipping_env
    async with demo_worker(env.client, demo_systems, audit_url, llm_settings=settings) as worker:
        handle = await start_agent(env.client, worker.task_queue, _task(model, ["erp.*"]))
        result, _ = await run_answering(handle)

    assert result.status is StopReason.ANSWERED, result
    outcomes = [(t.action, t.outcome) for t in result.tools]
    assert outcomes == [
        ("crm__add_note", ToolOutcome.NOT_ALLOWED),  # not in the allowed list: nothing ran
        ("erp.list_invoices", ToolOutcome.INVALID),  # the schema refused the nested garbage
        ("erp.list_invoices", ToolOutcome.INVALID),  # broken JSON, told to the model
    ]
    requests = scripted.requests(model)
    fed_back = [as_json(m) for r in requests[1:] for m in tool_messages(r["body"])][-1:]
    assert "not valid JSON" in json.dumps(fed_back)


async def test_a_text_call_to_a_write_waits_for_its_approval(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    note = {"name": "crm__add_note", "arguments": {"account_id": "A-2003", "body": "Chased by text call."}}
    model = scripted.add(say(_fenced(note)), say(_fenced(note)), say("Done."))
    settings = scripted.settings(text_tool_calls=True)
    env = time_skipping_env
    async with demo_worker(env.client, demo_systems, audit_url, llm_settings=settings) as worker:
        handle = await start_agent(env.client, worker.task_queue, _task(model, ["crm.add_note"]))
        result, approvals = await run_answering(handle, by_action({}))  # every approval rejected

    assert result.status is StopReason.ANSWERED, result
    assert [view.action for view in approvals] == ["crm.add_note", "crm.add_note"]
    assert [t.outcome for t in result.tools] == [ToolOutcome.REJECTED, ToolOutcome.REJECTED]


async def test_native_calls_win_over_text_ones(scripted: ScriptedModel) -> None:
    native = {
        "id": "call_native",
        "type": "function",
        "function": {"name": "erp__get_invoice", "arguments": "{}"},
    }
    body = {
        "model": "x-scripted",
        "choices": [{"message": {"role": "assistant", "content": json.dumps(LIST), "tool_calls": [native]}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1},
    }
    model = scripted.add(ScriptedTurn(raw_body=json.dumps(body)))
    settings = scripted.settings(model=model, text_tool_calls=True)
    async with make_client(settings) as client:
        tried = await attempt(client, settings, LlmRequest(messages=[ChatMessage(role="user", content="go")]))
    assert tried.response is not None
    assert [c.id for c in tried.response.tool_calls] == ["call_native"]
    assert tried.response.content == json.dumps(LIST)
