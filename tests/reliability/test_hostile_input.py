"""Hostile input, fuzzed with hypothesis: > 10,000 cases per run, with a fixed seed (derandomize).

- action arguments against every action's input model, as the gate validates them (pure);
- approval payloads against the approval checks the `decide` Update validator runs (pure), with
  an independent oracle of what must be accepted;
- response bodies from a real local HTTP server parsed by the REST base (ledger connector) and
  the SOAP base (ERP connector, real WSDL, real ERP answers mutated on the way back);
- a few hundred cases through real Temporal: random arguments (nothing that failed validation
  ran, every refusal audited) and random approval Updates/Signals (refused, and signals audited).
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from connectors.crm.connector import CrmConnector
from connectors.erp.connector import ErpConnector
from connectors.erp.models import GetCustomer as ErpGetCustomer
from connectors.ledger.connector import LedgerConnector
from connectors.ledger.models import Customer, GetCustomer, SetCreditLimit
from connectors.northwind.connector import NorthwindConnector
from legacy.erp.server import ErpServer
from legacy.ledger.server import LedgerServer
from retrofit.gate.answer_identity import REFUSAL_CAP, AnswerContext, AnswerRefused, Starter
from retrofit.gate.approval_models import ApprovalStatus, ApprovalView, DecideRequest, arguments_hash
from retrofit.gate.approvals import ApprovalBook, _Request, parse_answer
from retrofit.gate.policy import ApprovalRequirement, Policy, allow_all
from retrofit.gate.run_action import _validation_problems
from retrofit.identity.testing import TestSigner
from retrofit.registry import connectors_from_classes
from retrofit.sdk.errors import RetrofitError
from tests.identity_support import PIN, SIGNER, signed
from tests.support import audit_of, kinds, ledger_effects, ledger_worker
from workflows.single_action.workflow import SingleActionInput

T = TypeVar("T")
#: `make test` runs a fixed sample; RETROFIT_FUZZ_SCALE=10 (or more) runs a deeper search.
FUZZ_SCALE = float(os.environ.get("RETROFIT_FUZZ_SCALE", "1"))


def examples(n: int) -> int:
    return max(1, int(n * FUZZ_SCALE))


FUZZ = settings(
    derandomize=True,  # the same cases every run: a CI failure reproduces
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SPECS = [
    s
    for c in connectors_from_classes([LedgerConnector, ErpConnector, CrmConnector, NorthwindConnector])
    for s in c.spec.actions
]

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
# Near-valid values get past the first field check and exercise the deeper constraints.
plausible = st.sampled_from(
    [
        "C-1001",
        "C-1004",
        "A-2001",
        "INV-10002",
        "ALFKI",
        "10248",
        "1000.00",
        "-5",
        "",
        " ",
        "1e400",
        "C-1001\x00",
        "../C-1001",
    ]
)
field_names = st.sampled_from(
    [
        "customer_id",
        "credit_limit",
        "account_id",
        "status",
        "text",
        "body",
        "invoice_id",
        "amount",
        "order_id",
        "query",
    ]
)
arguments = st.dictionaries(
    field_names | st.text(max_size=8), json_values | plausible | st.integers(), max_size=5
)


def _in_thread_loop(loop: asyncio.AbstractEventLoop, make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine on the test's event loop from hypothesis's (worker) thread."""

    async def run() -> T:
        return await make()

    return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=60)


# -- pure: the gate's argument validation ------------------------------------------------------


@settings(FUZZ, max_examples=examples(1500))
@given(index=st.integers(min_value=0, max_value=len(SPECS) - 1), raw=arguments)
def test_random_arguments_are_validated_or_refused_never_crash(index: int, raw: dict[str, Any]) -> None:
    spec = SPECS[index]
    try:
        validated = spec.input_model.model_validate(raw)
    except ValidationError as exc:
        problems = _validation_problems(exc)  # what the gate records and raises
        assert problems and all(isinstance(p, str) and ": " in p for p in problems)
        return
    # Accepted arguments are a fixed point: what the activity re-validates is what was approved.
    dumped = validated.model_dump(mode="json")
    assert spec.input_model.model_validate(dumped).model_dump(mode="json") == dumped
    json.dumps(dumped)  # and they cross the boundary as JSON


# -- pure: the approval Update's checks --------------------------------------------------------

