"""No input leaves a workflow stuck: starts from a raw client (as the Temporal UI's Start
Workflow form or any script sends them) that do not decode, do not fit or fail a model inside
the run end at once, FAILED with `InvalidWorkflowInput`, each with its audit record, and the
worker never fails a workflow task on them (no retry loop)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from retrofit.gate.workflow_input import INVALID_WORKFLOW_INPUT
from tests.support import SHIPPED_WORKFLOWS, DemoSystems, audit_of, demo_worker
from tests.workflow.invalid_value_workflows import LooseLookup

SECRET = "Hunter2-s3cret"


def _json(data: bytes) -> RawValue:
    return RawValue(Payload(metadata={"encoding": b"json/plain"}, data=data))


#: What a raw client can send as the one start argument (and the UI's form, which sends its text
#: as json/plain): each must be refused by every shipped workflow.
MALFORMED: dict[str, list[RawValue]] = {
    "null": [_json(b"null")],
    "number": [_json(b"42")],
    "list": [_json(b"[]")],
    "string": [_json(b'"C-1001"')],
    "wrong-types": [
        _json(b'{"goal": 5, "customer_id": 5, "account_id": 5, "action": 5, "max_invoices": "x"}')
    ],
    "nan": [
        _json(b'{"customer_id": "C-1001", "utilisation_threshold": NaN, "max_invoices": NaN, "goal": NaN}')
    ],
    "not-json": [_json(b"{customer_id: C-1001")],
    "not-utf8": [_json(b'{"customer_id": "\xff\xfe"}')],
    "surrogate": [_json(b'{"customer_id": "\\ud800", "goal": "\\ud800", "account_id": "\\ud800"}')],
    "deep": [_json(b"[" * 3000 + b"]" * 3000)],
    "secret-in-bad-value": [_json(json.dumps({"customer_id": SECRET + "/..", "goal": 5}).encode())],
    "unknown-field": [
        _json(
            b'{"customer_id": "C-1001", "treshold": 1, "goal": "x", "allowed_actions": ["ledger.*"], "action": "ledger.get_customer", "account_id": "A-2001", "credit_limit": 1, "bogus": 1}'
        )
    ],
    "unknown-encoding": [RawValue(Payload(metadata={"encoding": b"binary/garbage"}, data=b"\x00\x01"))],
    "no-encoding": [RawValue(Payload(data=b"{}"))],
    "no-argument": [],
    "two-arguments": [_json(b"{}"), _json(b"{}")],
}


async def _start(
    client: Client, workflow: str, wf_id: str, args: list[RawValue], queue: str
) -> WorkflowHandle[Any, Any]:
    return await client.start_workflow(workflow, args=args, id=wf_id, task_queue=queue)


async def _refused(handle: WorkflowHandle[Any, Any]) -> ApplicationError:
    try:
        await asyncio.wait_for(handle.result(), timeout=60)
    except WorkflowFailureError as exc:
        assert isinstance(exc.cause, ApplicationError), exc.cause
        return exc.cause
    raise AssertionError(f"{handle.id} completed")


async def _task_failures(handle: WorkflowHandle[Any, Any]) -> int:
    history = await handle.fetch_history()
    return sum(1 for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)


async def test_malformed_starts_of_every_shipped_workflow_fail_at_once_and_audited(
    dev_server_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str
) -> None:
    client = dev_server_env.client
    names = [w.__temporal_workflow_definition.name for w in SHIPPED_WORKFLOWS]  # type: ignore[attr-defined]
    prefix = f"malformed-{uuid.uuid4().hex[:8]}"
    async with demo_worker(client, demo_systems, audit_url) as worker:
        handles = [
            await _start(client, name, f"{prefix}-{name}-{case}", args, worker.task_queue)
            for name in names
            for case, args in MALFORMED.items()
        ]
        errors = await asyncio.gather(*(_refused(h) for h in handles))
        failures = await asyncio.gather(*(_task_failures(h) for h in handles))

    assert len(handles) == len(names) * len(MALFORMED) >= 80
    for handle, error in zip(handles, errors, strict=True):
        assert error.type == INVALID_WORKFLOW_INPUT and error.non_retryable, (handle.id, error)
        assert "refused its input, nothing ran" in error.message, (handle.id, error.message)
        assert SECRET not in error.message
    assert failures == [0] * len(handles), [h.id for h, n in zip(handles, failures, strict=True) if n]
    running = [
        w.id
        async for w in client.list_workflows(
            f"WorkflowId STARTS_WITH '{prefix}' AND ExecutionStatus = 'Running'"
        )
    ]
    assert running == []
    for handle in handles:
        assert (await handle.describe()).status == WorkflowExecutionStatus.FAILED
        records = await audit_of(audit_url, handle.id)
        assert [r.kind.value for r in records] == ["workflow.refused"], (handle.id, [r.kind for r in records])
        assert records[0].data["problems"] and SECRET not in json.dumps(records[0].data), handle.id
        assert not any(r.kind.value.startswith("action.") for r in records)


async def test_an_invalid_value_built_in_workflow_code_fails_the_run_at_once(
    time_skipping_env: WorkflowEnvironment, demo_systems: DemoSystems, audit_url: str
) -> None:
    client = time_skipping_env.client
    async with demo_worker(
        client, demo_systems, audit_url, workflows=[*SHIPPED_WORKFLOWS, LooseLookup]
    ) as worker:
        handle = await client.start_workflow(
            "LooseLookup",
            {"customer_id": f"{SECRET}/../admin"},
            id=f"loose-{uuid.uuid4().hex[:8]}",
            task_queue=worker.task_queue,
        )
        error = await _refused(handle)
        assert await _task_failures(handle) == 0
    assert error.type == INVALID_WORKFLOW_INPUT and error.non_retryable
    assert (
        "a value from its input is invalid: GetCustomer.customer_id: String should match pattern"
        in error.message
    )
    records = await audit_of(audit_url, handle.id)
    assert [r.kind.value for r in records] == ["workflow.failed"]
    assert SECRET not in json.dumps(records[0].data) and SECRET not in error.message
