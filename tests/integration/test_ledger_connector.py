"""The ledger connector against the real demo ledger on loopback: real HTTP, no mocks.

The server is the session-wide `ledger` fixture from `tests/conftest.py`, reset to its seed data
around every test. Faults are injected through the ledger's `/_admin/faults` control plane.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connectors.ledger.connector import LedgerConnector, LedgerSettings
from connectors.ledger.models import (
    AddNote,
    DeleteCustomer,
    GetCustomer,
    SetCreditLimit,
)
from legacy.ledger.server import LedgerServer
from retrofit.sdk import (
    ActionInputError,
    AuthError,
    Effect,
    NonRetryableError,
    RetryableError,
    describe_connector,
)
from retrofit.sdk.context import ActionContext, bind_call, unbind_call

pytestmark = pytest.mark.timeout(30)


@contextmanager
def running_call(idempotency_key: str, action: str = "ledger.set_credit_limit") -> Iterator[ActionContext]:
    """What the worker does around an action: bind the call so `current_call()` sees its key."""
    context = ActionContext(
        action=action,
        idempotency_key=idempotency_key,
        workflow_id="wf-ledger-test",
        run_id="run-1",
        step=1,
        attempt=1,
    )
    token = bind_call(context)
    try:
        yield context
    finally:
        unbind_call(token)


async def admin(server: LedgerServer, method: str, path: str, json: Any = None) -> Any:
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
        response = await client.request(method, f"/_admin/{path}", json=json)
        response.raise_for_status()
        return response.json()


def connector_for(server: LedgerServer, **overrides: Any) -> LedgerConnector:
    settings = LedgerConnector.load_settings(
        **{"base_url": server.url, "api_key": server.api_key, **overrides}
    )
    return LedgerConnector(settings)


@pytest.fixture
async def connector(ledger: LedgerServer) -> AsyncIterator[LedgerConnector]:
    conn = connector_for(ledger)
    await conn.open()
    try:
        yield conn
    finally:
        await conn.close()


# -- the server itself ------------------------------------------------------------------------------


def test_server_starts_and_stops_quickly(record_property: Any) -> None:
    with LedgerServer() as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{server.url}/_admin/health", timeout=5).json() == {"status": "ok"}
        startup = server.startup_seconds
    assert startup is not None
    record_property("ledger_startup_seconds", round(startup, 4))
    print(f"ledger server answered health after {startup * 1000:.1f} ms")
    assert startup < 2.0  # the brief's budget; in practice tens of milliseconds


async def test_server_contract_for_writes(ledger: LedgerServer) -> None:
    """The idempotency rules the connector relies on, checked on the wire."""
    async with httpx.AsyncClient(
        base_url=ledger.url, headers={"X-Api-Key": ledger.api_key}, timeout=5
    ) as client:
        path = "/customers/C-1001/credit-limit"
        missing_key = await client.put(path, json={"credit_limit": "1.00"})
        assert missing_key.status_code == 400
        assert "Idempotency-Key" in missing_key.json()["error"]

        as_float = await client.put(path, json={"credit_limit": 1.5}, headers={"Idempotency-Key": "k0"})
        assert as_float.status_code == 400

        first = await client.put(path, json={"credit_limit": "1.00"}, headers={"Idempotency-Key": "k1"})
        again = await client.put(path, json={"credit_limit": "1.00"}, headers={"Idempotency-Key": "k1"})
        assert first.status_code == again.status_code == 200
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()

        other_body = await client.put(path, json={"credit_limit": "2.00"}, headers={"Idempotency-Key": "k1"})
        assert other_body.status_code == 422

        page = (await client.get("/customers", params={"page": 2, "page_size": 5})).json()
        assert [c["id"] for c in page["items"]] == ["C-1006", "C-1007", "C-1008"]
        assert (page["total"], page["next_page"]) == (8, None)
        assert (await client.get("/customers", params={"page": "x"})).status_code == 400

    assert await admin(ledger, "GET", "effects") == {
        "credit_limit": {"C-1001": 1},
        "notes": {},
        "deleted": {},
        "by_customer": {"C-1001": 1},
        "total": 1,
        "replays": 1,
    }


async def test_faults_spare_the_control_plane(ledger: LedgerServer) -> None:
    await admin(ledger, "POST", "faults", {"fail_next": 5, "drop_next": 5})
    assert await admin(ledger, "GET", "health") == {"status": "ok"}
    assert (await admin(ledger, "GET", "faults"))["drop_next"] == 5
    async with httpx.AsyncClient(base_url=ledger.url, timeout=5) as client:
        typo = await client.post("/_admin/faults", json={"fail_nxt": 1})
    assert typo.status_code == 400


# -- reads ------------------------------------------------------------------------------------------


async def test_get_customer(connector: LedgerConnector) -> None:
    customer = await connector.get_customer(GetCustomer(customer_id="C-1001"))
    assert customer.id == "C-1001"
    assert customer.name == "Nordwind Logistik GmbH"
    assert customer.credit_limit == Decimal("50000.00")
    assert customer.balance == Decimal("12450.75")
    assert customer.currency == "EUR"


# -- writes and idempotency -------------------------------------------------------------------------


async def test_set_credit_limit_applies_once_per_idempotency_key(
    ledger: LedgerServer, connector: LedgerConnector
) -> None:
    request = SetCreditLimit(customer_id="C-1006", credit_limit=Decimal("90000.00"))
    with running_call("wf-ledger-test/1"):
        first = await connector.set_credit_limit(request)
        repeated = await connector.set_credit_limit(request)  # what a Temporal retry does

    assert first.credit_limit == Decimal("90000.00")
    assert repeated == first
    assert ledger.state.get_customer("C-1006").credit_limit == Decimal("90000.00")
    effects = await admin(ledger, "GET", "effects")
    assert (effects["credit_limit"], effects["total"], effects["replays"]) == ({"C-1006": 1}, 1, 1)

    with running_call("wf-ledger-test/2"):  # a new step is a new effect
        await connector.set_credit_limit(request)
    assert ledger.state.effects() == {"C-1006": 2}


async def test_lost_response_then_retry_applies_once(
    ledger: LedgerServer, connector: LedgerConnector
) -> None:
    """The write lands, its answer is lost; the retry with the same key gets the original answer."""
    await admin(ledger, "POST", "faults", {"drop_next": 1, "drop_after_apply": True})
    request = SetCreditLimit(customer_id="C-1007", credit_limit=Decimal("12500.00"))
    with running_call("wf-ledger-test/lost"):
        with pytest.raises(RetryableError):
            await connector.set_credit_limit(request)
        assert ledger.state.effects() == {"C-1007": 1}  # it did land

        retried = await connector.set_credit_limit(request)

    assert retried.credit_limit == Decimal("12500.00")
    assert ledger.state.effects() == {"C-1007": 1}
    assert ledger.state.replays == 1


async def test_add_note_and_delete_customer(ledger: LedgerServer, connector: LedgerConnector) -> None:
    with running_call("wf-ledger-test/note", action="ledger.add_note"):
        note = await connector.add_note(AddNote(customer_id="C-1004", text="Asked for 60-day terms."))
        again = await connector.add_note(AddNote(customer_id="C-1004", text="Asked for 60-day terms."))
    assert note == again
    assert (note.customer_id, note.text) == ("C-1004", "Asked for 60-day terms.")

    with running_call("wf-ledger-test/delete", action="ledger.delete_customer"):
        deleted = await connector.delete_customer(DeleteCustomer(customer_id="C-1004"))
        # A retry after a lost response answers like the first time instead of 404.
        assert await connector.delete_customer(DeleteCustomer(customer_id="C-1004")) == deleted
    assert deleted.deleted is True
    assert ledger.state.effects_by_kind() == {
        "credit_limit": {},
        "notes": {"C-1004": 1},
        "deleted": {"C-1004": 1},
    }

    with pytest.raises(ActionInputError):
        await connector.get_customer(GetCustomer(customer_id="C-1004"))


async def test_writes_need_a_running_call(connector: LedgerConnector) -> None:
    with pytest.raises(RuntimeError, match="current_call"):
        await connector.set_credit_limit(SetCreditLimit(customer_id="C-1001", credit_limit=Decimal(1)))


# -- error mapping ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "retry_after", "expected_delay"),
    [(503, 1, timedelta(seconds=1)), (429, 7, timedelta(seconds=7)), (500, None, None)],
)
async def test_server_errors_are_retryable_with_retry_after(
    ledger: LedgerServer,
    connector: LedgerConnector,
    status: int,
    retry_after: int | None,
    expected_delay: timedelta | None,
) -> None:
    await admin(ledger, "POST", "faults", {"fail_next": 1, "status": status, "retry_after": retry_after})
    with pytest.raises(RetryableError) as caught:
        await connector.get_customer(GetCustomer(customer_id="C-1001"))
    assert caught.value.retry_after == expected_delay
    assert str(status) in caught.value.message
    # The fault was for one request only: the retry Temporal would make succeeds.
    assert (await connector.get_customer(GetCustomer(customer_id="C-1001"))).id == "C-1001"


async def test_wrong_api_key_is_an_auth_error_that_names_no_key(ledger: LedgerServer) -> None:
    wrong_key = "wrong-key-5f1c9a"
    conn = connector_for(ledger, api_key=wrong_key)
    await conn.open()
    try:
        with pytest.raises(AuthError) as caught:
            await conn.get_customer(GetCustomer(customer_id="C-1001"))
    finally:
        await conn.close()
    assert "401" in caught.value.message
    for text in (str(caught.value), caught.value.details or ""):
        assert wrong_key not in text
        assert ledger.api_key not in text


async def test_unknown_customer_is_an_input_error(connector: LedgerConnector) -> None:
    with pytest.raises(ActionInputError) as caught:
        await connector.get_customer(GetCustomer(customer_id="C-9999"))
    assert "404" in caught.value.message
    # The REST base keeps the (redacted) body excerpt, not just the ledger's message field.
    assert json.loads(caught.value.details or "") == {"error": "customer 'C-9999' not found"}
    assert not caught.value.retryable


async def test_refused_arguments_are_an_input_error(connector: LedgerConnector) -> None:
    # Bypasses the model's validation on purpose, to see the ledger's own 400 come back.
    invalid = SetCreditLimit.model_construct(customer_id="C-1001", credit_limit=Decimal("-5"))
    with running_call("wf-ledger-test/invalid"), pytest.raises(ActionInputError) as caught:
        await connector.set_credit_limit(invalid)
    assert "400" in caught.value.message
    assert "credit_limit must be between" in (caught.value.details or "")


async def test_dropped_connection_is_retryable(ledger: LedgerServer, connector: LedgerConnector) -> None:
    await admin(ledger, "POST", "faults", {"drop_next": 1})
    with pytest.raises(RetryableError) as caught:
        await connector.get_customer(GetCustomer(customer_id="C-1001"))
    assert "failed in transit" in caught.value.message
    assert ledger.api_key not in str(caught.value)


async def test_timeout_is_retryable(ledger: LedgerServer) -> None:
    await admin(ledger, "POST", "faults", {"latency_ms": 600})
    conn = connector_for(ledger, timeout_seconds=0.1)
    await conn.open()
    try:
        with pytest.raises(RetryableError, match="timed out"):
            await conn.get_customer(GetCustomer(customer_id="C-1001"))
    finally:
        await conn.close()


async def test_exchanges_are_captured_without_the_api_key(
    ledger: LedgerServer, connector: LedgerConnector
) -> None:
    request = SetCreditLimit(customer_id="C-1003", credit_limit=Decimal("15000.00"))
    with running_call("wf-ledger-test/capture") as context:
        await connector.set_credit_limit(request)
    (write,) = context.exchanges
    assert (write["method"], write["path"], write["status"], write["idempotency_key"]) == (
        "PUT",
        "/customers/C-1003/credit-limit",
        200,
        "wf-ledger-test/capture",
    )
    assert write["request_body"] == '{"credit_limit":"15000.00"}'
    assert '"credit_limit":"15000.00"' in write["response_body"]
    dumped = json.dumps(context.exchanges)
    assert ledger.api_key not in dumped
    assert "x-api-key" not in dumped.lower()


# -- description and settings -----------------------------------------------------------------------


def test_describe_connector() -> None:
    spec = describe_connector(LedgerConnector, plugin="test")
    assert spec.name == "ledger"
    assert spec.description.startswith("Demo ledger (REST)")
    effects = {a.method: a.effect for a in spec.actions}
    assert effects == {
        "get_customer": Effect.READ,
        "set_credit_limit": Effect.WRITE,
        "add_note": Effect.WRITE,
        "delete_customer": Effect.DESTRUCTIVE,
    }
    by_method = {a.method: a for a in spec.actions}
    assert by_method["set_credit_limit"].compensate == "ledger.set_credit_limit"
    for spec_action in spec.actions:
        assert spec_action.description and "\n" not in spec_action.description


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETROFIT_LEDGER_BASE_URL", "http://ledger.internal:9000")
    monkeypatch.setenv("RETROFIT_LEDGER_API_KEY", "from-env-3c8d")
    monkeypatch.setenv("RETROFIT_LEDGER_TIMEOUT_SECONDS", "2.5")
    settings = LedgerConnector.load_settings()
    assert isinstance(settings, LedgerSettings)
    assert str(settings.base_url) == "http://ledger.internal:9000/"
    assert settings.api_key.get_secret_value() == "from-env-3c8d"
    assert settings.timeout_seconds == 2.5
    # The old single timeout bounds what it bounded before the REST base: connecting and reading.
    assert (settings.connect_timeout, settings.read_timeout) == (2.5, 2.5)
    assert "from-env-3c8d" not in repr(settings)


def test_specific_timeouts_win_over_the_old_single_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    for field in ("TIMEOUT_SECONDS", "CONNECT_TIMEOUT", "READ_TIMEOUT"):
        monkeypatch.delenv(f"RETROFIT_LEDGER_{field}", raising=False)
    settings = LedgerConnector.load_settings(timeout_seconds=2.5, read_timeout=7.0)
    assert isinstance(settings, LedgerSettings)
    assert (settings.connect_timeout, settings.read_timeout) == (2.5, 7.0)
    defaults = LedgerConnector.load_settings()
    assert isinstance(defaults, LedgerSettings)
    assert (defaults.timeout_seconds, defaults.connect_timeout, defaults.read_timeout) == (None, 5.0, 10.0)


def test_connector_refuses_foreign_settings() -> None:
    with pytest.raises(TypeError, match="LedgerSettings"):
        LedgerConnector(NonRetryableError("not settings"))  # type: ignore[arg-type]
