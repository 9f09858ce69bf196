"""The demo CRM's own contract, on the wire: what the connector and the tests rely on."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import httpx
import pytest

from legacy.crm.server import CrmServer
from tests.integration.rest.support import admin

pytestmark = pytest.mark.timeout(30)


def token_for(crm: CrmServer, **form: str) -> httpx.Response:
    data = {
        "grant_type": "client_credentials",
        "client_id": crm.client_id,
        "client_secret": crm.client_secret,
    }
    return httpx.post(f"{crm.url}/oauth/token", data={**data, **form}, timeout=5)


def bearer(crm: CrmServer, **form: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(crm, **form).json()['access_token']}"}


def test_server_starts_and_stops_quickly(record_property: Any) -> None:
    with CrmServer() as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{server.url}/_admin/health", timeout=5).json() == {"status": "ok"}
        startup = server.startup_seconds
    assert startup is not None
    record_property("crm_startup_seconds", round(startup, 4))
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
        assert httpx.get(f"{url}/_admin/health", timeout=5).json() == {"status": "ok"}
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert "demo-crm-secret" not in banner + stderr


def test_token_endpoint_follows_rfc_6749(crm: CrmServer) -> None:
    issued = token_for(crm)
    assert issued.status_code == 200
    assert issued.headers["Cache-Control"] == "no-store"
    body = issued.json()
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 300, "crm.read crm.write")

    assert token_for(crm, grant_type="password").json()["error"] == "unsupported_grant_type"
    assert token_for(crm, scope="crm.admin").json()["error"] == "invalid_scope"
    wrong = token_for(crm, client_secret="nope")
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    assert wrong.headers["WWW-Authenticate"].startswith("Basic")

    as_basic = httpx.post(
        f"{crm.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(crm.client_id, crm.client_secret),
        timeout=5,
    )
    assert as_basic.status_code == 200
    assert httpx.get(f"{crm.url}/_admin/tokens", timeout=5).json()["issued"] == 2


def test_business_api_needs_a_live_token_with_the_scope(crm: CrmServer) -> None:
    missing = httpx.get(f"{crm.url}/accounts/A-2001", timeout=5)
    assert (missing.status_code, missing.json()["error"]) == (401, "invalid_token")
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")

    read_only = bearer(crm, scope="crm.read")
    assert httpx.get(f"{crm.url}/accounts/A-2001", headers=read_only, timeout=5).status_code == 200
    refused = httpx.post(f"{crm.url}/accounts/A-2001/notes", json={"body": "x"}, headers=read_only, timeout=5)
    assert (refused.status_code, refused.json()["error"]) == (403, "insufficient_scope")

    httpx.post(f"{crm.url}/_admin/tokens/revoke", timeout=5).raise_for_status()
    assert httpx.get(f"{crm.url}/accounts/A-2001", headers=read_only, timeout=5).status_code == 401


def test_idempotency_contract_for_writes(crm: CrmServer) -> None:
    with httpx.Client(base_url=crm.url, headers=bearer(crm), timeout=5) as client:
        path = "/accounts/A-2003/notes"
        first = client.post(
            path, json={"body": "Called about Q1 volumes."}, headers={"Idempotency-Key": "k1"}
        )
        again = client.post(
            path, json={"body": "Called about Q1 volumes."}, headers={"Idempotency-Key": "k1"}
        )
        assert (first.status_code, again.status_code) == (201, 201)
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()

        other = client.post(path, json={"body": "Something else."}, headers={"Idempotency-Key": "k1"})
        assert (other.status_code, other.json()["error"]) == (422, "idempotency_key_reused")

        without_key = client.post(path, json={"body": "No key, two effects."})
        client.post(path, json={"body": "No key, two effects."})
        assert without_key.status_code == 201

    effects = httpx.get(f"{crm.url}/_admin/effects", timeout=5).json()
    assert (effects["notes"], effects["total"], effects["replays"]) == ({"A-2003": 3}, 3, 1)


def test_pagination_styles_on_the_wire(crm: CrmServer) -> None:
    with httpx.Client(base_url=crm.url, headers=bearer(crm), timeout=5) as client:
        page = (client.get("/accounts", params={"limit": 10})).json()
        assert len(page["items"]) == 10 and page["next_cursor"]
        rest = (client.get("/accounts", params={"limit": 10, "cursor": page["next_cursor"]})).json()
        assert ([a["id"] for a in rest["items"]][-1], rest["next_cursor"]) == ("A-2015", None)
        assert (client.get("/accounts", params={"cursor": "forged"})).json()["error"] == "invalid_cursor"

        contacts = client.get("/accounts/A-2001/contacts", params={"per_page": 3})
        assert contacts.headers["X-Total-Count"] == "4"
        assert contacts.links["next"]["url"].endswith("/accounts/A-2001/contacts?page=2&per_page=3")

        notes = (client.get("/accounts/A-2006/notes", params={"per_page": 3})).json()
        assert (notes["total"], notes["total_pages"], len(notes["items"])) == (7, 3, 3)

        found = (client.get("/contacts", params={"q": "finance", "offset": 1, "limit": 2})).json()
        assert (found["offset"], found["limit"], found["total"]) == (1, 2, 3)


async def test_faults_spare_the_control_plane(crm: CrmServer) -> None:
    await admin(crm.url, "POST", "faults", {"fail_next": 5, "drop_next": 5})
    assert await admin(crm.url, "GET", "health") == {"status": "ok"}
    async with httpx.AsyncClient(base_url=crm.url, timeout=5) as client:
        typo = await client.post("/_admin/faults", json={"fail_nxt": 1})
    assert typo.status_code == 400
