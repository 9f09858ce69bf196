"""Typed inputs and outputs of the ERP connector.

Pure pydantic on purpose: workflows import this module, so it must stay free of I/O libraries.
Field names are the snake_case forms of the WSDL's elements (`customerId` -> `customer_id`);
`tests/integration/test_erp_connector.py` checks them against the live WSDL.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field

from retrofit.sdk.action import ActionInput

_ID = r"^[A-Za-z0-9_-]+$"


class InvoiceStatus(StrEnum):
    OPEN = "OPEN"
    PARTIALLY_PAID = "PARTIALLY_PAID"
    PAID = "PAID"
    VOID = "VOID"


class PaymentStatus(StrEnum):
    APPLIED = "APPLIED"
    REVERSED = "REVERSED"


class GetCustomer(ActionInput):
    customer_id: str = Field(min_length=1, max_length=32, pattern=_ID, description="e.g. C-1006")


class ErpCustomer(BaseModel):
    id: str
    name: str
    email: str | None = None
    currency: str
    credit_limit: Decimal
    balance: Decimal = Field(description="everything the customer owes, in its currency")
    overdue_balance: Decimal = Field(description="the part of the balance that is past due")
    payment_terms_days: int
    lang: str | None = Field(default=None, description="language for correspondence (xml:lang)")


class ListInvoices(ActionInput):
    customer_id: str | None = Field(
        default=None, min_length=1, max_length=32, pattern=_ID, description="only this customer's invoices"
    )
    status: InvoiceStatus | None = None
    overdue_only: bool = Field(default=False, description="only unpaid invoices past their due date")
    page: int = Field(default=1, ge=1, le=10_000)
    page_size: int = Field(default=20, ge=1, le=100)


class Invoice(BaseModel):
    id: str
    customer_id: str
    issue_date: date
    due_date: date
    currency: str
    amount: Decimal
    amount_paid: Decimal
    amount_due: Decimal
    status: InvoiceStatus
    overdue: bool
    days_overdue: int
    void_reason: str | None = None


class InvoicePage(BaseModel):
    invoices: list[Invoice] = Field(default_factory=list)
    page: int
    page_size: int
    total: int
    next_page: int | None = Field(default=None, description="absent on the last page")


class GetInvoice(ActionInput):
    invoice_id: str = Field(min_length=1, max_length=32, pattern=_ID, description="e.g. INV-10002")


class RecordPayment(ActionInput):
    invoice_id: str = Field(min_length=1, max_length=32, pattern=_ID)
    amount: Decimal = Field(
        gt=0, le=Decimal("99999999.99"), decimal_places=2, description="in the invoice's currency"
    )
    payment_date: date | None = Field(default=None, description="defaults to today in the ERP")
    reference: str | None = Field(
        default=None, max_length=120, description="e.g. the bank transfer reference"
    )


class Payment(BaseModel):
    id: str
    invoice_id: str
    amount: Decimal
    currency: str
    payment_date: date
    reference: str | None = None
    status: PaymentStatus
    invoice_status: InvoiceStatus = Field(description="the invoice's status after this payment")
    invoice_amount_due: Decimal = Field(description="what remains due on the invoice")


class ReversePayment(ActionInput):
    payment_id: str = Field(min_length=1, max_length=32, pattern=_ID, description="e.g. PAY-000001")
    reason: str = Field(min_length=1, max_length=500)


class VoidInvoice(ActionInput):
    invoice_id: str = Field(min_length=1, max_length=32, pattern=_ID)
    reason: str = Field(min_length=1, max_length=500)


class Voided(BaseModel):
    invoice: Invoice
