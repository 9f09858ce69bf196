from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from retrofit.gate import WorkflowInput


class FollowUpInput(WorkflowInput):
    max_invoices: int = Field(default=3, ge=1, le=20, description="how many of the largest overdue invoices")
    min_days_overdue: int = Field(default=1, ge=0, le=3650)
    # The warehouse database keys customers differently from the ERP: ERP id -> warehouse id.
    warehouse_customers: dict[str, str] = Field(default_factory=dict)


class FollowUp(BaseModel):
    invoice_id: str
    customer_id: str
    customer_name: str
    amount_due: Decimal
    currency: str
    days_overdue: int
    crm_account_id: str | None = None
    open_warehouse_orders: int | None = None  # None: no warehouse mapping for this customer
    note_id: int | None = None
    note: Literal["added", "rejected", "no_crm_account"] = "no_crm_account"


class FollowUpResult(BaseModel):
    follow_ups: list[FollowUp]
    overdue_invoices_seen: int
