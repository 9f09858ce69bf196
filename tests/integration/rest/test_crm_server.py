"""The demo CRM's own contract, on the wire: what the connector and the tests rely on."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from legacy.crm.server import CrmServer

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def wire(crm: CrmServer) -> Iterator[httpx.Client]:
    """A plain client on the reset CRM (plain HTTP on loopback: no CA bundle to load)."""
    with httpx.Client(base_url=crm.url, timeout=5, verify=False) as client:
        yield client


def token_for(wire: httpx.Client, crm: CrmServer, **form: str) -> httpx.Response:
    data = {
        "grant_type": "client_credentials",
        "client_id": crm.client_id,
        "client_secret": crm.client_secret,
    }
    return wire.post("/oauth/token", data={**data, **form})


def bearer(wire: httpx.Client, crm: CrmServer, **form: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(wire, crm, **form).json()['access_token']}"}


def test_server_starts_and_stops_quickly(record_property: Any) -> None:
    with CrmServer() as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{server.url}/_admin/health", timeout=5, verify=False).json() == {"status": "ok"}
        startup = server.startup_seconds
    assert startup is not None
    record_property("crm_startup_seconds", round(startup, 4))
    print(f"crm server answered health after {startup * 1000:.1f} ms")
    assert startup < 2.0


def test_foreground_command_serves_until_stopped() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "legacy.crm.server", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline().strip()
        assert banner.startswith("demo CRM listening on http://127.0.0.1:")
        url = banner.rsplit(" ", 1)[-1]
        assert httpx.get(f"{url}/_admin/health", timeout=5, verify=False).json() == {"status": "ok"}
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert "demo-crm-secret" not in banner + stderr


def test_token_endpoint_follows_rfc_6749(crm: CrmServer, wire: httpx.Client) -> None:
    issued = token_for(wire, crm)
    assert issued.status_code == 200
    assert issued.headers["Cache-Control"] == "no-store"
    body = issued.json()
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 300, "crm.read crm.write")

    assert token_for(wire, crm, grant_type="password").json()["error"] == "unsupported_grant_type"
    assert token_for(wire, crm, scope="crm.admin").json()["error"] == "invalid_scope"
    wrong = token_for(wire, crm, client_secret="nope")
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    assert wrong.headers["WWW-Authenticate"].startswith("Basic")

    as_basic = wire.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(crm.client_id, crm.client_secret)
    )
    assert as_basic.status_code == 200
    assert wire.get("/_admin/tokens").json()["issued"] == 2


def test_business_api_needs_a_live_token_with_the_scope(crm: CrmServer, wire: httpx.Client) -> None:
    missing = wire.get("/accounts/A-2001")
    assert (missing.status_code, missing.json()["error"]) == (401, "invalid_token")
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")

    read_only = bearer(wire, crm, scope="crm.read")
    assert wire.get("/accounts/A-2001", headers=read_only).status_code == 200
    refused = wire.post("/accounts/A-2001/notes", json={"body": "x"}, headers=read_only)
    assert (refused.status_code, refused.json()["error"]) == (403, "insufficient_scope")

    wire.post("/_admin/tokens/revoke").raise_for_status()
    assert wire.get("/accounts/A-2001", headers=read_only).status_code == 401


def test_idempotency_contract_for_writes(crm: CrmServer, wire: httpx.Client) -> None:
    auth = bearer(wire, crm)
    path = "/accounts/A-2003/notes"
    note = {"body": "Called about Q1 volumes."}
    first = wire.post(path, json=note, headers={**auth, "Idempotency-Key": "k1"})
    again = wire.post(path, json=note, headers={**auth, "Idempotency-Key": "k1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()

    other = wire.post(path, json={"body": "Something else."}, headers={**auth, "Idempotency-Key": "k1"})
    assert (other.status_code, other.json()["error"]) == (422, "idempotency_key_reused")

    # Without a key every POST is a new note, as in most real CRMs.
    assert wire.post(path, json={"body": "No key."}, headers=auth).status_code == 201
    assert wire.post(path, json={"body": "No key."}, headers=auth).status_code == 201

    effects = wire.get("/_admin/effects").json()
    assert (effects["notes"], effects["total"], effects["replays"]) == ({"A-2003": 3}, 3, 1)


def test_pagination_styles_on_the_wire(crm: CrmServer, wire: httpx.Client) -> None:
    auth = bearer(wire, crm)
    page = wire.get("/accounts", params={"limit": 10}, headers=auth).json()
    assert len(page["items"]) == 10 and page["next_cursor"]
    rest = wire.get("/accounts", params={"limit": 10, "cursor": page["next_cursor"]}, headers=auth).json()
    assert ([a["id"] for a in rest["items"]][-1], rest["next_cursor"]) == ("A-2015", None)
    assert (
        wire.get("/accounts", params={"cursor": "forged"}, headers=auth).json()["error"] == "invalid_cursor"
    )

    contacts = wire.get("/accounts/A-2001/contacts", params={"per_page": 3}, headers=auth)
    assert contacts.headers["X-Total-Count"] == "4"
    assert contacts.links["next"]["url"].endswith("/accounts/A-2001/contacts?page=2&per_page=3")

    notes = wire.get("/accounts/A-2006/notes", params={"per_page": 3}, headers=auth).json()
    assert (notes["total"], notes["total_pages"], len(notes["items"])) == (7, 3, 3)

    found = wire.get("/contacts", params={"q": "finance", "offset": 1, "limit": 2}, headers=auth).json()
    assert (found["offset"], found["limit"], found["total"]) == (1, 2, 3)


def test_faults_spare_the_control_plane(wire: httpx.Client) -> None:
    wire.post("/_admin/faults", json={"fail_next": 5, "drop_next": 5}).raise_for_status()
    assert wire.get("/_admin/health").json() == {"status": "ok"}
    assert wire.get("/_admin/faults").json()["drop_next"] == 5
    assert wire.post("/_admin/faults", json={"fail_nxt": 1}).status_code == 400
    assert wire.post("/_admin/tokens", json={"lifetime_seconds": 0}).status_code == 400
