"""Helpers for the production-shape tests: clients with Retrofit's encrypting converter."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import Iterator, Mapping
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowHandle
from temporalio.client import WorkflowHistory as History

from retrofit.codec.aes_gcm import KEY_ID_METADATA
from retrofit.codec.converter import data_converter
from retrofit.gate.answer_identity import LATE_PATCH_ID, PATCH_ID
from retrofit.gate.approval_models import PENDING_QUERY, ApprovalView
from retrofit.gate.contracts import POLICY_ACTIVITY
from retrofit.gate.escalation import PATCH_ID as ESCALATION_PATCH_ID
from retrofit.settings import RetrofitSettings


def new_key() -> bytes:
    return os.urandom(32)


def codec_settings(keys: Mapping[str, bytes], active: str) -> RetrofitSettings:
    listed = ",".join(f"{key_id}:{base64.b64encode(key).decode()}" for key_id, key in keys.items())
    return RetrofitSettings(codec_keys=listed, codec_active_key=active)


async def client_with_keys(plain: Client, keys: Mapping[str, bytes], active: str) -> Client:
    """A client on the same server as `plain`, encrypting with `keys`."""
    return await Client.connect(
        plain.service_client.config.target_host,
        namespace=plain.namespace,
        data_converter=data_converter(codec_settings(keys, active)),
    )


async def wait_for_request(handle: WorkflowHandle[object, object], request_id: str) -> ApprovalView:
    for _ in range(200):
        views = await handle.query(PENDING_QUERY, result_type=list[ApprovalView])
        for view in views:
            if view.request_id == request_id:
                found: ApprovalView = view
                return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{request_id} never became pending")


def raw_bytes(history: History) -> bytes:
    """Every byte the server stores for this history, as one blob to search."""
    return b"".join(event.SerializeToString() for event in history.events)


def payloads_in(message: Message) -> Iterator[Payload]:
    """Every Payload anywhere inside a protobuf message (history events, nested failures, maps)."""
    if isinstance(message, Payload):
        yield message
        return
    for field, value in message.ListFields():
        if field.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            values = list(value.values())
        elif field.is_repeated:
            values = list(value)
        else:
            values = [value]
        for item in values:
            if isinstance(item, Message):
                yield from payloads_in(item)


def key_ids(history: History) -> list[str | None]:
    """For each payload in the history, the codec key id it names (None: not encrypted)."""
    ids: list[str | None] = []
    for event in history.events:
        for payload in payloads_in(event):
            key = payload.metadata.get(KEY_ID_METADATA)
            ids.append(key.decode() if key is not None else None)
    return ids


def unencrypted(history: History) -> list[Payload]:
    """Payloads stored in clear, other than the SDK's own local-activity marker bookkeeping
    (seq, attempt, activity type: Temporal writes it unencoded by design; the result is encoded)."""
    found = []
    for event in history.events:
        for payload in payloads_in(event):
            if KEY_ID_METADATA in payload.metadata:
                continue
            if event.HasField("marker_recorded_event_attributes"):
                meta = json.loads(payload.data)
                if meta.get("activity_type") == POLICY_ACTIVITY and set(meta) <= _MARKER_FIELDS:
                    continue
                if (
                    isinstance(meta, dict)
                    and meta.get("id") in _PATCH_IDS
                    and set(meta) <= {"id", "deprecated"}
                ):
                    continue  # a workflow.patched marker: the patch id, by design unencoded
            if _is_patch_search_attribute(event, payload):
                continue
            found.append(payload)
    return found


_PATCH_IDS = {PATCH_ID, LATE_PATCH_ID, ESCALATION_PATCH_ID}


def _is_patch_search_attribute(event: Any, payload: Payload) -> bool:
    """`workflow.patched` also upserts the TemporalChangeVersion search attribute (patch ids):
    search attributes are indexed by the server, so never encoded."""
    if not event.HasField("upsert_workflow_search_attributes_event_attributes"):
        return False
    try:
        value = json.loads(payload.data)
    except ValueError:
        return False
    return isinstance(value, list) and bool(value) and set(value) <= _PATCH_IDS


_MARKER_FIELDS = {
    "seq",
    "attempt",
    "activity_id",
    "activity_type",
    "complete_time",
    "backoff",
    "original_schedule_time",
    "activation_index",
}
