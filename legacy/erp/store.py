"""In-memory state of the demo ERP: customers, invoices, payments, idempotency and faults.

Dates are relative to the server's clock, so the seed always has invoices that are current,
due soon and overdue by various amounts. Like the ledger, one lock guards everything: the app
changes state on the server's event-loop thread while tests read it from theirs, and nothing
here awaits, so the lock is never held across a suspension point.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from legacy.admin import effects_by_kind

CENT = Decimal("0.01")

#: The kinds of write the ERP counts, as reported by `GET /_admin/effects`.
WRITE_KINDS = ("payments", "reversals", "voids")


class InvoiceStatus(StrEnum):
    OPEN = "OPEN"
    PARTIALLY_PAID = "PARTIALLY_PAID"
    PAID = "PAID"
    VOID = "VOID"


class PaymentStatus(StrEnum):
    APPLIED = "APPLIED"
    REVERSED = "REVERSED"


class ErpRefusal(Exception):
    """The ERP refuses a request; the app answers it as a soap:Client fault with this code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class CustomerRecord:
    id: str
    name: str
    email: str
    currency: str
    credit_limit: Decimal
    payment_terms_days: int
    lang: str


@dataclass
class InvoiceRecord:
    id: str
    customer_id: str
    issue_date: date
    due_date: date
    currency: str
    amount: Decimal
    amount_paid: Decimal = Decimal("0.00")
    voided: bool = False
    void_reason: str | None = None

    @property
    def amount_due(self) -> Decimal:
        return Decimal("0.00") if self.voided else self.amount - self.amount_paid

    @property
    def status(self) -> InvoiceStatus:
        if self.voided:
            return InvoiceStatus.VOID
        if self.amount_due <= 0:
            return InvoiceStatus.PAID
        return InvoiceStatus.PARTIALLY_PAID if self.amount_paid > 0 else InvoiceStatus.OPEN

    def days_overdue(self, today: date) -> int:
        if self.status in (InvoiceStatus.VOID, InvoiceStatus.PAID):
            return 0
        return max((today - self.due_date).days, 0)


@dataclass
class PaymentRecord:
    id: str
    invoice_id: str
    amount: Decimal
    currency: str
    payment_date: date
    reference: str | None
    status: PaymentStatus = PaymentStatus.APPLIED


@dataclass(frozen=True)
class StoredAnswer:
    """The first answer to a write, replayed for every repeat of its idempotency key."""

    body: bytes
    fingerprint: str  # of the original request, to refuse a key reused for something else


@dataclass
class FaultPlan:
    """Faults the next business requests meet; `POST /_admin/faults` replaces it as a whole."""

    fail_next: int = 0  # the next N requests fail without being processed...
    failure: str = "soap_fault"  # ...with a soap:Server fault ("soap_fault") or a bare HTTP status ("http")
    status: int = 503  # the status of "http" failures
    retry_after: int | None = None  # seconds, sent as Retry-After with injected failures
    latency_ms: int = 0  # added to every business request until the plan changes
    drop_next: int = 0  # the next N requests lose their connection without an answer
    drop_after_apply: bool = False  # drop after processing: the effect lands, the answer is lost

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PlannedFault:
    latency_ms: int = 0
    drop: bool = False
    drop_after_apply: bool = False
    failure: str | None = None  # "soap_fault" or "http"
    status: int = 503
    retry_after: int | None = None


@dataclass(frozen=True)
class SeedInvoice:
    customer_id: str
    issued_days_ago: int
    amount: str
    paid: str = "0.00"


