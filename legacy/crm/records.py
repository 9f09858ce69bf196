"""The demo CRM's records, as its API renders them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

JsonObject = dict[str, Any]

#: The lifecycle an account moves through; the API refuses anything else.
ACCOUNT_STATUSES = ("prospect", "active", "on_hold", "churned")


@dataclass
class AccountRecord:
    id: str
    name: str
    industry: str
    country: str  # ISO 3166-1 alpha-2
    status: str
    owner_email: str
    annual_revenue_eur: int
    website: str
    ledger_customer_id: str | None
    updated_at: str  # ISO 8601, UTC

    def to_json(self) -> JsonObject:
        return asdict(self)


@dataclass(frozen=True)
class ContactRecord:
    id: str
    account_id: str
    first_name: str
    last_name: str
    email: str
    phone: str
    title: str
    is_primary: bool

    def to_json(self) -> JsonObject:
        return asdict(self)


@dataclass(frozen=True)
class NoteRecord:
    id: int
    account_id: str
    body: str
    created_by: str
    created_at: str

    def to_json(self) -> JsonObject:
        return asdict(self)
