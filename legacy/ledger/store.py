"""In-memory state of the demo ledger.

One `LedgerState` per server. The app changes it on the server's event-loop thread while tests read
it from their own thread, so every method takes the lock. Nothing in here awaits, so the lock is
never held across a suspension point and cannot stall the event loop for longer than a dict update.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from typing import Any

from legacy.admin import effects_by_kind

JsonObject = dict[str, Any]

#: The kinds of write the ledger counts, as reported by `GET /_admin/effects`.
WRITE_KINDS = ("credit_limit", "notes", "deleted")


class UnknownCustomer(LookupError):
    """No customer with that id (never existed, or deleted)."""

    def __init__(self, customer_id: str) -> None:
        super().__init__(f"customer {customer_id!r} not found")
        self.customer_id = customer_id


class IdempotencyKeyReused(Exception):
    """An Idempotency-Key came back with a different request than the one it was first used for."""

    def __init__(self, key: str) -> None:
        super().__init__(f"Idempotency-Key {key!r} was already used for a different request")
        self.key = key


@dataclass
class CustomerRecord:
    id: str
    name: str
    credit_limit: Decimal
    balance: Decimal
    currency: str

    def to_json(self) -> JsonObject:
        # Money travels as strings with two decimals, like most ledgers' APIs: no float rounding.
        return {
            "id": self.id,
            "name": self.name,
            "credit_limit": f"{self.credit_limit:.2f}",
            "balance": f"{self.balance:.2f}",
            "currency": self.currency,
        }


@dataclass(frozen=True)
class NoteRecord:
    id: int
    customer_id: str
    text: str

    def to_json(self) -> JsonObject:
        return asdict(self)


@dataclass(frozen=True)
class StoredResponse:
    """What a write answered the first time, replayed for every repeat of its Idempotency-Key."""

    status: int
    body: JsonObject
    fingerprint: str  # of the original request, to refuse a key reused for something else


@dataclass
class FaultPlan:
    """Faults the next requests will meet; `POST /_admin/faults` replaces it as a whole."""

    fail_next: int = 0  # the next N requests answer `status` without being processed
    status: int = 503
    retry_after: int | None = None  # seconds, sent as `Retry-After` with the injected failures
    latency_ms: int = 0  # added to every request until the plan changes
    drop_next: int = 0  # the next N requests lose their connection without a complete response
    drop_after_apply: bool = False  # drop after processing: the effect lands, the answer is lost
    # The next N writes are applied, then their answer is held for `hold_ms`: a caller that dies
    # meanwhile (a killed worker) leaves an effect behind that only an idempotency key can pair
    # with its retry. Reads are never held.
    hold_next: int = 0
    hold_ms: int = 0

    def to_json(self) -> JsonObject:
        return asdict(self)


@dataclass(frozen=True)
class WriteReceipt:
    """One write as the ledger received it, for `GET /_admin/writes` (timing and replays)."""

    method: str
    path: str
    idempotency_key: str | None
    received_at: float  # unix time, seconds
    replayed: bool

    def to_json(self) -> JsonObject:
        return asdict(self)


@dataclass(frozen=True)
class PlannedFault:
    """What the fault plan does to one incoming request."""

    latency_ms: int = 0
    drop: bool = False
    drop_after_apply: bool = False
    fail_status: int | None = None
    retry_after: int | None = None


SEED_CUSTOMERS: tuple[CustomerRecord, ...] = (
    CustomerRecord("C-1001", "Nordwind Logistik GmbH", Decimal("50000.00"), Decimal("12450.75"), "EUR"),
    CustomerRecord(
        "C-1002", "Harbor & Pine Distributors Ltd", Decimal("25000.00"), Decimal("8730.10"), "GBP"
    ),
    CustomerRecord(
        "C-1003", "Atlas Industrial Supply Inc.", Decimal("120000.00"), Decimal("98412.33"), "USD"
    ),
    CustomerRecord("C-1004", "Fratelli Rossi S.p.A.", Decimal("15000.00"), Decimal("0.00"), "EUR"),
    CustomerRecord("C-1005", "Kestrel Medical Devices AB", Decimal("400000.00"), Decimal("156200.00"), "SEK"),
    # Close to its limit: the natural candidate for a credit-limit review in the demo.
    CustomerRecord("C-1006", "Van Dijk Bouwmaterialen B.V.", Decimal("75000.00"), Decimal("74980.50"), "EUR"),
    # Already over its limit, as happens in real ledgers after a late payment run.
    CustomerRecord("C-1007", "Summit Office Solutions LLC", Decimal("10000.00"), Decimal("10450.00"), "USD"),
    CustomerRecord("C-1008", "Alpenglow Hotels AG", Decimal("30000.00"), Decimal("4120.40"), "CHF"),
)


class LedgerState:
    """Customers, notes, the idempotency table, applied-write counts and the fault plan."""

    def __init__(self, customers: Iterable[CustomerRecord] = SEED_CUSTOMERS) -> None:
        # Re-entrant because `idempotent()` holds the lock while the write it wraps takes it again.
        self._lock = threading.RLock()
        self._seed = tuple(replace(c) for c in customers)
        self.reset()

    def reset(self) -> None:
        """Back to the seed data with no notes, no remembered keys, no effects and no faults."""
        with self._lock:
            self._customers = {c.id: replace(c) for c in self._seed}
            self._notes: list[NoteRecord] = []
            self._idempotency: dict[str, StoredResponse] = {}
            self._effects: Counter[tuple[str, str]] = Counter()  # (write kind, customer id)
            self._replays = 0
            self._faults = FaultPlan()
            self._writes: list[WriteReceipt] = []

    # -- reads ---------------------------------------------------------------------------------

    def get_customer(self, customer_id: str) -> CustomerRecord:
        with self._lock:
            return replace(self._existing(customer_id))

    def list_customers(self, *, offset: int, limit: int) -> tuple[list[CustomerRecord], int]:
        """One page of customers ordered by id, and the total count."""
        with self._lock:
            ordered = sorted(self._customers.values(), key=lambda c: c.id)
            return [replace(c) for c in ordered[offset : offset + limit]], len(ordered)

    def notes_of(self, customer_id: str) -> list[NoteRecord]:
        with self._lock:
            self._existing(customer_id)
            return [n for n in self._notes if n.customer_id == customer_id]

    # -- writes: each one that lands counts as one effect on its customer ----------------------

    def set_credit_limit(self, customer_id: str, credit_limit: Decimal) -> CustomerRecord:
        with self._lock:
            customer = self._existing(customer_id)
            customer.credit_limit = credit_limit
            self._effects["credit_limit", customer_id] += 1
            return replace(customer)

    def add_note(self, customer_id: str, text: str) -> NoteRecord:
        with self._lock:
            self._existing(customer_id)
            note = NoteRecord(id=len(self._notes) + 1, customer_id=customer_id, text=text)
            self._notes.append(note)
            self._effects["notes", customer_id] += 1
            return note

    def delete_customer(self, customer_id: str) -> None:
        with self._lock:
            self._existing(customer_id)
            del self._customers[customer_id]
            self._effects["deleted", customer_id] += 1

    def idempotent(
        self, key: str, fingerprint: str, apply: Callable[[], tuple[int, JsonObject]]
    ) -> tuple[StoredResponse, bool]:
        """Run `apply` once per key; later calls with the key get the stored response back.

        Returns the response and whether it was a replay. Only responses of writes that landed are
        stored: when `apply` raises (unknown customer, say) nothing changed, so a retry with the same
        key is evaluated afresh. Holding the lock across check-apply-store makes concurrent repeats
        of one key apply once.
        """
        with self._lock:
            stored = self._idempotency.get(key)
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    raise IdempotencyKeyReused(key)
                self._replays += 1
                return stored, True
            status, body = apply()
            stored = StoredResponse(status=status, body=body, fingerprint=fingerprint)
            self._idempotency[key] = stored
            return stored, False

    def stored_response(self, key: str) -> StoredResponse | None:
        """The answer a write with `key` gave, if it landed; None when no write under it landed.

        Takes the lock, so a write being applied under the key right now is waited for.
        """
        with self._lock:
            return self._idempotency.get(key)

    # -- the control plane ---------------------------------------------------------------------

    def effects(self) -> dict[str, int]:
        """Applied writes of any kind per customer id (customers with none are left out)."""
        totals: Counter[str] = Counter()
        with self._lock:
            for (_, customer_id), count in self._effects.items():
                totals[customer_id] += count
        return dict(sorted(totals.items()))

    def effects_by_kind(self) -> dict[str, dict[str, int]]:
        """Applied writes per kind, then per customer id; every kind is present, maybe empty."""
        with self._lock:
            return effects_by_kind(self._effects, WRITE_KINDS)

    @property
    def replays(self) -> int:
        """How many writes were answered from the idempotency table instead of applied again."""
        with self._lock:
            return self._replays

    @property
    def faults(self) -> FaultPlan:
        with self._lock:
            return replace(self._faults)

    def set_faults(self, plan: FaultPlan) -> None:
        with self._lock:
            self._faults = replace(plan)

    def log_write(self, receipt: WriteReceipt) -> None:
        with self._lock:
            self._writes.append(receipt)

    def writes(self) -> list[WriteReceipt]:
        """Every write received since the last reset, oldest first (replays included)."""
        with self._lock:
            return list(self._writes)

    def next_hold(self) -> int:
        """Consume the plan's hold for one write: how long to hold its answer, in ms (0: none)."""
        with self._lock:
            if self._faults.hold_next <= 0:
                return 0
            self._faults.hold_next -= 1
            return self._faults.hold_ms

    def next_fault(self) -> PlannedFault:
        """Consume the plan for one request: a drop wins over an injected status."""
        with self._lock:
            plan = self._faults
            if plan.drop_next > 0:
                plan.drop_next -= 1
                return PlannedFault(
                    latency_ms=plan.latency_ms, drop=True, drop_after_apply=plan.drop_after_apply
                )
            if plan.fail_next > 0:
                plan.fail_next -= 1
                return PlannedFault(
                    latency_ms=plan.latency_ms,
                    fail_status=plan.status,
                    retry_after=plan.retry_after,
                )
            return PlannedFault(latency_ms=plan.latency_ms)

    def _existing(self, customer_id: str) -> CustomerRecord:
        customer = self._customers.get(customer_id)
        if customer is None:
            raise UnknownCustomer(customer_id)
        return customer
