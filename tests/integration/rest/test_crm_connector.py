"""The CRM connector against the real demo CRM on loopback: reads, writes, idempotency, description."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from connectors.crm.connector import CrmConnector, CrmSettings
from connectors.crm.models import (
    AddNote,
    DeleteContact,
    GetAccount,
    ListContacts,
    ListNotes,
    SearchAccounts,
    SearchContacts,
    UpdateAccountStatus,
)
from legacy.crm.server import CrmServer
from retrofit.sdk import ActionInputError, ConnectorSettings, Effect, RetryableError, describe_connector
from tests.integration.rest.support import admin, crm_connector, running_call

pytestmark = pytest.mark.timeout(30)


# -- reads ------------------------------------------------------------------------------------------


async def test_get_account(connector: CrmConnector) -> None:
    account = await connector.get_account(GetAccount(account_id="A-2006"))
    assert (account.id, account.name, account.status) == ("A-2006", "Van Dijk Bouwmaterialen B.V.", "on_hold")
    assert account.ledger_customer_id == "C-1006"
    assert account.updated_at.year == 2025


async def test_search_accounts_filters_by_status_and_text(connector: CrmConnector) -> None:
    on_hold = await connector.search_accounts(SearchAccounts(status="on_hold"))
    assert [a.id for a in on_hold.items] == ["A-2006", "A-2007"]
    assert not on_hold.truncated

    logistics = await connector.search_accounts(SearchAccounts(query="logist"))
    assert [a.name for a in logistics.items] == ["Nordwind Logistik GmbH", "Meridian Freight Forwarding S.A."]


async def test_list_and_search_contacts_and_notes(connector: CrmConnector) -> None:
    contacts = await connector.list_contacts(ListContacts(account_id="A-2001"))
    assert [c.id for c in contacts.items] == ["CT-3001", "CT-3002", "CT-3003", "CT-3004"]
    assert contacts.items[0].is_primary and not contacts.truncated

    by_email = await connector.search_contacts(
        SearchContacts(email="karen.whitfield@atlas-industrial.example")
    )
    assert [(c.id, c.account_id) for c in by_email.items] == [("CT-3008", "A-2003")]

    notes = await connector.list_notes(ListNotes(account_id="A-2006", max_results=3))
    assert [n.id for n in notes.items] == [9, 8, 7]  # newest first
    assert notes.truncated


async def test_list_actions_walk_every_page(crm: CrmServer) -> None:
    """With two items per page every list action needs several requests; the results are whole."""
    conn = crm_connector(crm.url, page_size=2)
    await conn.open()
    try:
        accounts = await conn.search_accounts(SearchAccounts(max_results=200))
        contacts = await conn.list_contacts(ListContacts(account_id="A-2001"))
        found = await conn.search_contacts(SearchContacts(query="a", max_results=200))
        notes = await conn.list_notes(ListNotes(account_id="A-2006"))
    finally:
        await conn.close()
    assert [a.id for a in accounts.items] == [f"A-{n}" for n in range(2001, 2016)]
    assert len(contacts.items) == 4 and len(notes.items) == 7
    assert len({c.id for c in found.items}) == len(found.items) > 20
    assert not (accounts.truncated or contacts.truncated or found.truncated or notes.truncated)
    requests = (await admin(crm.url, "GET", "requests"))["by_path"]
    assert requests["GET /accounts"] == 8  # 15 accounts, 2 a page
    assert requests["GET /accounts/A-2001/contacts"] == 2
    assert requests["GET /accounts/A-2006/notes"] == 4
    assert requests["POST /oauth/token"] == 1


# -- writes and idempotency -------------------------------------------------------------------------


async def test_add_note_applies_once_per_idempotency_key(crm: CrmServer, connector: CrmConnector) -> None:
    request = AddNote(account_id="A-2006", body="Credit review scheduled for Friday.")
    with running_call("wf-crm-test#1"):
        first = await connector.add_note(request)
        repeated = await connector.add_note(request)  # what a Temporal retry does
    assert repeated == first
    assert (first.account_id, first.body, first.created_by) == (
        "A-2006",
        request.body,
        "retrofit:wf-crm-test",
    )
    effects = await admin(crm.url, "GET", "effects")
    assert (effects["notes"], effects["total"], effects["replays"]) == ({"A-2006": 1}, 1, 1)

    with running_call("wf-crm-test#2"):  # a new step is a new effect
        await connector.add_note(request)
    assert (await admin(crm.url, "GET", "effects"))["notes"] == {"A-2006": 2}


async def test_lost_answer_then_retry_applies_once(crm: CrmServer, connector: CrmConnector) -> None:
    """The status change lands, its answer is lost; the retry with the same key gets the original."""
    await connector.get_account(GetAccount(account_id="A-2007"))  # a token first: the drop is for the write
    await admin(crm.url, "POST", "faults", {"drop_next": 1, "drop_after_apply": True})
    request = UpdateAccountStatus(account_id="A-2007", status="active")
    with running_call("wf-crm-test#status", action="crm.update_account_status"):
        with pytest.raises(RetryableError, match="failed in transit"):
            await connector.update_account_status(request)
        retried = await connector.update_account_status(request)
    assert retried.status == "active"
    effects = await admin(crm.url, "GET", "effects")
    assert (effects["status"], effects["replays"]) == ({"A-2007": 1}, 1)


async def test_delete_contact_repeats_answer_like_the_first_time(
    crm: CrmServer, connector: CrmConnector
) -> None:
    with running_call("wf-crm-test#delete", action="crm.delete_contact"):
        deleted = await connector.delete_contact(DeleteContact(contact_id="CT-3018"))
        assert await connector.delete_contact(DeleteContact(contact_id="CT-3018")) == deleted
    assert (deleted.contact_id, deleted.account_id, deleted.deleted) == ("CT-3018", "A-2007", True)
    assert (await admin(crm.url, "GET", "effects"))["deleted_contacts"] == {"A-2007": 1}

    with running_call("wf-crm-test#delete-again"), pytest.raises(ActionInputError, match="404"):
        await connector.delete_contact(DeleteContact(contact_id="CT-3018"))


async def test_writes_need_a_running_call(connector: CrmConnector) -> None:
    with pytest.raises(RuntimeError, match="current_call"):
        await connector.update_account_status(UpdateAccountStatus(account_id="A-2001", status="churned"))


# -- description, settings, the determinism boundary ------------------------------------------------


def test_describe_connector() -> None:
    spec = describe_connector(CrmConnector, plugin="test")
    assert spec.name == "crm"
    assert spec.description.startswith("Demo CRM (REST)")
    assert {a.method: a.effect for a in spec.actions} == {
        "get_account": Effect.READ,
        "search_accounts": Effect.READ,
        "list_contacts": Effect.READ,
        "search_contacts": Effect.READ,
        "list_notes": Effect.READ,
        "add_note": Effect.WRITE,
        "update_account_status": Effect.WRITE,
        "delete_contact": Effect.DESTRUCTIVE,
    }
    by_method = {a.method: a for a in spec.actions}
    assert by_method["update_account_status"].compensate == "crm.update_account_status"
    for spec_action in spec.actions:
        assert spec_action.description and "\n" not in spec_action.description
    schema = by_method["update_account_status"].input_schema()
    assert schema["properties"]["status"]["enum"] == ["prospect", "active", "on_hold", "churned"]


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETROFIT_CRM_BASE_URL", "https://crm.internal:9443")
    monkeypatch.setenv("RETROFIT_CRM_CLIENT_SECRET", "from-env-8e2b")
    monkeypatch.setenv("RETROFIT_CRM_READ_TIMEOUT", "2.5")
    monkeypatch.setenv("RETROFIT_CRM_RATE_LIMIT_PER_SECOND", "4")
    monkeypatch.setenv("RETROFIT_CRM_DEFAULT_HEADERS", '{"X-Tenant": "emea"}')
    settings = CrmConnector.load_settings()
    assert isinstance(settings, CrmSettings)
    assert str(settings.base_url) == "https://crm.internal:9443/"
    assert settings.client_secret.get_secret_value() == "from-env-8e2b"
    assert (settings.read_timeout, settings.rate_limit_per_second) == (2.5, 4.0)
    assert settings.default_headers == {"X-Tenant": "emea"}
    assert settings.client_id == "retrofit-demo"
    assert "from-env-8e2b" not in repr(settings)


def test_defaults_match_the_demo_server() -> None:
    settings = CrmSettings()
    assert str(settings.base_url) == "http://127.0.0.1:8703/"
    server = CrmServer()
    assert (settings.client_id, settings.client_secret.get_secret_value()) == (
        server.client_id,
        server.client_secret,
    )


def test_connector_refuses_foreign_settings() -> None:
    with pytest.raises(TypeError, match="CrmSettings"):
        CrmConnector(ConnectorSettings())


def test_models_import_no_io_library() -> None:
    """Workflows import `connectors.crm.models`: it must not drag httpx (or anything like it) in."""
    probe = (
        "import json, sys\n"
        "import connectors.crm.models\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('httpx', 'httpcore', 'starlette', 'uvicorn') or m.startswith('connectors.rest'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
