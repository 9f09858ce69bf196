"""In-memory state of the demo CRM.

One `CrmState` per server. The app changes it on the server's thread while tests read it from
theirs, so every method takes the lock; nothing in here awaits, so the lock is never held across
a suspension point.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from legacy.admin import effects_by_kind
from legacy.crm.faults import FaultPlan, FaultSwitch
from legacy.crm.records import AccountRecord, ContactRecord, JsonObject, NoteRecord
from legacy.crm.seed import SEED_ACCOUNTS, SEED_CONTACTS, SEED_NOTES
from legacy.crm.tokens import TokenRegistry

#: The kinds of write the CRM counts, as `GET /_admin/effects` reports them.
WRITE_KINDS = ("notes", "status", "deleted_contacts")

DEFAULT_TOKEN_LIFETIME = 300


class NotFound(LookupError):
    """No such account or contact (never existed, or deleted)."""


class IdempotencyKeyReused(Exception):
    """An Idempotency-Key came back with a different request than the one it first came with."""

    def __init__(self, key: str) -> None:
        super().__init__(f"Idempotency-Key {key!r} was already used for a different request")


@dataclass(frozen=True)
class StoredResponse:
    """A write's first answer, replayed for every repeat of its Idempotency-Key."""

    status: int
    body: JsonObject
    fingerprint: str


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class CrmState:
    """Accounts, contacts, notes, the idempotency table, counters, tokens and the fault plan."""

    def __init__(
        self,
        accounts: Iterable[AccountRecord] = SEED_ACCOUNTS,
        contacts: Iterable[ContactRecord] = SEED_CONTACTS,
        notes: Iterable[NoteRecord] = SEED_NOTES,
        *,
        token_lifetime_seconds: int = DEFAULT_TOKEN_LIFETIME,
    ) -> None:
        # Re-entrant: `idempotent()` holds the lock while the write it wraps takes it again.
        self._lock = threading.RLock()
        self._seed = (tuple(replace(a) for a in accounts), tuple(contacts), tuple(notes))
        self.faults = FaultSwitch()
        self.tokens = TokenRegistry(token_lifetime_seconds)
        self.reset()

    def reset(self) -> None:
        """Seed data, no remembered keys, zero counters, no tokens, no faults."""
        accounts, contacts, notes = self._seed
        with self._lock:
            self._accounts = {a.id: replace(a) for a in accounts}
            self._contacts = {c.id: c for c in contacts}
            self._notes = list(notes)
            self._next_note_id = max((n.id for n in notes), default=0) + 1
            self._idempotency: dict[tuple[str, str], StoredResponse] = {}
            self._effects: Counter[tuple[str, str]] = Counter()  # (write kind, account id)
            self._replays = 0
            self._requests: Counter[str] = Counter()  # "METHOD /path"
        self.faults.set(FaultPlan())
        self.tokens.reset()

    # -- reads ---------------------------------------------------------------------------------

    def get_account(self, account_id: str) -> AccountRecord:
        with self._lock:
            return replace(self._account(account_id))

    def list_accounts(
        self, *, after: str | None, limit: int, status: str | None, query: str | None
    ) -> tuple[list[AccountRecord], bool]:
        """Accounts ordered by id after `after`, filtered; and whether more follow."""
        needle = (query or "").casefold()
        with self._lock:
            matching = [
                replace(a)
                for a in sorted(self._accounts.values(), key=lambda a: a.id)
                if (after is None or a.id > after)
                and (status is None or a.status == status)
                and (not needle or needle in a.name.casefold() or needle in a.industry.casefold())
            ]
        return matching[:limit], len(matching) > limit

    def contacts_of(self, account_id: str) -> list[ContactRecord]:
        with self._lock:
            self._account(account_id)
            return sorted(
                (c for c in self._contacts.values() if c.account_id == account_id), key=lambda c: c.id
            )

    def get_contact(self, contact_id: str) -> ContactRecord:
        with self._lock:
            contact = self._contacts.get(contact_id)
            if contact is None:
                raise NotFound(f"contact {contact_id!r} not found")
            return contact

    def search_contacts(self, *, query: str | None, email: str | None) -> list[ContactRecord]:
        needle = (query or "").casefold()
        with self._lock:
            return [
                c
                for c in sorted(self._contacts.values(), key=lambda c: c.id)
                if (email is None or c.email.casefold() == email.casefold())
                and (
                    not needle
                    or needle in f"{c.first_name} {c.last_name}".casefold()
                    or needle in c.title.casefold()
                    or needle in c.email.casefold()
                )
            ]

    def notes_of(self, account_id: str) -> list[NoteRecord]:
        """Newest first, as a CRM timeline shows them."""
        with self._lock:
            self._account(account_id)
            return sorted((n for n in self._notes if n.account_id == account_id), key=lambda n: -n.id)

    # -- writes: each one that lands counts as one effect on its account --------------------------

    def add_note(self, account_id: str, body: str, created_by: str) -> NoteRecord:
        with self._lock:
            self._account(account_id)
            note = NoteRecord(self._next_note_id, account_id, body, created_by, _now())
            self._next_note_id += 1
            self._notes.append(note)
            self._effects["notes", account_id] += 1
            return note

    def set_status(self, account_id: str, status: str) -> AccountRecord:
        with self._lock:
            account = self._account(account_id)
            account.status = status
            account.updated_at = _now()
            self._effects["status", account_id] += 1
            return replace(account)

    def delete_contact(self, contact_id: str) -> ContactRecord:
        with self._lock:
            contact = self.get_contact(contact_id)
            del self._contacts[contact_id]
            self._effects["deleted_contacts", contact.account_id] += 1
            return contact

    def idempotent(
        self, scope: str, key: str, fingerprint: str, apply: Callable[[], tuple[int, JsonObject]]
    ) -> tuple[StoredResponse, bool]:
        """Run `apply` once per (client, key); repeats get the stored answer. Returns (answer, replayed).

        Only writes that landed are remembered: if `apply` raises, nothing changed and a retry with
        the same key is judged afresh. Holding the lock across check-apply-store makes concurrent
        repeats of one key apply once.
        """
        with self._lock:
            stored = self._idempotency.get((scope, key))
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    raise IdempotencyKeyReused(key)
                self._replays += 1
                return stored, True
            status, body = apply()
            stored = StoredResponse(status, body, fingerprint)
            self._idempotency[scope, key] = stored
            return stored, False

    def stored_response(self, scope: str, key: str) -> StoredResponse | None:
        """The answer client `scope`'s write with `key` gave, if it landed (None: none landed).

        Takes the lock, so a write being applied under the key right now is waited for.
        """
        with self._lock:
            return self._idempotency.get((scope, key))

    # -- the control plane ---------------------------------------------------------------------

    def count_request(self, method: str, path: str) -> None:
        with self._lock:
            self._requests[f"{method} {path}"] += 1

    def requests(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._requests.items()))

    def effects_by_kind(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return effects_by_kind(self._effects, WRITE_KINDS)

    @property
    def replays(self) -> int:
        with self._lock:
            return self._replays

    def _account(self, account_id: str) -> AccountRecord:
        account = self._accounts.get(account_id)
        if account is None:
            raise NotFound(f"account {account_id!r} not found")
        return account
