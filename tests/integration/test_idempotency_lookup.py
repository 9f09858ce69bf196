"""The demo systems' `GET /idempotency-keys` (what the connectors' `lookup` asks), attacked a little:
it needs the system's credentials, says only what landed, and a CRM client never sees another's."""

from __future__ import annotations

import httpx
import pytest

from legacy.crm.app import create_app
from legacy.crm.store import CrmState
from legacy.ledger.server import LedgerServer

pytestmark = pytest.mark.timeout(30)


def _ledger(ledger: LedgerServer, method: str, path: str, **kwargs: object) -> httpx.Response:
    headers = {"X-Api-Key": ledger.api_key, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
    return httpx.request(method, f"{ledger.url}{path}", headers=headers, timeout=5, **kwargs)  # type: ignore[arg-type]


def test_the_ledger_reports_exactly_the_writes_that_landed(ledger: LedgerServer) -> None:
    written = _ledger(
        ledger,
        "PUT",
        "/customers/C-1001/credit-limit",
        json={"credit_limit": "42000.00"},
        headers={"Idempotency-Key": "wf#1"},
    )
    assert written.status_code == 200
    found = _ledger(ledger, "GET", "/idempotency-keys", params={"key": "wf#1"}).json()
    assert found == {"key": "wf#1", "landed": True, "status": 200, "body": written.json()}

    # A write the ledger refused is not remembered: it did not land.
    refused = _ledger(
        ledger,
        "PUT",
        "/customers/C-0000/credit-limit",
        json={"credit_limit": "1.00"},
        headers={"Idempotency-Key": "wf#2"},
    )
    assert refused.status_code == 404
    assert _ledger(ledger, "GET", "/idempotency-keys", params={"key": "wf#2"}).json() == {
        "key": "wf#2",
        "landed": False,
    }
    assert _ledger(ledger, "GET", "/idempotency-keys", params={"key": "never"}).json()["landed"] is False


def test_the_ledgers_lookup_needs_the_api_key_and_a_sane_key(ledger: LedgerServer) -> None:
    anonymous = httpx.get(f"{ledger.url}/idempotency-keys", params={"key": "wf#1"}, timeout=5)
    assert anonymous.status_code == 401
    assert _ledger(ledger, "GET", "/idempotency-keys").status_code == 400
    assert _ledger(ledger, "GET", "/idempotency-keys", params={"key": "x" * 256}).status_code == 400


async def test_a_crm_client_sees_only_its_own_keys() -> None:
    app = create_app(CrmState(), clients={"alpha": "alpha-secret", "beta": "beta-secret"})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://crm.test") as http:

        async def token(client: str, scope: str = "crm.read crm.write") -> dict[str, str]:
            answer = await http.post(
                "/oauth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": client,
                    "client_secret": f"{client}-secret",
                    "scope": scope,
                },
            )
            answer.raise_for_status()
            return {"Authorization": f"Bearer {answer.json()['access_token']}"}

        alpha, beta = await token("alpha"), await token("beta")
        note = await http.post(
            "/accounts/A-2001/notes", json={"body": "called"}, headers={**alpha, "Idempotency-Key": "wf#7"}
        )
        assert note.status_code == 201
        mine = (await http.get("/idempotency-keys", params={"key": "wf#7"}, headers=alpha)).json()
        assert mine["landed"] is True and mine["body"] == note.json()
        theirs = (await http.get("/idempotency-keys", params={"key": "wf#7"}, headers=beta)).json()
        assert theirs == {"key": "wf#7", "landed": False}
        reader = await token("alpha", "crm.read")
        assert (
            await http.get("/idempotency-keys", params={"key": "wf#7"}, headers=reader)
        ).status_code == 403
        assert (await http.get("/idempotency-keys", params={"key": "wf#7"})).status_code == 401