_CUSTOMER_ROWS = (
    # id, name, accounts-payable address, currency, credit limit, payment terms (days), language
    ("C-1001", "Nordwind Logistik GmbH", "ap@nordwind.example", "EUR", "50000.00", 30, "de"),
    ("C-1002", "Harbor & Pine Distributors Ltd", "accounts@harborpine.example", "GBP", "25000.00", 30, "en"),
    ("C-1003", "Atlas Industrial Supply Inc.", "payables@atlas.example", "USD", "120000.00", 45, "en"),
    ("C-1004", "Fratelli Rossi S.p.A.", "amministrazione@rossi.example", "EUR", "15000.00", 60, "it"),
    ("C-1005", "Kestrel Medical Devices AB", "ekonomi@kestrelmed.example", "SEK", "400000.00", 30, "sv"),
    ("C-1006", "Van Dijk Bouwmaterialen B.V.", "crediteuren@vandijk.example", "EUR", "75000.00", 30, "nl"),
    ("C-1007", "Summit Office Solutions LLC", "ap@summitoffice.example", "USD", "10000.00", 15, "en"),
    ("C-1008", "Alpenglow Hotels AG", "buchhaltung@alpenglow.example", "CHF", "30000.00", 30, "de"),
    ("C-1009", "Maison Lefèvre SARL", "compta@maisonlefevre.example", "EUR", "20000.00", 45, "fr"),
    ("C-1010", "Pacific Rim Foods Pty Ltd", "accounts@pacificrim.example", "AUD", "60000.00", 30, "en"),
)
SEED_CUSTOMERS: tuple[CustomerRecord, ...] = tuple(
    CustomerRecord(id_, name, email, currency, Decimal(limit), terms, lang)
    for id_, name, email, currency, limit, terms, lang in _CUSTOMER_ROWS
)

# Issued N days ago with the customer's payment terms: with 30-day terms, anything issued more
# than 30 days ago and not fully paid is overdue. Amounts are in the customer's currency.
SEED_INVOICES: tuple[SeedInvoice, ...] = (
    SeedInvoice("C-1001", 75, "8450.00", "8450.00"),
    SeedInvoice("C-1001", 40, "3120.75"),
    SeedInvoice("C-1001", 12, "9330.00"),
    SeedInvoice("C-1002", 95, "4200.00", "2000.00"),
    SeedInvoice("C-1002", 20, "4530.10"),
    SeedInvoice("C-1002", 3, "1275.00"),
    SeedInvoice("C-1003", 120, "15000.00", "15000.00"),
    SeedInvoice("C-1003", 70, "38412.33"),
    SeedInvoice("C-1003", 50, "25000.00", "10000.00"),
    SeedInvoice("C-1003", 8, "35000.00"),
    SeedInvoice("C-1004", 30, "2750.00", "2750.00"),
    SeedInvoice("C-1004", 10, "1980.40"),
    SeedInvoice("C-1005", 65, "56200.00"),
    SeedInvoice("C-1005", 33, "100000.00", "40000.00"),
    SeedInvoice("C-1005", 2, "64500.00"),
    SeedInvoice("C-1006", 58, "24980.50"),
    SeedInvoice("C-1006", 36, "30000.00"),
    SeedInvoice("C-1006", 15, "20000.00"),
    SeedInvoice("C-1007", 44, "6450.00"),
    SeedInvoice("C-1007", 21, "4000.00"),
    SeedInvoice("C-1007", 5, "1299.99"),
    SeedInvoice("C-1008", 90, "7800.00", "7800.00"),
    SeedInvoice("C-1008", 25, "4120.40"),
    SeedInvoice("C-1009", 100, "5600.00", "5600.00"),
    SeedInvoice("C-1009", 52, "3275.90"),
    SeedInvoice("C-1009", 18, "2150.00"),
    SeedInvoice("C-1010", 48, "12800.00", "6400.00"),
    SeedInvoice("C-1010", 31, "9990.00"),
    SeedInvoice("C-1010", 14, "15400.00"),
    SeedInvoice("C-1010", 1, "7325.60"),
)


