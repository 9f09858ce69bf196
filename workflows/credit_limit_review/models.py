from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field


class CreditReviewInput(BaseModel):
    customer_id: str
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
