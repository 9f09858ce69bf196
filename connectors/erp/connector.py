"""The demo ERP's connector: its SOAP 1.1 API (`legacy/erp`) as typed actions.

Everything SOAP-specific (WSDL cache, offline schemas, WS-Security, fault mapping, audit
capture) comes from `connectors.soap`; each action is one `call()`.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr

from connectors.erp.models import (
    ErpCustomer,
    GetCustomer,
    GetInvoice,
    Invoice,
    InvoicePage,
    ListInvoices,
    Payment,
    RecordPayment,
    ReversePayment,
    Voided,
    VoidInvoice,
)
from connectors.soap import SoapConnector, SoapSettings
from retrofit.sdk import ConnectorSettings, Effect, action, current_call


class ErpSettings(SoapSettings):
    """`RETROFIT_ERP_WSDL`, `RETROFIT_ERP_USERNAME`, `RETROFIT_ERP_PASSWORD`, ...; defaults fit the demo ERP."""

    wsdl: str = Field(default="http://127.0.0.1:8702/erp?wsdl", description="URL or file path of the WSDL")
    username: str | None = "retrofit"
    password: SecretStr | None = SecretStr("demo-erp-password")
    timeout_seconds: float = Field(default=10.0, gt=0)


class ErpConnector(SoapConnector):
    """Demo ERP (SOAP): accounts receivable — customers with balances, invoices, payments."""

    name = "erp"
    Settings: ClassVar[type[ConnectorSettings]] = ErpSettings
    settings: ErpSettings

    @action(effect=Effect.READ)
    async def get_customer(self, req: GetCustomer) -> ErpCustomer:
        """Look up an ERP customer by id: credit limit, open balance, overdue balance, payment terms."""
        return await self.call("GetCustomer", req, returns=ErpCustomer)

    @action(effect=Effect.READ)
    async def list_invoices(self, req: ListInvoices) -> InvoicePage:
        """List invoices, oldest due date first, optionally for one customer, by status or overdue only; paged."""
        return await self.call("ListInvoices", req, returns=InvoicePage)

    @action(effect=Effect.READ)
    async def get_invoice(self, req: GetInvoice) -> Invoice:
        """Fetch one invoice by id: amounts, amount still due, status and days overdue."""
        return await self.call("GetInvoice", req, returns=Invoice)

    @action(effect=Effect.WRITE, compensate="reverse_payment")
    async def record_payment(self, req: RecordPayment) -> Payment:
        """Record a customer payment against an invoice (at most the amount due); returns the payment."""
        # The step's idempotency key goes with the request: a retried step gets the first answer.
        arguments = {**req.model_dump(), "idempotency_key": current_call().idempotency_key}
        return await self.call("RecordPayment", arguments, returns=Payment)

    @action(effect=Effect.WRITE)
    async def reverse_payment(self, req: ReversePayment) -> Payment:
        """Reverse a recorded payment (e.g. a bounced transfer); the invoice is due again."""
        arguments = {**req.model_dump(), "idempotency_key": current_call().idempotency_key}
        return await self.call("ReversePayment", arguments, returns=Payment)

    @action(effect=Effect.DESTRUCTIVE)
    async def void_invoice(self, req: VoidInvoice) -> Voided:
        """Void an unpaid invoice so it is no longer owed; cannot be undone."""
        arguments = {**req.model_dump(), "idempotency_key": current_call().idempotency_key}
        return await self.call("VoidInvoice", arguments, returns=Voided)
