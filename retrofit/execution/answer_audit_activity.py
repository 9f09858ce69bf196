"""Record an approval answer together with the sender identity Temporal stored in history.

Who answered is the verified subject the workflow put in the record (`actor.name`). The gRPC
identity the sender's client set — free text any client can choose, e.g. "mallory@laptop" — is
recorded beside it as `actor.identity`, a claim for people reading the trail, never trusted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import activity
from temporalio.api.history.v1 import HistoryEvent

from retrofit.execution.resources import WorkerResources
from retrofit.gate.approvals import payload_digest
from retrofit.gate.contracts import ANSWER_AUDIT_ACTIVITY, AnswerAudit

UNKNOWN_IDENTITY = "(not found in history)"
#: The sender left the identity empty (the Temporal Web UI sends none for signals and updates).
NO_IDENTITY = "(none sent)"


def build_answer_audit_activity(resources: WorkerResources) -> Callable[[AnswerAudit], Awaitable[int]]:
    @activity.defn(name=ANSWER_AUDIT_ACTIVITY)
    async def record_answer(answer: AnswerAudit) -> int:
        identity = await _sender_identity(answer)
        event = answer.event.model_copy(
            update={"actor": answer.event.actor.model_copy(update={"identity": identity})}
        )
        return await resources.record([event])

    return record_answer


async def _sender_identity(answer: AnswerAudit) -> str:
    client = activity.client()
    handle = client.get_workflow_handle(answer.event.workflow_id, run_id=answer.event.run_id)
    found = UNKNOWN_IDENTITY
    async for event in handle.fetch_history_events():
        identity = await _identity_if_match(event, answer, client.data_converter)
        if identity is not None:
            found = identity  # keep the latest match: a sender may repeat a refused signal
    return found


async def _identity_if_match(event: HistoryEvent, answer: AnswerAudit, converter: Any) -> str | None:
    if answer.via == "update" and event.HasField("workflow_execution_update_accepted_event_attributes"):
        request = event.workflow_execution_update_accepted_event_attributes.accepted_request
        if request.meta.update_id == answer.update_id:
            return str(request.meta.identity) or NO_IDENTITY
        return None
    if answer.via == "signal" and event.HasField("workflow_execution_signaled_event_attributes"):
        attrs = event.workflow_execution_signaled_event_attributes
        if attrs.signal_name != answer.message_name:
            return None
        try:
            [payload] = await converter.decode(attrs.input.payloads)
        except Exception:
            # An undecodable signal cannot be matched by content; fall back to its sender if the
            # answer itself was unparseable too.
            return str(attrs.identity) if not answer.request_id else None
        if not isinstance(payload, dict):
            return str(attrs.identity) if not answer.request_id else None
        if answer.payload_sha256:
            if payload_digest(payload) == answer.payload_sha256:
                return str(attrs.identity) or NO_IDENTITY
            return None
        same_request = not answer.request_id or payload.get("request_id") == answer.request_id
        same_approver = not answer.approver or str(payload.get("approver", "")).strip() == answer.approver
        if same_request and same_approver:
            return str(attrs.identity) or NO_IDENTITY
    return None
