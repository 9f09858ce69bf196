"""Issue 12.4 as an attacker would try it: secrets and personal data in a legacy CRM note, in a goal
sent by a raw `temporalio` client, and in a hostile model's answer, on real Temporal with the
demo CRM and the scripted model server. None of it may reach the model provider, the workflow's
history (beyond the start event a raw client wrote itself) or the audit store; the ids the agent
works with still do.
"""

from __future__ import annotations

import json
import uuid

import httpx
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from temporalio.testing import WorkflowEnvironment

from retrofit.agent.contracts import AgentTaskResult, StopReason
from tests.support import DemoSystems, ScriptedModel, audit_of, demo_worker
from tests.workflow.agent_helpers import calls, history_text, run_answering, say, tool_messages

# What the issue found reaching the provider, history and the audit export in plain.
LEAKS = {
    "openai": "sk-live-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c",
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "password": "Hunter2Secret!",
    "jwt": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJvcHMtNDIiLCJpYXQiOjE3MDAwMDAwMDB9."
    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
    "iban": "de89 3704 0044 0532 0130 00",
    "card": "4111.1111.1111.1111",
    "phone_de": "(030) 1234-5678",
    "phone_us": "555-867-5309",
    "ssn": "219-45-6789",
}
NOTE = (
    f"Call back on {LEAKS['phone_de']} or {LEAKS['phone_us']}. Portal: password={LEAKS['password']}, "
    f"API key {LEAKS['openai']}, AWS {LEAKS['aws']}, session {LEAKS['jwt']}. Refund to IBAN "
    f"{LEAKS['iban']}, card {LEAKS['card']}, SSN {LEAKS['ssn']}. Re: INV-2024-0042, order SO-10248."
)
IDS = ("INV-2024-0042", "SO-10248")


def _leaked(text: str) -> list[str]:
    lowered = text.lower()
    return [kind for kind, value in LEAKS.items() if value.lower() in lowered]


async def _audit_text(audit_url: str, workflow_id: str) -> str:
    return json.dumps([r.model_dump(mode="json") for r in await audit_of(audit_url, workflow_id)])


async def test_a_crm_note_full_of_secrets_reaches_neither_model_nor_history_nor_audit(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    crm = demo_systems.crm
    async with httpx.AsyncClient(base_url=crm.url, timeout=5) as http:
        form = {
            "grant_type": "client_credentials",
            "client_id": "retrofit-demo",
            "client_secret": crm.client_secret,
        }
        token = (await http.post("/oauth/token", data=form)).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        (await http.post("/accounts/A-2001/notes", json={"body": NOTE}, headers=auth)).raise_for_status()
        # The control: the legacy system itself holds the note in plain.
        stored = (await http.get("/accounts/A-2001/notes", headers=auth)).text
    assert set(_leaked(stored)) >= {"password", "aws", "openai"}

    model = scripted.add(calls(("crm__list_notes", {"account_id": "A-2001"})), say("Read the notes."))
    task = {
        "goal": "Summarise the notes on A-2001",
        "allowed_actions": ["crm.list_notes"],
        "model": {"model": model},
    }
    env = time_skipping_env
    async with demo_worker(env.client, demo_systems, audit_url, llm_settings=scripted.settings()) as worker:
        handle = await env.client.start_workflow(
            "AgentTask", task, id=f"agent-{uuid.uuid4().hex[:10]}", task_queue=worker.task_queue,
            result_type=AgentTaskResult,
        )  # fmt: skip
        result, _ = await run_answering(handle)
        history = history_text((await handle.fetch_history()).to_json())

    assert result.status is StopReason.ANSWERED
    sent = scripted.requests(model)
    notes = tool_messages(sent[1]["body"])[0]
    assert _leaked(json.dumps([r["body"] for r in sent])) == []
    assert _leaked(history) == []
    assert _leaked(await _audit_text(audit_url, handle.id)) == []
    # Redacted, not dropped: the model still reads the note, with typed placeholders and the ids.
    for placeholder in ("[PHONE]", "[REDACTED]", "[API_KEY]", "[JWT]", "[IBAN]", "[CARD]", "[NATIONAL_ID]"):
        assert placeholder in notes
    assert all(i in notes for i in IDS) and all(i in history for i in IDS)


async def test_a_raw_client_goal_is_redacted_in_everything_the_workflow_writes(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    model = scripted.add(say("Nothing to do."))
    goal = f"Check {IDS[0]}; my login is password={LEAKS['password']}, call {LEAKS['phone_us']}, key {LEAKS['aws']}"
    # A raw dict, not AgentTaskInput: nothing on the client side redacts it (the CLI would).
    task = {"goal": goal, "allowed_actions": ["crm.list_notes"], "model": {"model": model}}
    env = time_skipping_env
    async with demo_worker(env.client, demo_systems, audit_url, llm_settings=scripted.settings()) as worker:
        handle = await env.client.start_workflow(
            "AgentTask", task, id=f"agent-{uuid.uuid4().hex[:10]}", task_queue=worker.task_queue,
            result_type=AgentTaskResult,
        )  # fmt: skip
        result, _ = await run_answering(handle)
        events = (await handle.fetch_history()).events

    assert result.status is StopReason.ANSWERED
    started, written = events[0], events[1:]
    assert started.HasField("workflow_execution_started_event_attributes")
    # The control: the start event the raw client wrote holds the goal in plain (the search sees
    # payloads), and everything after it, written by the workflow and its activities, does not.
    assert set(_leaked(history_text(json.dumps({"events": [_as_json(started)]})))) == {
        "password",
        "phone_us",
        "aws",
    }
    assert _leaked(history_text(json.dumps({"events": [_as_json(e) for e in written]}))) == []
    assert _leaked(json.dumps([r["body"] for r in scripted.requests(model)])) == []
    audit = await _audit_text(audit_url, handle.id)
    assert _leaked(audit) == [] and IDS[0] in audit


async def test_a_hostile_models_answer_is_redacted_before_history_and_audit(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str, scripted: ScriptedModel
) -> None:
    # The model echoes credentials in its text and in a tool call's arguments.
    model = scripted.add(
        calls(("crm__list_notes", {"account_id": "A-2001", "note": f"token {LEAKS['jwt']}"})),
        say(f"Done. Use {LEAKS['openai']} and card {LEAKS['card']} for {IDS[1]}."),
    )
    task = {
        "goal": "Read the notes on A-2001",
        "allowed_actions": ["crm.list_notes"],
        "model": {"model": model},
    }
    env = time_skipping_env
    async with demo_worker(env.client, demo_systems, audit_url, llm_settings=scripted.settings()) as worker:
        handle = await env.client.start_workflow(
            "AgentTask", task, id=f"agent-{uuid.uuid4().hex[:10]}", task_queue=worker.task_queue,
            result_type=AgentTaskResult,
        )  # fmt: skip
        result, _ = await run_answering(handle)
        history = history_text((await handle.fetch_history()).to_json())

    assert result.answer is not None and IDS[1] in result.answer
    assert _leaked(result.answer) == [] and _leaked(history) == []
    assert _leaked(await _audit_text(audit_url, handle.id)) == []


def _as_json(event: Message) -> object:
    return MessageToDict(event)
