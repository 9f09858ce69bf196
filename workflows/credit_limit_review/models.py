from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field

from retrofit.gate import WorkflowInput


class CreditReviewInput(WorkflowInput):
    # The ledger's own id rules, so a bad id is refused at the start, not inside the run.
    customer_id: str = Field(
        min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$", description="e.g. C-1006"
    )
    # Utilisation (balance / limit) at or above which the limit is raised.
    utilisation_threshold: Decimal = Field(default=Decimal("0.80"), gt=0, le=1)
    increase_percent: Decimal = Field(default=Decimal("20"), gt=0, le=100)


class CreditReviewResult(BaseModel):
    customer_id: str
    customer_name: str
    utilisation: Decimal
    old_limit: Decimal
    new_limit: Decimal
    changed: bool
    note_id: int | None = None
