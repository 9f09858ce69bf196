"""Who started a run, as the workflow verifies it: the start's signed `retrofit-starter` assertion.

The workflow reads that header from its own start event and verifies it with the identity
service's public keys at the workflow's start time (retrofit/gate/answer_identity.py). The web app
reads the same header from the same event in the run's history and runs the same check, so a run is
shown to its verified starter whatever its state (running, done, failed) and whether or not the
RetrofitStartedBy search attribute is registered. Nothing a client types counts: memo, input and
search attributes are all settable by whoever starts a workflow; only the identity service's
signature over (workflow id, workflow type, subject) is.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import temporalio.converter
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHandle

from retrofit.identity.claims import normalise_subject
from retrofit.identity.pin import IdentityMode, IdentityPin
from retrofit.identity.starter_header import STARTER_HEADER
from retrofit.identity.tokens import IdentityRefused, verify_start

# Kept equal to retrofit.gate.answer_identity.CARRIED_HEADER (not imported: that module is
# workflow-side and pulls the sandbox's state in).
CARRIED_HEADER = "retrofit-starter-carried"


def _decoded(payload: Payload | None, kind: type) -> Any:
    if payload is None:
        return None
    try:
        return temporalio.converter.default().payload_converter.from_payloads([payload], [kind])[0]
    except Exception:
        return None  # garbled or hostile: no verified starter


async def verified_starter(handle: WorkflowHandle[Any, Any], pin: IdentityPin) -> str | None:
    """The run's verified starter (normalised subject), or None when it has none we can verify."""
    if pin.mode is IdentityMode.TRUSTED_NAMESPACE or not pin.keys:
        return None
    try:
        async for event in handle.fetch_history_events(page_size=1):
            started = event.workflow_execution_started_event_attributes
            break
        else:
            return None
    except Exception:
        return None
    if not event.HasField("workflow_execution_started_event_attributes"):
        return None
    fields = started.header.fields
    token = _decoded(fields.get(STARTER_HEADER), str)
    at = event.event_time.ToDatetime().replace(tzinfo=UTC)
    if started.continued_execution_run_id:
        # A continuation is started by the worker, not a person: the previous run hands on the
        # assertion and the time it was verified at (as the workflow itself re-verifies it).
        carried = _decoded(fields.get(CARRIED_HEADER), dict)
        if not isinstance(carried, dict) or not isinstance(carried.get("token"), str):
            return None
        token = carried["token"]
        try:
            at = datetime.fromisoformat(str(carried.get("at", "")))
        except ValueError:
            return None
    if not isinstance(token, str) or not token:
        return None
    try:
        claims = verify_start(
            token, pin, now=at, workflow_id=handle.id, workflow_type=started.workflow_type.name
        )
    except IdentityRefused:
        return None
    return normalise_subject(claims.sub) or None
