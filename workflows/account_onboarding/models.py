from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field

from retrofit.gate import WorkflowInput


class OnboardingInput(WorkflowInput):
    account_id: str = Field(
        pattern=r"^A-[0-9]{4,8}$",  # the CRM's account ids: refused at the start, not in the run
        description="CRM account id, e.g. A-2006; it must be linked to a ledger customer",
    )
    credit_limit: Decimal = Field(gt=0, le=Decimal("10000000"), decimal_places=2)
    welcome_note: str = Field(
        default="Account onboarded: credit line opened, account active.", min_length=1, max_length=4000
    )


class OnboardingResult(BaseModel):
    account_id: str
    ledger_customer_id: str
    old_credit_limit: Decimal
    credit_limit: Decimal
    old_status: str
    status: str
    note_id: int
