"""The demo ERP's operations: read a request payload, act on the state, build the answer payload.

Each handler validates its input strictly (a real ERP would too) and raises a soap:Client
fault with a detail code for anything it refuses. Writes (RecordPayment, ReversePayment,
VoidInvoice) go through the idempotency table when the request carries an idempotencyKey.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no stubs

from legacy.erp.envelopes import add_child, child_text, client_fault, erp_element, response_envelope
from legacy.erp.store import (
    CENT,
    CustomerRecord,
    ErpRefusal,
    ErpState,
    InvoiceRecord,
    InvoiceStatus,
    PaymentRecord,
)

_MAX_PAGE_SIZE = 100
_MAX_TEXT = 500
_MAX_AMOUNT = Decimal("99999999.99")


class ErpOperations:
    """Dispatches a request payload to its handler; answers are complete response envelopes."""

    def __init__(self, state: ErpState) -> None:
        self._state = state
        self._handlers: dict[str, Callable[[etree._Element], bytes]] = {
            "GetCustomer": self.get_customer,
            "ListInvoices": self.list_invoices,
            "GetInvoice": self.get_invoice,
            "RecordPayment": self.record_payment,
            "ReversePayment": self.reverse_payment,
            "VoidInvoice": self.void_invoice,
        }

    def handle(self, operation: str, payload: etree._Element) -> bytes:
        handler = self._handlers.get(operation)
        if handler is None:
            raise client_fault(f"unknown operation {operation!r}", "UNKNOWN_OPERATION")
        try:
            return handler(payload)
        except ErpRefusal as refusal:
            raise client_fault(refusal.message, refusal.code) from None

    # -- reads ---------------------------------------------------------------------------------

    def get_customer(self, payload: etree._Element) -> bytes:
        customer = self._state.customer(_required(payload, "customerId"))
        answer = erp_element("GetCustomerResponse")
        answer.append(self._customer_element(customer))
        return response_envelope(answer)

    def list_invoices(self, payload: etree._Element) -> bytes:
        status_text = child_text(payload, "status")
        try:
            status = InvoiceStatus(status_text) if status_text else None
        except ValueError:
            raise client_fault(
                f"status must be one of {', '.join(s.value for s in InvoiceStatus)}", "INVALID_ARGUMENT"
            ) from None
        page = _integer(payload, "page", default=1, minimum=1, maximum=1_000_000)
        page_size = _integer(payload, "pageSize", default=20, minimum=1, maximum=_MAX_PAGE_SIZE)
        invoices, total = self._state.list_invoices(
            customer_id=child_text(payload, "customerId") or None,
            status=status,
            overdue_only=_boolean(payload, "overdueOnly"),
            offset=(page - 1) * page_size,
            limit=page_size,
        )
        answer = erp_element("ListInvoicesResponse")
        for invoice in invoices:
            answer.append(self._invoice_element(invoice, "invoices"))
        add_child(answer, "page", page)
        add_child(answer, "pageSize", page_size)
        add_child(answer, "total", total)
        add_child(answer, "nextPage", page + 1 if page * page_size < total else None)
        return response_envelope(answer)

    def get_invoice(self, payload: etree._Element) -> bytes:
        invoice = self._state.invoice(_required(payload, "invoiceId"))
        answer = erp_element("GetInvoiceResponse")
        answer.append(self._invoice_element(invoice, "invoice"))
        return response_envelope(answer)

    # -- writes --------------------------------------------------------------------------------

    def record_payment(self, payload: etree._Element) -> bytes:
        invoice_id = _required(payload, "invoiceId")
        amount = _money(payload, "amount")
        payment_date = _date(payload, "paymentDate")
        reference = _optional_text(payload, "reference")

        def apply() -> bytes:
            payment = self._state.record_payment(invoice_id, amount, payment_date, reference)
            return self._payment_answer("RecordPaymentResponse", payment)

        return self._write(payload, "RecordPayment", apply)

    def reverse_payment(self, payload: etree._Element) -> bytes:
        payment_id = _required(payload, "paymentId")
        _required(payload, "reason")  # kept by a real ERP's audit log; required here like there

        def apply() -> bytes:
            payment = self._state.reverse_payment(payment_id)
            return self._payment_answer("ReversePaymentResponse", payment)

        return self._write(payload, "ReversePayment", apply)

    def void_invoice(self, payload: etree._Element) -> bytes:
        invoice_id = _required(payload, "invoiceId")
        reason = _required(payload, "reason")

        def apply() -> bytes:
            invoice = self._state.void_invoice(invoice_id, reason)
            answer = erp_element("VoidInvoiceResponse")
            answer.append(self._invoice_element(invoice, "invoice"))
            return response_envelope(answer)

        return self._write(payload, "VoidInvoice", apply)

    def _write(self, payload: etree._Element, operation: str, apply: Callable[[], bytes]) -> bytes:
        key = child_text(payload, "idempotencyKey")
        if key is None:
            return apply()  # without a key every request is a new write, as in many real ERPs
        if not 0 < len(key) <= 255:
            raise client_fault("idempotencyKey must be 1 to 255 characters", "INVALID_ARGUMENT")
        answer, _replayed = self._state.idempotent(key, _fingerprint(operation, payload), apply)
        return answer

    # -- answers -------------------------------------------------------------------------------

    def _customer_element(self, customer: CustomerRecord) -> etree._Element:
        balance, overdue = self._state.balances(customer.id)
        element = erp_element("customer")
        element.set("{http://www.w3.org/XML/1998/namespace}lang", customer.lang)
        add_child(element, "id", customer.id)
        add_child(element, "name", customer.name)
        add_child(element, "email", customer.email)
        add_child(element, "currency", customer.currency)
        add_child(element, "creditLimit", _money_text(customer.credit_limit))
        add_child(element, "balance", _money_text(balance))
        add_child(element, "overdueBalance", _money_text(overdue))
        add_child(element, "paymentTermsDays", customer.payment_terms_days)
        return element

    def _invoice_element(self, invoice: InvoiceRecord, name: str) -> etree._Element:
        days_overdue = invoice.days_overdue(self._state.today)
        element = erp_element(name)
        add_child(element, "id", invoice.id)
        add_child(element, "customerId", invoice.customer_id)
        add_child(element, "issueDate", invoice.issue_date.isoformat())
        add_child(element, "dueDate", invoice.due_date.isoformat())
        add_child(element, "currency", invoice.currency)
        add_child(element, "amount", _money_text(invoice.amount))
        add_child(element, "amountPaid", _money_text(invoice.amount_paid))
        add_child(element, "amountDue", _money_text(invoice.amount_due))
        add_child(element, "status", invoice.status.value)
        add_child(element, "overdue", days_overdue > 0)
        add_child(element, "daysOverdue", days_overdue)
        add_child(element, "voidReason", invoice.void_reason)
        return element

    def _payment_answer(self, response: str, payment: PaymentRecord) -> bytes:
        invoice = self._state.invoice(payment.invoice_id)
        element = erp_element("payment")
        add_child(element, "id", payment.id)
        add_child(element, "invoiceId", payment.invoice_id)
        add_child(element, "amount", _money_text(payment.amount))
        add_child(element, "currency", payment.currency)
        add_child(element, "paymentDate", payment.payment_date.isoformat())
        add_child(element, "reference", payment.reference)
        add_child(element, "status", payment.status.value)
        add_child(element, "invoiceStatus", invoice.status.value)
        add_child(element, "invoiceAmountDue", _money_text(invoice.amount_due))
        answer = erp_element(response)
        answer.append(element)
        return response_envelope(answer)


# -- reading arguments ----------------------------------------------------------------------------


def _required(payload: etree._Element, name: str) -> str:
    value = child_text(payload, name)
    if not value:
        raise client_fault(f"{name} is required", "INVALID_ARGUMENT")
    if len(value) > _MAX_TEXT:
        raise client_fault(f"{name} must be at most {_MAX_TEXT} characters", "INVALID_ARGUMENT")
    return value


def _optional_text(payload: etree._Element, name: str) -> str | None:
    value = child_text(payload, name)
    if value and len(value) > _MAX_TEXT:
        raise client_fault(f"{name} must be at most {_MAX_TEXT} characters", "INVALID_ARGUMENT")
    return value or None


def _money(payload: etree._Element, name: str) -> Decimal:
    raw = _required(payload, name)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise client_fault(f"{name} {raw[:30]!r} is not a decimal number", "INVALID_ARGUMENT") from None
    exponent = value.as_tuple().exponent
    if not value.is_finite() or not isinstance(exponent, int) or exponent < -2:
        raise client_fault(f"{name} allows at most two decimal places", "INVALID_ARGUMENT")
    if not 0 < value <= _MAX_AMOUNT:
        raise client_fault(f"{name} must be between 0.01 and {_MAX_AMOUNT}", "INVALID_AMOUNT")
    return value.quantize(CENT)


def _integer(payload: etree._Element, name: str, *, default: int, minimum: int, maximum: int) -> int:
    raw = child_text(payload, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise client_fault(f"{name} must be an integer, got {raw[:20]!r}", "INVALID_ARGUMENT") from None
    if not minimum <= value <= maximum:
        raise client_fault(f"{name} must be between {minimum} and {maximum}", "INVALID_ARGUMENT")
    return value


def _boolean(payload: etree._Element, name: str) -> bool:
    raw = child_text(payload, name)
    if raw in (None, "false", "0"):
        return False
    if raw in ("true", "1"):
        return True
    raise client_fault(f"{name} must be true or false", "INVALID_ARGUMENT")


def _date(payload: etree._Element, name: str) -> date | None:
    raw = child_text(payload, name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise client_fault(f"{name} must be a date (YYYY-MM-DD)", "INVALID_ARGUMENT") from None


def _money_text(value: Decimal) -> str:
    return f"{value.quantize(CENT)}"


def _fingerprint(operation: str, payload: etree._Element) -> str:
    """Identifies "the same request" for a reused key: the operation and its canonical arguments."""
    canonical = etree.tostring(payload, method="c14n")
    return hashlib.sha256(operation.encode() + b"\0" + canonical).hexdigest()
