"""Typed inputs and outputs of the CRM connector.

Pure pydantic on purpose: workflows import this module, so it must stay free of I/O libraries.
Field descriptions reach the model as part of each tool's JSON schema.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from retrofit.sdk.action import ActionInput

AccountId = Annotated[str, Field(pattern=r"^A-[0-9]{4,8}$", description="CRM account id, e.g. A-2001")]
ContactId = Annotated[str, Field(pattern=r"^CT-[0-9]{4,8}$", description="CRM contact id, e.g. CT-3001")]
AccountStatus = Literal["prospect", "active", "on_hold", "churned"]
MaxResults = Annotated[int, Field(ge=1, le=200, description="stop after this many results")]


class GetAccount(ActionInput):
    account_id: AccountId


class Account(BaseModel):
    id: str
    name: str
    industry: str
    country: str = Field(description="ISO 3166-1 alpha-2 country code")
    # A plain string on the way out: a status the CRM adds later must not break reading accounts.
    status: str
    owner_email: str = Field(description="the account manager responsible for this account")
    annual_revenue_eur: int
    website: str
    ledger_customer_id: str | None = Field(description="the same company's customer id in the ledger/ERP")
    updated_at: datetime


class SearchAccounts(ActionInput):
    query: str | None = Field(default=None, max_length=100, description="part of the name or industry")
    status: AccountStatus | None = None
    max_results: MaxResults = 25


class AccountList(BaseModel):
    items: list[Account]
    truncated: bool = Field(description="true when more matches exist than max_results allowed")


class ListContacts(ActionInput):
    account_id: AccountId
    max_results: MaxResults = 50


class SearchContacts(ActionInput):
    query: str | None = Field(default=None, max_length=100, description="part of the name, title or e-mail")
    email: str | None = Field(default=None, max_length=254, description="exact e-mail address")
    max_results: MaxResults = 25


class Contact(BaseModel):
    id: str
    account_id: str
    first_name: str
    last_name: str
    email: str
    phone: str
    title: str
    is_primary: bool


class ContactList(BaseModel):
    items: list[Contact]
    truncated: bool = Field(description="true when more contacts exist than max_results allowed")


class ListNotes(ActionInput):
    account_id: AccountId
    max_results: MaxResults = 20


class Note(BaseModel):
    id: int
    account_id: str
    body: str
    created_by: str
    created_at: datetime


class NoteList(BaseModel):
    items: list[Note] = Field(description="newest first")
    truncated: bool = Field(description="true when older notes exist beyond max_results")


class AddNote(ActionInput):
    account_id: AccountId
    body: str = Field(min_length=1, max_length=4000, description="the note text, plain words")


class UpdateAccountStatus(ActionInput):
    account_id: AccountId
    status: AccountStatus


class DeleteContact(ActionInput):
    contact_id: ContactId


class DeletedContact(BaseModel):
    contact_id: str
    account_id: str
    deleted: bool
