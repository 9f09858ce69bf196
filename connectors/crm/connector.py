"""The demo CRM's connector: its REST API (`legacy/crm`) as typed actions, on the REST base."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AnyHttpUrl, Field, SecretStr

from connectors.crm.models import (
    Account,
    AccountList,
    AddNote,
    Contact,
    ContactList,
    DeleteContact,
    DeletedContact,
    GetAccount,
    ListContacts,
    ListNotes,
    Note,
    NoteList,
    SearchAccounts,
    SearchContacts,
    UpdateAccountStatus,
)
from connectors.rest import (
    Cursor,
    LinkHeader,
    OAuth2ClientCredentials,
    OffsetLimit,
    PageNumber,
    RestConnector,
    RestSettings,
    path_segment,
)
from connectors.rest.idempotency_lookup import lookup_stored_write
from retrofit.sdk import ConnectorSettings, Effect, LookupResult, action, current_call


class CrmSettings(RestSettings):
    """`RETROFIT_CRM_BASE_URL`, `RETROFIT_CRM_CLIENT_ID`, `RETROFIT_CRM_CLIENT_SECRET`, ... (see RestSettings)."""

    base_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8703")
    client_id: str = "retrofit-demo"
    client_secret: SecretStr = SecretStr("demo-crm-secret")
    scope: str = "crm.read crm.write"
    token_path: str = "/oauth/token"
    # Items per request when listing; the CRM accepts up to 50 on every list endpoint.
    page_size: int = Field(default=25, ge=1, le=50)


class CrmConnector(RestConnector):
    """Demo CRM (REST): B2B accounts (ids like A-2001, linked to ledger customers), their contacts and notes."""

    name = "crm"
    Settings: ClassVar[type[ConnectorSettings]] = CrmSettings
    settings: CrmSettings

    def build_auth(self) -> OAuth2ClientCredentials:
        return OAuth2ClientCredentials(
            self.settings.token_path,
            self.settings.client_id,
            self.settings.client_secret,
            scope=self.settings.scope,
            system=self.name,
        )

    async def lookup(self, idempotency_key: str) -> LookupResult:
        """The crm keeps the first answer of every Idempotency-Key and reports it (`GET
        /idempotency-keys`): after a lost answer, the framework learns whether the write landed."""
        return await lookup_stored_write(self, "/idempotency-keys", idempotency_key)

    @action(effect=Effect.READ)
    async def get_account(self, req: GetAccount) -> Account:
        """Look up a CRM account by id: name, industry, country, status, account manager and ledger customer id."""
        return await self.request_json("GET", f"/accounts/{path_segment(req.account_id)}", expect=Account)

    @action(effect=Effect.READ)
    async def search_accounts(self, req: SearchAccounts) -> AccountList:
        """Find CRM accounts by part of their name or industry and/or by status, ordered by account id."""
        params = {k: v for k, v in (("q", req.query), ("status", req.status)) if v is not None}
        pages = self.paginate(
            "/accounts",
            Cursor(limit=self.settings.page_size),
            item=Account,
            params=params,
            max_items=req.max_results,
        )
        return AccountList(items=await pages.collect(), truncated=pages.truncated)

    @action(effect=Effect.READ)
    async def list_contacts(self, req: ListContacts) -> ContactList:
        """List the contact people of one CRM account, the primary contact first."""
        pages = self.paginate(
            f"/accounts/{path_segment(req.account_id)}/contacts",
            LinkHeader(size_param="per_page", page_size=self.settings.page_size),
            item=Contact,
            max_items=req.max_results,
        )
        return ContactList(items=await pages.collect(), truncated=pages.truncated)

    @action(effect=Effect.READ)
    async def search_contacts(self, req: SearchContacts) -> ContactList:
        """Find contact people across all CRM accounts by part of their name, title or e-mail, or by exact e-mail."""
        params = {k: v for k, v in (("q", req.query), ("email", req.email)) if v is not None}
        pages = self.paginate(
            "/contacts",
            OffsetLimit(limit=self.settings.page_size, total="total"),
            item=Contact,
            params=params,
            max_items=req.max_results,
        )
        return ContactList(items=await pages.collect(), truncated=pages.truncated)

    @action(effect=Effect.READ)
    async def list_notes(self, req: ListNotes) -> NoteList:
        """Read the notes on a CRM account's timeline, newest first."""
        pages = self.paginate(
            f"/accounts/{path_segment(req.account_id)}/notes",
            PageNumber(size_param="per_page", page_size=self.settings.page_size),
            item=Note,
            max_items=req.max_results,
        )
        return NoteList(items=await pages.collect(), truncated=pages.truncated)

    @action(effect=Effect.WRITE)
    async def add_note(self, req: AddNote) -> Note:
        """Add a note to a CRM account's timeline; returns the stored note."""
        call = current_call()
        return await self.request_json(
            "POST",
            f"/accounts/{path_segment(req.account_id)}/notes",
            # Signed with the workflow, so a CRM user can trace the note back to its audit trail.
            json={"body": req.body, "created_by": f"retrofit:{call.workflow_id}"},
            idempotent=True,
            expect=Note,
        )

    @action(effect=Effect.WRITE, compensate="update_account_status")
    async def update_account_status(self, req: UpdateAccountStatus) -> Account:
        """Move a CRM account to another status (prospect, active, on_hold or churned); returns the account."""
        return await self.request_json(
            "PATCH",
            f"/accounts/{path_segment(req.account_id)}",
            json={"status": req.status},
            idempotent=True,
            expect=Account,
        )

    @action(effect=Effect.DESTRUCTIVE)
    async def delete_contact(self, req: DeleteContact) -> DeletedContact:
        """Permanently delete a contact person from the CRM; this cannot be undone."""
        # With the key, a retry after a lost answer gets the original answer instead of a 404.
        return await self.request_json(
            "DELETE", f"/contacts/{path_segment(req.contact_id)}", idempotent=True, expect=DeletedContact
        )