class ErpState:
    """Customers, invoices, payments, the idempotency table, applied-write counts and faults."""

    def __init__(
        self,
        *,
        customers: Iterable[CustomerRecord] = SEED_CUSTOMERS,
        invoices: Iterable[SeedInvoice] = SEED_INVOICES,
        clock: Callable[[], date] = date.today,
    ) -> None:
        self._lock = threading.RLock()  # re-entrant: `idempotent()` holds it around the write
        self._clock = clock
        self._seed_customers = tuple(customers)
        self._seed_invoices = tuple(invoices)
        self.reset()

    def reset(self) -> None:
        """Back to the seed, dated from today, with no payments, keys, effects or faults."""
        with self._lock:
            today = self._clock()
            self._customers = {c.id: c for c in self._seed_customers}
            self._invoices: dict[str, InvoiceRecord] = {}
            for number, seed in enumerate(self._seed_invoices, start=1):
                customer = self._customers[seed.customer_id]
                issued = today - timedelta(days=seed.issued_days_ago)
                invoice_id = f"INV-{10000 + number}"
                self._invoices[invoice_id] = InvoiceRecord(
                    id=invoice_id,
                    customer_id=customer.id,
                    issue_date=issued,
                    due_date=issued + timedelta(days=customer.payment_terms_days),
                    currency=customer.currency,
                    amount=Decimal(seed.amount),
                    amount_paid=Decimal(seed.paid),
                )
            self._payments: dict[str, PaymentRecord] = {}
            self._answers: dict[str, StoredAnswer] = {}
            self._effects: Counter[tuple[str, str]] = Counter()  # (kind, invoice id)
            self._replays = 0
            self._faults = FaultPlan()

    @property
    def today(self) -> date:
        return self._clock()

    # -- reads ---------------------------------------------------------------------------------

    def customer(self, customer_id: str) -> CustomerRecord:
        with self._lock:
            found = self._customers.get(customer_id)
            if found is None:
                raise ErpRefusal("UNKNOWN_CUSTOMER", f"customer {customer_id!r} not found")
            return found

    def balances(self, customer_id: str) -> tuple[Decimal, Decimal]:
        """What the customer owes in total, and how much of it is overdue."""
        with self._lock:
            today = self._clock()
            open_items = [i for i in self._invoices.values() if i.customer_id == customer_id]
            balance = sum((i.amount_due for i in open_items), Decimal("0.00"))
            overdue = sum((i.amount_due for i in open_items if i.days_overdue(today) > 0), Decimal("0.00"))
            return balance, overdue

    def invoice(self, invoice_id: str) -> InvoiceRecord:
        with self._lock:
            return replace(self._existing_invoice(invoice_id))

    def list_invoices(
        self,
        *,
        customer_id: str | None,
        status: InvoiceStatus | None,
        overdue_only: bool,
        offset: int,
        limit: int,
    ) -> tuple[list[InvoiceRecord], int]:
        """One page of matching invoices (oldest due date first) and the number of matches."""
        with self._lock:
            if customer_id is not None:
                self.customer(customer_id)
            today = self._clock()
            matches = [
                i
                for i in self._invoices.values()
                if (customer_id is None or i.customer_id == customer_id)
                and (status is None or i.status == status)
                and (not overdue_only or i.days_overdue(today) > 0)
            ]
            matches.sort(key=lambda i: (i.due_date, i.id))
            return [replace(i) for i in matches[offset : offset + limit]], len(matches)

    def payment(self, payment_id: str) -> PaymentRecord:
        with self._lock:
            found = self._payments.get(payment_id)
            if found is None:
                raise ErpRefusal("UNKNOWN_PAYMENT", f"payment {payment_id!r} not found")
            return replace(found)

    # -- writes: each one that lands counts as one effect on its invoice -----------------------

    def record_payment(
        self, invoice_id: str, amount: Decimal, payment_date: date | None, reference: str | None
    ) -> PaymentRecord:
        with self._lock:
            invoice = self._existing_invoice(invoice_id)
            if invoice.voided:
                raise ErpRefusal("INVOICE_VOID", f"invoice {invoice_id} is void and takes no payments")
            if amount <= 0:
                raise ErpRefusal("INVALID_AMOUNT", "amount must be greater than zero")
            if amount > invoice.amount_due:
                raise ErpRefusal(
                    "OVERPAYMENT",
                    f"amount {amount} exceeds the {invoice.amount_due} {invoice.currency} due on {invoice_id}",
                )
            invoice.amount_paid += amount
            payment = PaymentRecord(
                id=f"PAY-{len(self._payments) + 1:06d}",
                invoice_id=invoice_id,
                amount=amount,
                currency=invoice.currency,
                payment_date=payment_date or self._clock(),
                reference=reference,
            )
            self._payments[payment.id] = payment
            self._effects["payments", invoice_id] += 1
            return replace(payment)

    def reverse_payment(self, payment_id: str) -> PaymentRecord:
        with self._lock:
            payment = self._payments.get(payment_id)
            if payment is None:
                raise ErpRefusal("UNKNOWN_PAYMENT", f"payment {payment_id!r} not found")
            if payment.status is PaymentStatus.REVERSED:
                raise ErpRefusal("ALREADY_REVERSED", f"payment {payment_id} is already reversed")
            invoice = self._invoices[payment.invoice_id]
            invoice.amount_paid -= payment.amount
            payment.status = PaymentStatus.REVERSED
            self._effects["reversals", payment.invoice_id] += 1
            return replace(payment)

    def void_invoice(self, invoice_id: str, reason: str) -> InvoiceRecord:
        with self._lock:
            invoice = self._existing_invoice(invoice_id)
            if invoice.voided:
                raise ErpRefusal("INVOICE_VOID", f"invoice {invoice_id} is already void")
            if invoice.amount_paid > 0:
                raise ErpRefusal(
                    "INVOICE_HAS_PAYMENTS", f"invoice {invoice_id} has payments; reverse them before voiding"
                )
            invoice.voided = True
            invoice.void_reason = reason
            self._effects["voids", invoice_id] += 1
            return replace(invoice)

    def idempotent(self, key: str, fingerprint: str, apply: Callable[[], bytes]) -> tuple[bytes, bool]:
        """Run `apply` once per key; repeats get the stored answer back. Returns (answer, replayed).

        Only answers of writes that landed are stored: a refusal changed nothing, so a retry with
        the key is judged afresh. Holding the lock across check-apply-store makes concurrent
        repeats of one key apply once.
        """
        with self._lock:
            stored = self._answers.get(key)
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    raise ErpRefusal(
                        "IDEMPOTENCY_KEY_REUSED", f"idempotency key {key!r} was used for a different request"
                    )
                self._replays += 1
                return stored.body, True
            body = apply()
            self._answers[key] = StoredAnswer(body=body, fingerprint=fingerprint)
            return body, False

    # -- the control plane ---------------------------------------------------------------------

    def effects(self) -> dict[str, Any]:
        """Applied writes per kind and invoice, their total, and how many repeats were replayed."""
        with self._lock:
            by_kind = effects_by_kind(self._effects, WRITE_KINDS)
            return {**by_kind, "total": sum(self._effects.values()), "replays": self._replays}

    @property
    def faults(self) -> FaultPlan:
        with self._lock:
            return replace(self._faults)

    def set_faults(self, plan: FaultPlan) -> None:
        with self._lock:
            self._faults = replace(plan)

    def next_fault(self) -> PlannedFault:
        """Consume the plan for one request: a drop wins over an injected failure."""
        with self._lock:
            plan = self._faults
            if plan.drop_next > 0:
                plan.drop_next -= 1
                return PlannedFault(plan.latency_ms, drop=True, drop_after_apply=plan.drop_after_apply)
            if plan.fail_next > 0:
                plan.fail_next -= 1
                return PlannedFault(
                    plan.latency_ms, failure=plan.failure, status=plan.status, retry_after=plan.retry_after
                )
            return PlannedFault(plan.latency_ms)

    def _existing_invoice(self, invoice_id: str) -> InvoiceRecord:
        found = self._invoices.get(invoice_id)
        if found is None:
            raise ErpRefusal("UNKNOWN_INVOICE", f"invoice {invoice_id!r} not found")
        return found