ARGS = {"customer_id": "C-1006", "credit_limit": "90000.00"}
HASH = arguments_hash("ledger.set_credit_limit", ARGS)
OTHER_HASH = arguments_hash("ledger.set_credit_limit", {**ARGS, "credit_limit": "90000.01"})
POLICY = Policy(groups={"finance": ("alice", "bob")})
WF = "fuzz-wf"
SIGNED_AT = datetime(2025, 1, 1, tzinfo=UTC)
ROGUE = TestSigner("rogue", Ed25519PrivateKey.from_private_bytes(b"r" * 32))


def _signed_tokens() -> dict[str, tuple[str, str, str, str, str] | None]:
    """Assertions the fuzzer picks from -> the claims (subject, wf, request, hash, decision) of
    those that verify, None for those that do not."""
    tokens: dict[str, tuple[str, str, str, str, str] | None] = {"not-a-jwt": None}
    at = SIGNED_AT.timestamp()
    for subject in ("alice", "ALICE", "bob", "mallory"):
        for request_id in ("apr-2", "apr-1"):
            for args_hash in (HASH, OTHER_HASH):
                for decision in ("approve", "reject"):
                    for wf in (WF, "other-wf"):
                        token = SIGNER.answer_token(
                            subject, workflow_id=wf, request_id=request_id, args_hash=args_hash,
                            decision=decision, now=at, jti=uuid.uuid4().hex,
                        )  # fmt: skip
                        tokens[token] = (subject.casefold(), wf, request_id, args_hash, decision)
    rogue = ROGUE.answer_token(
        "alice", workflow_id=WF, request_id="apr-2", args_hash=HASH, decision="approve", now=at
    )
    tokens[rogue] = None
    return tokens


TOKENS = _signed_tokens()
CONTEXT = AnswerContext(
    workflow_id=WF,
    now=SIGNED_AT + timedelta(seconds=30),
    pin=PIN,
    starter=Starter(subject="unverified", verified=False),
    operator_groups=dict(POLICY.groups),
)


def _book(approved_by: list[str]) -> ApprovalBook:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    requirement = ApprovalRequirement(approvers_needed=2, allowed_groups=("finance",))
    view = ApprovalView(
        request_id="apr-2",
        action="ledger.set_credit_limit",
        effect="write",
        step=2,
        arguments=ARGS,
        args_hash=HASH,
        approvers_needed=2,
        may_approve=["group:finance"],
        approved_by=list(approved_by),
        requested_at=now,
        deadline=now + timedelta(hours=1),
    )
    request = _Request(view=view, requirement=requirement, policy=POLICY, approved_subjects=list(approved_by))
    return ApprovalBook(requests={"apr-2": request})


def _payloads() -> st.SearchStrategy[Any]:
    near = st.fixed_dictionaries(
        {},
        optional={
            "workflow_id": st.sampled_from([WF, f" {WF} ", "other-wf", ""]) | st.text(max_size=20),
            "request_id": st.sampled_from(["apr-2", "apr-1", "", "apr-2 ", "APR-2"]) | st.text(max_size=70),
            "approver": st.sampled_from(["alice", "bob", "mallory", "", " alice "]) | st.text(max_size=130),
            "reason": st.text(max_size=50) | st.sampled_from(["", "ok", " ", "x" * 2001]),
            "args_hash": st.none()
            | st.sampled_from([HASH, HASH[:12], f" {HASH}", HASH.upper(), OTHER_HASH, "0" * 12])
            | st.text(max_size=70),
            "decision": st.sampled_from(["approve", "reject", "maybe", ""]) | json_scalars,
            "assertion": st.sampled_from(sorted(TOKENS)) | json_scalars,
            "extra": json_values,
        },
    )
    return near | json_values


_FIELDS = {"workflow_id", "request_id", "approver", "reason", "args_hash", "decision", "assertion"}


