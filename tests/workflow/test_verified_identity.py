"""Verified identity, attacked: a raw `temporalio` client with a forged gRPC identity and every
forgery of a signed answer, on the real time-skipping server with the real ledger.

Each forgery must be refused with its reason, leave an `approval.refused` record (Updates too),
and run nothing; a verified approver's Update and Signal count for the verified subject.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from connectors.ledger.connector import LedgerConnector
from legacy.ledger.server import LedgerServer
from retrofit.audit.events import AuditRecord
from retrofit.gate import answer_identity, interceptor
from retrofit.gate.approval_models import UNVERIFIED_LABEL, ApprovalView, DecideResult
from retrofit.gate.policy import ApprovalRequirement, FailureEscalation, Outcome, Policy, Rule
from retrofit.identity.pin import IdentityPin
from retrofit.identity.starter_header import StarterHeaderInterceptor
from retrofit.identity.testing import TEST_KID, TestSigner
from retrofit.plugin import RetrofitPlugin
from retrofit.registry import connectors_from_classes
from retrofit.sdk import Effect
from tests.identity_support import PIN, SIGNER, TRUSTED_PIN, clock, signed
from tests.support import SHIPPED_WORKFLOWS, audit_of, inject_fault, kinds, ledger_effects, ledger_worker
from workflows.single_action.workflow import SingleActionInput

POLICY = Policy(
    # `controllers` has no members in the operator's table: only the identity service's verified
    # groups can make someone a controller.
    groups={"finance": ("alice", "bob"), "controllers": ()},
    by_effect={
        Effect.READ: Rule(outcome=Outcome.ALLOW),
        Effect.WRITE: Rule(outcome=Outcome.REQUIRE_APPROVAL, approval=ApprovalRequirement()),
        Effect.DESTRUCTIVE: Rule(
            outcome=Outcome.REQUIRE_APPROVAL,
            approval=ApprovalRequirement(approvers_needed=2, timeout=timedelta(hours=1)),
        ),
    },
    by_action={
        "ledger.add_note": Rule(
            outcome=Outcome.REQUIRE_APPROVAL,
            approval=ApprovalRequirement(allowed_groups=("controllers",)),
        ),
    },
    failure_escalation=FailureEscalation(allowed_groups=("finance",)),
)
LIMIT = SingleActionInput(
    action="ledger.set_credit_limit", arguments={"customer_id": "C-1001", "credit_limit": "60000"}
)
DELETE = SingleActionInput(action="ledger.delete_customer", arguments={"customer_id": "C-1004"})
NOTE = SingleActionInput(action="ledger.add_note", arguments={"customer_id": "C-1001", "text": "call"})


@dataclass
class Run:
    env: WorkflowEnvironment
    handle: WorkflowHandle[Any, Any]
    audit_url: str
    views: dict[str, ApprovalView] = field(default_factory=dict)

    async def view(self, request_id: str = "apr-1") -> ApprovalView:
        for _ in range(200):
            for v in await self.handle.query("pending_approvals", result_type=list[ApprovalView]):
                self.views[v.request_id] = v
            if request_id in self.views:
                return self.views[request_id]
            await asyncio.sleep(0.05)
        raise AssertionError(f"{request_id} never became pending")

    async def answer(self, subject: str, decision: str = "approve", **options: Any) -> dict[str, Any]:
        return await signed(self.env, self.handle.id, await self.view(), subject, decision, **options)

    async def refused(self, payload: Any, *, via: WorkflowHandle[Any, Any] | None = None) -> str:
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await (via or self.handle).execute_update("decide", payload, result_type=DecideResult)
        cause = info.value.cause
        assert isinstance(cause, ApplicationError) and cause.type == "ApprovalRefused"
        return cause.message

    async def audit(self) -> list[AuditRecord]:
        return await audit_of(self.audit_url, self.handle.id)

    async def refusals(self) -> list[AuditRecord]:
        return [r for r in await self.audit() if r.kind.value == "approval.refused"]


@pytest.fixture
async def worker(
    time_skipping_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str
) -> AsyncIterator[Worker]:
    async with ledger_worker(time_skipping_env.client, ledger, audit_url, policy=POLICY) as w:
        yield w


@pytest.fixture
async def mallory(time_skipping_env: WorkflowEnvironment) -> Client:
    """A raw client on the same namespace that claims to be someone on a laptop."""
    config = time_skipping_env.client.service_client.config
    return await Client.connect(
        config.target_host,
        namespace=time_skipping_env.client.namespace,
        identity="mallory@laptop",
        data_converter=pydantic_data_converter,
    )


async def start(
    env: WorkflowEnvironment,
    worker: Worker,
    audit_url: str,
    arg: SingleActionInput,
    client: Client | None = None,
) -> Run:
    handle = await (client or env.client).start_workflow(
        "SingleAction", arg, id=f"vid-{uuid.uuid4().hex[:8]}", task_queue=worker.task_queue
    )
    return Run(env, handle, audit_url)


async def test_a_forged_name_and_a_forged_client_identity_count_for_nothing(
    time_skipping_env: WorkflowEnvironment,
    worker: Worker,
    audit_url: str,
    ledger: LedgerServer,
    mallory: Client,
) -> None:
    run = await start(time_skipping_env, worker, audit_url, LIMIT)
    view = await run.view()
    forged = {
        "request_id": "apr-1",
        "args_hash": view.args_hash,
        "decision": "approve",
        "approver": "alice (CFO)",
    }
    as_mallory = mallory.get_workflow_handle(run.handle.id)
    message = await run.refused(forged, via=as_mallory)
    assert "no signed identity" in message and "http://identity.test/login" in message
    await as_mallory.signal("approve", {k: v for k, v in forged.items() if k != "decision"})
    assert (await run.view()).approved_by == []
    assert ledger_effects(ledger)["credit_limit"] == {}

    # A verified approver's answer counts for the verified subject, whichever client carries it;
    # the client's self-chosen identity is kept beside it as a claim.
    result: DecideResult = await as_mallory.execute_update(
        "decide", await run.answer("bob", approver="alice (CFO)"), result_type=DecideResult
    )
    assert result.approved_by == ["bob"]
    await run.handle.result()
    assert ledger_effects(ledger)["credit_limit"] == {"C-1001": 1}
    records = await run.audit()
    refused = [r for r in records if r.kind.value == "approval.refused"]
    assert [(r.actor.name, r.actor.identity) for r in refused] == [
        ("alice (CFO) (claimed, unverified)", "mallory@laptop"),
        ("alice (CFO) (claimed, unverified)", "mallory@laptop"),
    ]
    assert [r.data.get("update") or r.data.get("signal") for r in refused] == ["decide", "approve"]
    granted = next(r for r in records if r.kind.value == "approval.granted")
    assert (granted.actor.name, granted.actor.identity) == ("bob", "mallory@laptop")
    assert granted.data["identity"]["claimed_approver"] == "alice (CFO)"


def _tampered(token: str) -> str:
    header, body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["sub"] = "alice"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


Forgery = Callable[[Run, ApprovalView, float], Awaitable[dict[str, Any]]]


async def _answer(
    run: Run, view: ApprovalView, now: float, signer: TestSigner = SIGNER, **options: Any
) -> dict[str, Any]:
    return signer.answer(
        "mallory",
        workflow_id=run.handle.id,
        request_id=view.request_id,
        args_hash=view.args_hash,
        decision="approve",
        now=now,
        **options,
    )


async def _unknown_key(run: Run, view: ApprovalView, now: float) -> dict[str, Any]:
    return await _answer(run, view, now, TestSigner("rogue-key", Ed25519PrivateKey.generate()))


async def _forged_signature(run: Run, view: ApprovalView, now: float) -> dict[str, Any]:
    # The pinned key id, any other key: the signature cannot verify.
    return await _answer(run, view, now, TestSigner(TEST_KID, Ed25519PrivateKey.generate()))


async def _other_issuer(run: Run, view: ApprovalView, now: float) -> dict[str, Any]:
    return await _answer(run, view, now, TestSigner(issuer="someone-else"))


async def _tampered_token(run: Run, view: ApprovalView, now: float) -> dict[str, Any]:
    payload = await _answer(run, view, now)
    return {**payload, "assertion": _tampered(payload["assertion"])}


async def _expired(run: Run, view: ApprovalView, now: float) -> dict[str, Any]:
    return await _answer(run, view, now - 600, ttl_seconds=300)


async def _from_the_future(run: Run, view: ApprovalView, now: float) -> dict[str, Any]:
    return await _answer(run, view, now + 3600)


async def _too_long_lived(run: Run, view: ApprovalView, now: float) -> dict[str, Any]:
    return await _answer(run, view, now, ttl_seconds=86_400)


async def _start_assertion(run: Run, view: ApprovalView, now: float) -> dict[str, Any]:
    token = SIGNER.start_token("mallory", workflow_id=run.handle.id, workflow_type="SingleAction", now=now)
    return {**await _answer(run, view, now), "assertion": token}


async def _other_workflow(run: Run, view: ApprovalView, now: float) -> dict[str, Any]:
    token = SIGNER.answer_token(
        "mallory",
        workflow_id="another-workflow",
        request_id=view.request_id,
        args_hash=view.args_hash,
        decision="approve",
        now=now,
    )
    return {**await _answer(run, view, now), "assertion": token}


async def _other_request(run: Run, view: ApprovalView, now: float) -> dict[str, Any]:
    token = SIGNER.answer_token(
        "mallory",
        workflow_id=run.handle.id,
        request_id="apr-7",
        args_hash=view.args_hash,
        decision="approve",
        now=now,
    )
    return {**await _answer(run, view, now), "assertion": token}


async def _other_hash(run: Run, view: ApprovalView, now: float) -> dict[str, Any]:
    token = SIGNER.answer_token(
        "mallory",
        workflow_id=run.handle.id,
        request_id=view.request_id,
        args_hash="0" * 64,
        decision="approve",
        now=now,
    )
    return {**await _answer(run, view, now), "assertion": token}


async def _other_decision(run: Run, view: ApprovalView, now: float) -> dict[str, Any]:
    token = SIGNER.answer_token(
        "mallory",
        workflow_id=run.handle.id,
        request_id=view.request_id,
        args_hash=view.args_hash,
        decision="reject",
        now=now,
    )
    return {**await _answer(run, view, now), "assertion": token}


async def _names_another_workflow(run: Run, view: ApprovalView, now: float) -> dict[str, Any]:
    return {**await _answer(run, view, now), "workflow_id": "another-workflow"}


async def _padded_hash(run: Run, view: ApprovalView, now: float) -> dict[str, Any]:
    return {**await _answer(run, view, now), "args_hash": f" {view.args_hash} "}


async def _short_hash(run: Run, view: ApprovalView, now: float) -> dict[str, Any]:
    return {**await _answer(run, view, now), "args_hash": view.args_hash[:12]}


async def _upper_case_hash(run: Run, view: ApprovalView, now: float) -> dict[str, Any]:
    return {**await _answer(run, view, now), "args_hash": view.args_hash.upper()}


async def _no_assertion(run: Run, view: ApprovalView, now: float) -> dict[str, Any]:
    return {k: v for k, v in (await _answer(run, view, now)).items() if k != "assertion"}


async def _garbage_assertion(run: Run, view: ApprovalView, now: float) -> dict[str, Any]:
    return {**await _answer(run, view, now), "assertion": "not-a-jwt"}


FORGERIES: list[tuple[str, Forgery, str]] = [
    ("no assertion", _no_assertion, "no signed identity"),
    ("not a JWT", _garbage_assertion, "is not a JWT"),
    ("unknown key", _unknown_key, "signed by an unknown key ('rogue-key')"),
    ("forged signature", _forged_signature, "does not verify"),
    ("tampered claims", _tampered_token, "does not verify"),
    ("another issuer", _other_issuer, "was not issued by 'retrofit-identity'"),
    ("expired", _expired, "has expired"),
    ("issued in the future", _from_the_future, "issued in the future"),
    ("lives too long", _too_long_lived, "lives longer than 900 s"),
    ("a start assertion", _start_assertion, "not meant for this (retrofit:answer)"),
    ("for another workflow", _other_workflow, "is for workflow 'another-workflow'"),
    ("for another request", _other_request, "is for request 'apr-7'"),
    ("for other arguments", _other_hash, "is for argument hash '0000"),
    ("for another decision", _other_decision, "is for decision 'reject', not 'approve'"),
    ("payload names another workflow", _names_another_workflow, "names workflow 'another-workflow'"),
    ("padded hash", _padded_hash, "must be the full 64-character hash"),
    ("short hash", _short_hash, "must be the full 64-character hash"),
    ("upper-case hash", _upper_case_hash, "must be the full 64-character hash"),
]


async def test_every_forged_or_misbound_assertion_is_refused_audited_and_runs_nothing(
    time_skipping_env: WorkflowEnvironment,
    worker: Worker,
    audit_url: str,
    ledger: LedgerServer,
    mallory: Client,
) -> None:
    run = await start(time_skipping_env, worker, audit_url, LIMIT)
    view = await run.view()
    as_mallory = mallory.get_workflow_handle(run.handle.id)
    now = await clock(time_skipping_env, view)
    for name, forge, expected in FORGERIES:
        payload = await forge(run, view, now)
        message = await run.refused(payload, via=as_mallory)
        assert expected in message, (name, message)
    # The same forgeries by Signal: recorded and ignored.
    for _, forge, _ in FORGERIES[:4]:
        await as_mallory.signal(
            "approve", {k: v for k, v in (await forge(run, view, now)).items() if k != "decision"}
        )
    assert (await run.view()).approved_by == []
    assert ledger_effects(ledger)["credit_limit"] == {}

    await run.handle.execute_update("decide", await run.answer("alice"))
    await run.handle.result()
    assert ledger_effects(ledger)["credit_limit"] == {"C-1001": 1}
    refused = await run.refusals()
    assert len(refused) == len(FORGERIES) + 4
    for record, (name, _, expected) in zip(refused, FORGERIES, strict=False):
        assert expected in record.data["problem"], name
        assert record.actor.identity == "mallory@laptop"
        # Never the token itself: a bearer proof of an answer stays out of the trail.
        assert "eyJ" not in json.dumps(record.data), name
    assert all(r.data["identity"]["verified"] is False for r in refused)


async def test_a_missing_hash_does_not_parse_and_its_refusal_is_recorded(
    time_skipping_env: WorkflowEnvironment, worker: Worker, audit_url: str
) -> None:
    run = await start(time_skipping_env, worker, audit_url, LIMIT)
    payload = {k: v for k, v in (await run.answer("alice")).items() if k != "args_hash"}
    message = await run.refused(payload)
    assert "malformed approval payload: args_hash: Field required" in message
    [refused] = await run.refusals()  # audited like a refused Signal
    assert refused.data["update"] == "decide" and refused.data["problem"] == message
    assert (await run.view()).approved_by == []
    # Nothing else will answer: end it here, or its deadline fires later with no worker left and
    # holds the shared time-skipping server's clock.
    await run.handle.terminate("test done")


async def test_the_same_assertion_twice_is_a_replay(
    time_skipping_env: WorkflowEnvironment, worker: Worker, audit_url: str, ledger: LedgerServer
) -> None:
    run = await start(time_skipping_env, worker, audit_url, DELETE)
    payload = await run.answer("alice")
    first: DecideResult = await run.handle.execute_update("decide", payload, result_type=DecideResult)
    assert first.approved_by == ["alice"] and first.status.value == "pending"
    assert "this signed answer was already used" in await run.refused(payload)
    await run.handle.signal("approve", payload)
    assert (await run.view()).approved_by == ["alice"]
    await run.handle.execute_update("decide", await run.answer("bob"))
    await run.handle.result()
    assert ledger_effects(ledger)["deleted"] == {"C-1004": 1}
    refused = await run.refusals()
    assert [r.actor.name for r in refused] == ["alice", "alice"]
    assert all("already used" in r.data["problem"] for r in refused)


async def test_one_person_in_any_spelling_is_one_approver_and_destructive_does_not_run(
    time_skipping_env: WorkflowEnvironment, worker: Worker, audit_url: str, ledger: LedgerServer
) -> None:
    run = await start(time_skipping_env, worker, audit_url, DELETE)
    assert (await run.view()).approvers_needed == 2
    await run.handle.execute_update("decide", await run.answer("OPS"))
    for spelling in ("ops", " Ops ", "ｏｐｓ"):
        assert "'ops' has already approved request apr-1" in await run.refused(await run.answer(spelling))
    await run.handle.signal("approve", await run.answer("ｏｐｓ"))
    assert (await run.view()).approved_by == ["ops"]
    # Nobody else answers: the deadline rejects, and the irreversible delete never ran.
    with pytest.raises(WorkflowFailureError) as info:
        await run.handle.result()
    assert isinstance(info.value.cause, ApplicationError) and info.value.cause.type == "ApprovalRejected"
    assert ledger_effects(ledger)["deleted"] == {}
    records = await run.audit()
    assert "action.started" not in kinds(records)
    assert len([r for r in records if r.kind.value == "approval.refused"]) == 4


async def test_the_starter_may_not_approve_its_own_request(
    time_skipping_env: WorkflowEnvironment, worker: Worker, audit_url: str, ledger: LedgerServer
) -> None:
    now = (await time_skipping_env.get_current_time()).timestamp()

    def carol_starts(workflow_id: str, workflow_type: str) -> str:
        return SIGNER.start_token("carol", workflow_id=workflow_id, workflow_type=workflow_type, now=now)

    config = time_skipping_env.client.service_client.config
    as_carol = await Client.connect(
        config.target_host,
        namespace=time_skipping_env.client.namespace,
        data_converter=pydantic_data_converter,
        interceptors=[StarterHeaderInterceptor(carol_starts)],
    )
    run = await start(time_skipping_env, worker, audit_url, LIMIT, client=as_carol)
    view = await run.view()
    assert view.started_by == "carol"
    metadata = await run.handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    assert "Started by: carol" in metadata.current_details
    # Any spelling of carol, by Update or Signal.
    assert "'carol' started this workflow and may not answer its own request apr-1" in await run.refused(
        await run.answer("Carol")
    )
    await run.handle.signal("approve", await run.answer("ＣＡＲＯＬ"))
    assert (await run.view()).approved_by == []
    await run.handle.execute_update("decide", await run.answer("dave"))
    await run.handle.result()
    records = await run.audit()
    requested = next(r for r in records if r.kind.value == "approval.requested")
    assert requested.data["started_by"] == {"subject": "carol", "verified": True, "login": "password"}
    granted = next(r for r in records if r.kind.value == "approval.granted")
    assert granted.actor.name == "dave" and granted.data["requested_by"] == "carol"
    assert len([r for r in records if r.kind.value == "approval.refused"]) == 2


async def test_a_forged_or_misbound_start_assertion_leaves_the_starter_unverified(
    time_skipping_env: WorkflowEnvironment, worker: Worker, audit_url: str
) -> None:
    rogue = TestSigner("rogue-key", Ed25519PrivateKey.generate())
    config = time_skipping_env.client.service_client.config
    now = (await time_skipping_env.get_current_time()).timestamp()
    cases: dict[str, Callable[[str, str], str]] = {
        "signed by an unknown key": lambda wf, wft: rogue.start_token(
            "carol", workflow_id=wf, workflow_type=wft, now=now
        ),
        "is for": lambda wf, wft: SIGNER.start_token(
            "carol", workflow_id="elsewhere", workflow_type=wft, now=now
        ),
    }
    for expected, token_for in cases.items():
        client = await Client.connect(
            config.target_host,
            namespace=time_skipping_env.client.namespace,
            data_converter=pydantic_data_converter,
            interceptors=[StarterHeaderInterceptor(token_for)],
        )
        run = await start(time_skipping_env, worker, audit_url, LIMIT, client=client)
        assert (await run.view()).started_by == "unverified"
        # Unverified, carol is not recognised as the starter: her answer is weighed like anyone's.
        await run.handle.execute_update("decide", await run.answer("carol"))
        await run.handle.result()
        requested = next(r for r in await run.audit() if r.kind.value == "approval.requested")
        assert requested.data["started_by"]["subject"] == "unverified"
        assert expected in requested.data["started_by"]["problem"]


async def test_groups_come_from_the_verified_assertion_only(
    time_skipping_env: WorkflowEnvironment, worker: Worker, audit_url: str, ledger: LedgerServer
) -> None:
    run = await start(time_skipping_env, worker, audit_url, NOTE)
    assert (await run.view()).may_approve == ["group:controllers"]
    assert "'erin' may not answer request apr-1 (allowed: group:controllers)" in await run.refused(
        await run.answer("erin", groups=["ops"])
    )
    # Typing a group beside the answer proves nothing; the identity service's groups do.
    claimed = {**await run.answer("erin"), "groups": ["controllers"]}
    assert "malformed approval payload" in await run.refused(claimed)
    result: DecideResult = await run.handle.execute_update(
        "decide", await run.answer("dave", groups=["Controllers"]), result_type=DecideResult
    )
    assert result.approved_by == ["dave"]
    await run.handle.result()
    assert ledger_effects(ledger)["notes"] == {"C-1001": 1}
    granted = next(r for r in await run.audit() if r.kind.value == "approval.granted")
    assert granted.data["identity"]["groups"] == ["controllers"]


async def test_resolve_failure_is_verified_the_same_way(
    time_skipping_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str, mallory: Client
) -> None:
    allow_writes = POLICY.model_copy(
        update={"by_effect": {**POLICY.by_effect, Effect.WRITE: Rule(outcome=Outcome.ALLOW)}}
    )
    inject_fault(ledger, fail_next=5, status=503)
    # Breaker off: it measures real time, which the time-skipping server does not.
    settings = LedgerConnector.load_settings(base_url=ledger.url, api_key=ledger.api_key, breaker_threshold=0)
    plugin = RetrofitPlugin(
        connectors=connectors_from_classes([LedgerConnector]),
        workflows=SHIPPED_WORKFLOWS,
        audit_url=audit_url,
        policy=allow_writes,
        settings_overrides={"ledger": settings},
        identity=PIN,
    )
    async with Worker(
        time_skipping_env.client, task_queue=f"test-{uuid.uuid4()}", plugins=[plugin]
    ) as worker:
        run = await start(time_skipping_env, worker, audit_url, LIMIT)
        view = None
        for _ in range(200):
            found = [
                v
                for v in await run.handle.query("pending_approvals", result_type=list[ApprovalView])
                if v.kind == "failure"
            ]
            if found:
                view = found[0]
                break
            await time_skipping_env.sleep(timedelta(seconds=5))
        assert view is not None
        as_mallory = mallory.get_workflow_handle(run.handle.id)
        unsigned = {
            "request_id": view.request_id,
            "args_hash": view.args_hash,
            "choice": "retry",
            "approver": "alice",
        }
        forged = await signed(
            time_skipping_env,
            run.handle.id,
            view,
            "alice",
            "retry",
            signer=TestSigner(TEST_KID, Ed25519PrivateKey.generate()),
        )
        other_choice = {
            **await signed(time_skipping_env, run.handle.id, view, "alice", "abort", reason="x"),
            "choice": "retry",
        }
        for payload, expected in (
            (unsigned, "no signed identity"),
            (forged, "does not verify"),
            (other_choice, "is for decision 'abort', not 'retry'"),
            (
                await signed(time_skipping_env, run.handle.id, view, "mallory", "retry"),
                "'mallory' may not resolve",
            ),
        ):
            with pytest.raises(WorkflowUpdateFailedError) as info:
                await as_mallory.execute_update("resolve_failure", payload)
            assert isinstance(info.value.cause, ApplicationError)
            assert info.value.cause.type == "ResolutionRefused" and expected in info.value.cause.message
        assert ledger_effects(ledger)["credit_limit"] == {}
        await as_mallory.execute_update(
            "resolve_failure", await signed(time_skipping_env, run.handle.id, view, "bob", "retry")
        )
        await run.handle.result()
    assert ledger_effects(ledger)["credit_limit"] == {"C-1001": 1}
    records = await run.audit()
    refused = [r for r in records if r.kind.value == "approval.refused"]
    assert len(refused) == 4 and all(r.actor.identity == "mallory@laptop" for r in refused)
    resolved = next(r for r in records if r.kind.value == "failure.resolved")
    assert (resolved.actor.name, resolved.actor.identity) == ("bob", "mallory@laptop")
    assert resolved.data["identity"]["verified"] is True


async def test_a_worker_without_keys_refuses_every_answer(
    time_skipping_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str
) -> None:
    async with ledger_worker(
        time_skipping_env.client, ledger, audit_url, policy=POLICY, identity=IdentityPin()
    ) as worker:
        run = await start(time_skipping_env, worker, audit_url, LIMIT)
        assert "unknown key" in await run.refused(await run.answer("alice"))
        assert ledger_effects(ledger)["credit_limit"] == {}
        await run.handle.terminate("test done")


async def test_trusted_namespace_mode_takes_the_typed_name_and_says_unverified_everywhere(
    time_skipping_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str
) -> None:
    async with ledger_worker(
        time_skipping_env.client, ledger, audit_url, policy=POLICY, identity=TRUSTED_PIN
    ) as worker:
        run = await start(time_skipping_env, worker, audit_url, DELETE)
        view = await run.view()
        assert view.identity == UNVERIFIED_LABEL
        metadata = await run.handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
        assert UNVERIFIED_LABEL in metadata.current_details
        assert '"approver": "YOUR NAME"' in metadata.current_details
        typed = {"request_id": "apr-1", "args_hash": view.args_hash, "decision": "approve", "approver": "ops"}
        first: DecideResult = await run.handle.execute_update("decide", typed, result_type=DecideResult)
        assert first.answered_as == f"ops [{UNVERIFIED_LABEL}]"
        # Still one person, however typed; still the exact hash.
        assert "already approved" in await run.refused({**typed, "approver": "OPS"})
        assert "full 64-character hash" in await run.refused(
            {**typed, "approver": "bob", "args_hash": view.args_hash[:8]}
        )
        assert "name the approver" in await run.refused({**typed, "approver": ""})
        await run.handle.execute_update("decide", {**typed, "approver": "bob"})
        await run.handle.result()
    granted = [r for r in await run.audit() if r.kind.value == "approval.granted"]
    assert [r.actor.name for r in granted] == [f"ops [{UNVERIFIED_LABEL}]", f"bob [{UNVERIFIED_LABEL}]"]
    assert all(
        r.data["identity"]
        == {
            "verified": False,
            "mode": UNVERIFIED_LABEL,
            "claimed_approver": r.data["identity"]["claimed_approver"],
        }
        for r in granted
    )
    allowed = next(r for r in await run.audit() if r.kind.value == "policy.allowed")
    assert all(UNVERIFIED_LABEL in name for name in allowed.data["approved_by"])


async def test_past_the_refusal_cap_refused_answers_are_rejected_unrecorded(
    time_skipping_env: WorkflowEnvironment,
    worker: Worker,
    audit_url: str,
    ledger: LedgerServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The worker runs in this process and `retrofit` passes through the sandbox: a small cap here
    # is the cap the workflow applies.
    monkeypatch.setattr(answer_identity, "REFUSAL_CAP", 3)
    run = await start(time_skipping_env, worker, audit_url, LIMIT)
    view = await run.view()
    garbage = {"request_id": "apr-1", "args_hash": view.args_hash, "decision": "approve", "approver": "x"}
    messages = [await run.refused({**garbage, "approver": f"flood-{n}"}) for n in range(5)]
    assert all("no signed identity" in m for m in messages)
    assert ["no longer recorded" in m for m in messages] == [False, False, False, True, True]
    await run.handle.signal("approve", {k: v for k, v in garbage.items() if k != "decision"})
    # A proper answer still counts after the flood.
    await run.handle.execute_update("decide", await run.answer("alice"))
    await run.handle.result()
    assert len(await run.refusals()) == 3
    assert ledger_effects(ledger)["credit_limit"] == {"C-1001": 1}


async def test_a_run_begun_before_verified_identity_verifies_its_answers_after_the_upgrade(
    time_skipping_env: WorkflowEnvironment, worker: Worker, audit_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A run that began on a worker from before verified identity: no start patch marker.
    def begun_before_the_upgrade() -> None:
        answer_identity.identity_book().verified = False

    monkeypatch.setattr(answer_identity, "begin_run", begun_before_the_upgrade)
    monkeypatch.setattr(interceptor, "begin_run", begun_before_the_upgrade)
    run = await start(time_skipping_env, worker, audit_url, LIMIT)
    view = await run.view()
    monkeypatch.undo()
    # Answered after the upgrade: a typed name counts for nothing, a signed answer counts.
    typed = {"request_id": "apr-1", "args_hash": view.args_hash, "decision": "approve", "approver": "alice"}
    assert "no signed identity" in await run.refused(typed)
    await run.handle.execute_update("decide", await run.answer("bob"))
    await run.handle.result()
    granted = next(r for r in await run.audit() if r.kind.value == "approval.granted")
    assert granted.actor.name == "bob" and granted.data["identity"]["verified"] is True
    # And that history replays: no start marker, the late marker where the first answer came.
    history = await run.handle.fetch_history()
    markers = [
        e.marker_recorded_event_attributes.details["patch-data"].payloads[0].data
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
        and e.marker_recorded_event_attributes.marker_name == "core_patch"
    ]
    assert [json.loads(m)["id"] for m in markers] == [answer_identity.LATE_PATCH_ID]
    replayer = Replayer(workflows=[], plugins=[RetrofitPlugin(workflows=SHIPPED_WORKFLOWS)])
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
