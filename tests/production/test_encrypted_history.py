"""Encrypted payloads on the real dev server: what Temporal stores is ciphertext, Retrofit's own
clients (workers, CLI, codec server) read it, and keys rotate without breaking running workflows."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from legacy.ledger.server import LedgerServer
from retrofit.codec import ENCODING, UnknownKeyError
from retrofit.codec.converter import codec_from_settings
from retrofit.codec.server import codec_app
from retrofit.gate.approval_models import DECIDE_UPDATE, DecideResult
from retrofit.http_serving import ThreadedUvicorn
from tests.identity_support import signed
from tests.production.codec_support import (
    client_with_keys,
    codec_settings,
    key_ids,
    new_key,
    raw_bytes,
    unencrypted,
    wait_for_request,
)
from tests.support import ledger_worker

RETROFIT = str(Path(sys.executable).parent / "retrofit")
EMAIL = "jane.doe@example.com"
NOTE = {"customer_id": "C-1001", "text": f"Call {EMAIL} about the overdue invoice"}
# What must never be readable by the server: the ids, names and e-mail addresses of customers.
PLAINTEXT = (b"C-1001", EMAIL.encode(), b"Nordwind")


def _get_customer() -> dict[str, Any]:
    return {"action": "ledger.get_customer", "arguments": {"customer_id": "C-1001"}}


async def _approve(client: Client, wf_id: str, approver: str) -> DecideResult:
    handle = client.get_workflow_handle(wf_id)
    view = await wait_for_request(handle, "apr-1")
    result: DecideResult = await handle.execute_update(
        DECIDE_UPDATE, await signed(None, wf_id, view, approver, "approve"), result_type=DecideResult
    )
    return result


@pytest.mark.devserver
async def test_plaintext_control_shows_the_data_the_codec_hides(
    dev_server_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str
) -> None:
    """Without keys (the embedded default) history is readable: the probe below finds the data."""
    plain = dev_server_env.client
    async with ledger_worker(plain, ledger, audit_url) as worker:
        handle = await plain.start_workflow(
            "SingleAction", _get_customer(), id=f"plain-{uuid.uuid4()}", task_queue=worker.task_queue
        )
        await handle.result()
    blob = raw_bytes(await handle.fetch_history())
    assert all(secret in blob for secret in PLAINTEXT[::2])  # C-1001 and the customer's name
    assert set(key_ids(await handle.fetch_history())) == {None}


@pytest.mark.devserver
async def test_history_holds_no_customer_data_and_only_keyholders_read_it(
    dev_server_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str, tmp_path: Path
) -> None:
    plain = dev_server_env.client
    keys = {"k1": new_key()}
    sealed = await client_with_keys(plain, keys, "k1")
    read_id, note_id = f"enc-read-{uuid.uuid4()}", f"enc-note-{uuid.uuid4()}"
    async with ledger_worker(sealed, ledger, audit_url) as worker:
        read = await sealed.start_workflow(
            "SingleAction", _get_customer(), id=read_id, task_queue=worker.task_queue
        )
        note = await sealed.start_workflow(
            "SingleAction",
            {"action": "ledger.add_note", "arguments": NOTE},
            id=note_id,
            task_queue=worker.task_queue,
        )
        await wait_for_request(note, "apr-1")
        # The CLI decodes with the keys from its environment, like every Retrofit client.
        env = dict(
            os.environ, RETROFIT_TEMPORAL_ADDRESS=plain.service_client.config.target_host, COLUMNS="250"
        )
        env.update(RETROFIT_CODEC_KEYS=f"k1:{base64.b64encode(keys['k1']).decode()}")
        proc = await asyncio.create_subprocess_exec(
            RETROFIT, "approvals", "list", "--workflow", note_id, env=env, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
        assert proc.returncode == 0 and "ledger.add_note" in out.decode() and "C-1001" in out.decode()

        assert (await _approve(sealed, note_id, "alice")).status.value == "approved"
        read_result = await read.result()
        note_result = await note.result()
    assert read_result["output"]["name"] == "Nordwind Logistik GmbH"
    assert EMAIL in note_result["output"]["text"]

    for wf_id in (read_id, note_id):
        history = await plain.get_workflow_handle(wf_id).fetch_history()
        blob = raw_bytes(history)
        leaked = [s.decode() for s in PLAINTEXT if s in blob]
        assert not leaked, f"{wf_id}: plaintext {leaked} in the stored history"
        assert not unencrypted(history)
        assert set(key_ids(history)) == {"k1", None}  # None: the local-activity marker's bookkeeping

    # Without the keys the result does not decode at all.
    with pytest.raises(Exception, match=r"binary/encrypted|encoding"):
        await plain.get_workflow_handle(read_id).result()

    # The codec server decodes a payload taken straight from the stored history.
    history = await plain.get_workflow_handle(read_id).fetch_history()
    [completed] = [e for e in history.events if e.HasField("activity_task_completed_event_attributes")][-1:]
    stored = completed.activity_task_completed_event_attributes.result.payloads[0]
    assert stored.metadata["encoding"] == ENCODING
    codec = codec_from_settings(codec_settings(keys, "k1"))
    assert codec is not None
    with ThreadedUvicorn(codec_app(codec), name="codec", health_path="/health") as server:
        body = {"payloads": [_to_json(stored)]}
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.post(f"{server.url}/decode", json=body)
    assert response.status_code == 200
    [decoded] = response.json()["payloads"]
    assert "Nordwind Logistik GmbH" in base64.b64decode(decoded["data"]).decode()


@pytest.mark.devserver
async def test_rotating_keys_mid_workflow(
    dev_server_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str
) -> None:
    """A workflow started under k1 waits for approval; workers restart with k2 active (k1 kept):
    it finishes, old events still decode, new payloads use k2; without k1 the old ones are refused
    by name."""
    plain = dev_server_env.client
    k1, k2 = new_key(), new_key()
    old = await client_with_keys(plain, {"k1": k1}, "k1")
    rotated = await client_with_keys(plain, {"k1": k1, "k2": k2}, "k2")
    task_queue = f"rotate-{uuid.uuid4()}"
    wf_id = f"rotate-{uuid.uuid4()}"
    async with ledger_worker(old, ledger, audit_url, task_queue=task_queue):
        handle = await old.start_workflow(
            "SingleAction", {"action": "ledger.add_note", "arguments": NOTE}, id=wf_id, task_queue=task_queue
        )
        await wait_for_request(handle, "apr-1")
    async with ledger_worker(rotated, ledger, audit_url, task_queue=task_queue):
        # A fresh worker replays the k1 history from the start, then answers under k2.
        assert (await _approve(rotated, wf_id, "bob")).status.value == "approved"
        result = await rotated.get_workflow_handle(wf_id).result()
    assert EMAIL in result["output"]["text"]

    history = await plain.get_workflow_handle(wf_id).fetch_history()
    assert not unencrypted(history)
    ids = [key_id for key_id in key_ids(history) if key_id is not None]
    assert ids[0] == "k1" and ids[-1] == "k2" and set(ids) == {"k1", "k2"}
    assert not [s for s in PLAINTEXT if s in raw_bytes(history)]

    only_new = await client_with_keys(plain, {"k2": k2}, "k2")
    started = history.events[0].workflow_execution_started_event_attributes.input.payloads
    with pytest.raises(UnknownKeyError, match="'k1', which is not configured"):
        await only_new.data_converter.decode(started)
    [decoded_input] = await rotated.data_converter.decode(started)
    assert decoded_input["arguments"]["customer_id"] == "C-1001"


def _to_json(payload: Payload) -> dict[str, Any]:
    from google.protobuf import json_format

    loaded: dict[str, Any] = json.loads(json_format.MessageToJson(payload))
    return loaded