def _oracle(payload: Any, approved_by: list[str]) -> bool:
    """Independent statement of when an answer is accepted: a well-formed payload whose
    assertion verifies and binds this workflow, request, exact hash and decision, from a finance
    person who has not approved yet (a rejection with a reason)."""
    if not isinstance(payload, dict) or set(payload) - _FIELDS or "args_hash" not in payload:
        return False

    def strip(value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    wf, rid, who, why, h, decision, token = (
        strip(payload.get(k, "")) if k != "args_hash" else payload[k]
        for k in ("workflow_id", "request_id", "approver", "reason", "args_hash", "decision", "assertion")
    )
    texts = {
        "workflow_id": (wf, 1000),
        "approver": (who, 128),
        "reason": (why, 2000),
        "assertion": (token, 8192),
    }
    if any(not isinstance(v, str) or len(v) > limit for v, limit in texts.values()):
        return False
    if not (isinstance(rid, str) and 1 <= len(rid) <= 64) or not (isinstance(h, str) and len(h) <= 128):
        return False
    if decision not in ("approve", "reject"):
        return False
    claims = TOKENS.get(token)
    return (
        claims is not None
        and rid == "apr-2"
        and wf in ("", WF)
        and h == HASH
        and claims == (claims[0], WF, "apr-2", HASH, decision)
        and claims[0] in ("alice", "bob")
        and claims[0] not in approved_by
        and (decision == "approve" or bool(why))
    )


def test_the_oracle_and_the_checks_agree_on_a_valid_answer_and_its_replayed_spelling() -> None:
    # The fuzz below is only worth something if acceptance is reachable: a signed answer binding
    # this request passes both; the same person in capitals after approving does not.
    token = next(t for t, c in TOKENS.items() if c == ("alice", WF, "apr-2", HASH, "approve"))
    payload = {"request_id": "apr-2", "args_hash": HASH, "decision": "approve", "assertion": token}
    assert _oracle(payload, []) and _book([]).check(DecideRequest.model_validate(payload), "approve", CONTEXT)
    shouting = next(
        t for t, c in TOKENS.items() if c == ("alice", WF, "apr-2", HASH, "approve") and t != token
    )
    with pytest.raises(AnswerRefused, match="already approved"):
        _book(["alice"]).check(
            DecideRequest.model_validate({**payload, "assertion": shouting}), "approve", CONTEXT
        )
    assert not _oracle({**payload, "assertion": shouting}, ["alice"])


@settings(FUZZ, max_examples=examples(1500))
@given(payload=_payloads(), approved_by=st.sampled_from([[], ["alice"]]))
def test_random_approval_payloads_are_accepted_exactly_when_valid(
    payload: Any, approved_by: list[str]
) -> None:
    book = _book(approved_by)
    try:
        request = parse_answer(DecideRequest, payload, "ApprovalRefused")
        book.check(request, request.decision, CONTEXT)
        problem = None
    except ApplicationError as exc:
        assert exc.type == "ApprovalRefused" and exc.message.startswith("malformed approval payload")
        problem = exc.message
    except AnswerRefused as exc:
        problem = exc.message
        assert "eyJ" not in problem  # a refusal never quotes the assertion
    assert (problem is None) == _oracle(payload, approved_by), (payload, problem)
    assert book.requests["apr-2"].view.status is ApprovalStatus.PENDING  # checking changes nothing


# -- response bodies from a real server, parsed by the connector bases ----------------------------


class FuzzServer:
    """An HTTP server on loopback answering each request with the response the test planned, or
    with the real system's answer mutated by `mutate` (SOAP)."""

    def __init__(self) -> None:
        self.status = 200
        self.content_type = "application/json"
        self.body = b""
        self.mutate: Callable[[bytes], bytes] | None = None
        self.upstream: str | None = None
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            request_body = await reader.readexactly(length)
            body = self.body
            if self.upstream is not None and self.mutate is not None:
                headers = {
                    k.decode(): v.decode().strip()
                    for k, _, v in (line.partition(b":") for line in head.split(b"\r\n")[1:] if b":" in line)
                }
                headers.pop("Host", None), headers.pop("host", None)
                async with httpx.AsyncClient() as http:
                    real = await http.post(self.upstream, content=request_body, headers=headers)
                body = self.mutate(real.content)
            writer.write(
                f"HTTP/1.1 {self.status} X\r\ncontent-type: {self.content_type}\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        finally:
            writer.close()


customer_json = st.fixed_dictionaries(
    {
        "id": st.just("C-1001") | json_values,
        "name": st.just("Nordwind") | json_values,
        "credit_limit": st.just("50000.00") | json_values,
        "balance": st.just("1.00") | json_values,
    },
    optional={"currency": json_values},
)
rest_bodies = (
    customer_json.map(lambda d: json.dumps(d, allow_nan=True).encode())
    | json_values.map(lambda v: json.dumps(v, allow_nan=True).encode())
    | st.binary(max_size=200)
)
statuses = st.sampled_from([200, 200, 200, 201, 204, 301, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503])


@pytest.mark.timeout(300)
async def test_fuzzed_rest_bodies_parse_or_raise_typed_errors(ledger_server: LedgerServer) -> None:
    loop = asyncio.get_running_loop()
    server = FuzzServer()
    url = await server.start()
    connector = LedgerConnector(LedgerConnector.load_settings(base_url=url, api_key="k"))
    await connector.open()
    outcomes: list[str] = []

    @settings(FUZZ, max_examples=examples(600))
    @given(
        body=rest_bodies,
        status=statuses,
        content_type=st.sampled_from(
            ["application/json", "text/html", "application/json; charset=latin-1", ""]
        ),
    )
    def one(body: bytes, status: int, content_type: str) -> None:
        server.body, server.status, server.content_type = body, status, content_type

        async def call() -> str:
            try:
                result = await connector.get_customer(GetCustomer(customer_id="C-1001"))
            except RetrofitError as exc:
                return type(exc).__name__
            assert isinstance(result, Customer) and 200 <= status < 300
            return "parsed"

        outcomes.append(_in_thread_loop(loop, call))

    try:
        await asyncio.to_thread(one)
    finally:
        await connector.close()
        await server.close()
    assert len(outcomes) >= examples(400) and "parsed" in outcomes and len(set(outcomes)) >= 3


def _mutations() -> st.SearchStrategy[Callable[[bytes], bytes]]:
    def build(kind: str, at: float, junk: bytes, text: str) -> Callable[[bytes], bytes]:
        def mutate(body: bytes) -> bytes:
            cut = int(len(body) * at)
            if kind == "truncate":
                return body[:cut]
            if kind == "insert":
                return body[:cut] + junk + body[cut:]
            if kind == "retext":  # replace the text of the element that contains the cut
                start, end = body.rfind(b">", 0, cut) + 1, body.find(b"<", cut)
                return (
                    body[:start] + text.encode("utf-8", "surrogatepass") + body[max(end, start) :]
                    if start > 0 and end > 0
                    else body
                )
            if kind == "entity":
                return body[:cut] + b"&xxe;&#0;&#xD800;" + body[cut:]
            return junk

        return mutate

    return st.builds(
        build,
        st.sampled_from(["truncate", "insert", "retext", "retext", "entity", "replace"]),
        st.floats(0, 1),
        st.binary(max_size=40),
        st.text(max_size=30),
    )


@pytest.mark.timeout(300)
async def test_fuzzed_soap_responses_parse_or_raise_typed_errors(
    demo_servers: tuple[ErpServer, Any],
) -> None:
    erp, _ = demo_servers
    loop = asyncio.get_running_loop()
    server = FuzzServer()
    url = await server.start()
    server.upstream = erp.wsdl_url.split("?")[0]
    server.content_type = "text/xml; charset=utf-8"
    connector = ErpConnector(ErpConnector.load_settings(wsdl=erp.wsdl_url, endpoint=url))
    await connector.open()
    outcomes: list[str] = []

    @settings(FUZZ, max_examples=examples(300))
    @given(mutate=_mutations(), status=st.sampled_from([200, 200, 200, 500, 503, 400]))
    def one(mutate: Callable[[bytes], bytes], status: int) -> None:
        server.mutate, server.status = mutate, status

        async def call() -> str:
            try:
                await connector.get_customer(ErpGetCustomer(customer_id="C-1001"))
            except RetrofitError as exc:
                return type(exc).__name__
            return "parsed"

        outcomes.append(_in_thread_loop(loop, call))

    try:
        await asyncio.to_thread(one)
    finally:
        await connector.close()
        await server.close()
    assert len(outcomes) >= examples(200) and "parsed" in outcomes and len(set(outcomes)) >= 2


# -- through real Temporal ---------------------------------------------------------------------


def _set_credit_limit_arguments() -> st.SearchStrategy[dict[str, Any]]:
    valid = st.builds(
        lambda c, v: {"customer_id": c, "credit_limit": str(v)},
        st.sampled_from(["C-1001", "C-1004", "C-1008"]),
        st.decimals(min_value=0, max_value=10_000_000, places=2),
    )
    near = st.fixed_dictionaries(
        {},
        optional={
            "customer_id": plausible | json_values,
            "credit_limit": plausible | json_values | st.decimals(allow_nan=False, places=3).map(str),
        },
    )
    return valid | near | arguments


@pytest.mark.devserver
@pytest.mark.timeout(300)
async def test_random_arguments_through_the_gate_run_only_when_valid(
    dev_server_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str
) -> None:
    loop = asyncio.get_running_loop()
    client = dev_server_env.client
    cases: list[tuple[str, dict[str, Any], str]] = []  # workflow id, arguments, outcome
    async with ledger_worker(client, ledger, audit_url, policy=allow_all()) as worker:

        @settings(FUZZ, max_examples=examples(120))
        @given(raw=_set_credit_limit_arguments())
        def one(raw: dict[str, Any]) -> None:
            wf_id = f"fuzz-{uuid.uuid4().hex[:10]}"

            async def run() -> str:
                try:
                    await client.execute_workflow(
                        "SingleAction",
                        SingleActionInput(action="ledger.set_credit_limit", arguments=raw),
                        id=wf_id,
                        task_queue=worker.task_queue,
                    )
                except WorkflowFailureError as exc:
                    cause = exc.cause
                    return cause.type or "?" if isinstance(cause, ApplicationError) else type(cause).__name__
                return "ran"

            cases.append((wf_id, raw, _in_thread_loop(loop, run)))

        await asyncio.to_thread(one)

    ran = 0
    for wf_id, raw, outcome in cases:
        try:
            SetCreditLimit.model_validate(raw)
            valid = True
        except ValidationError:
            valid = False
        trail = kinds(await audit_of(audit_url, wf_id))
        if not valid:
            assert outcome == "InvalidArguments", (raw, outcome)
            assert trail == ["action.invalid"], (raw, trail)  # refused, recorded, nothing ran
        else:
            assert outcome in ("ran", "ActionFailed"), (raw, outcome)  # unknown customer: the ledger says 404
            assert "action.started" in trail
            ran += outcome == "ran"
    assert ran == sum(ledger_effects(ledger)["credit_limit"].values())
    assert any(o == "InvalidArguments" for *_, o in cases) and ran > 0


@pytest.mark.devserver
@pytest.mark.timeout(300)
async def test_random_approval_updates_and_signals_are_refused_and_recorded(
    dev_server_env: WorkflowEnvironment, ledger: LedgerServer, audit_url: str
) -> None:
    loop = asyncio.get_running_loop()
    client = dev_server_env.client
    wf_id = f"fuzz-approval-{uuid.uuid4().hex[:8]}"
    signals = updates = 0
    async with ledger_worker(client, ledger, audit_url) as worker:
        handle = await client.start_workflow(
            "SingleAction",
            SingleActionInput(
                action="ledger.set_credit_limit", arguments={"customer_id": "C-1004", "credit_limit": "1.00"}
            ),
            id=wf_id,
            task_queue=worker.task_queue,
        )
        for _ in range(200):
            if await handle.query("pending_approvals", result_type=list[ApprovalView]):
                break
            await asyncio.sleep(0.05)

        # Payloads that can never be accepted here (the request is apr-1): every one is refused.
        hostile = _payloads().filter(lambda p: not (isinstance(p, dict) and p.get("request_id") == "apr-1"))

        @settings(FUZZ, max_examples=examples(60))
        @given(payload=hostile, as_signal=st.booleans())
        def one(payload: Any, as_signal: bool) -> None:
            nonlocal signals, updates

            async def send() -> None:
                if as_signal:
                    await handle.signal("approve", payload)
                    return
                with pytest.raises(WorkflowUpdateFailedError):
                    await handle.execute_update("decide", payload)

            _in_thread_loop(loop, send)
            signals += as_signal
            updates += not as_signal

        await asyncio.to_thread(one)
        views = await handle.query("pending_approvals", result_type=list[ApprovalView])
        assert [v.status for v in views] == [ApprovalStatus.PENDING]  # nothing got through
        await handle.execute_update("decide", await signed(None, wf_id, views[0], "ops", "approve"))
        await handle.result()

    trail = kinds(await audit_of(audit_url, wf_id))
    # Every refused answer is on record, Signal or Update, well-formed or not: below the refusal cap
    # the validator accepts even a payload that does not parse, so the handler can record it.
    assert signals + updates < REFUSAL_CAP
    assert trail.count("approval.refused") == signals + updates
    assert trail.count("approval.granted") == 1 and ledger_effects(ledger)["credit_limit"] == {"C-1004": 1}
