"""Typed inputs and outputs of the ledger connector.

Pure pydantic on purpose: workflows import this module, so it must stay free of I/O libraries.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field

from retrofit.sdk.action import ActionInput


class GetCustomer(ActionInput):
    customer_id: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")


class Customer(BaseModel):
    id: str
    name: str
    credit_limit: Decimal
    balance: Decimal
    currency: str = "EUR"


class SetCreditLimit(ActionInput):
    customer_id: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    credit_limit: Decimal = Field(ge=0, le=Decimal("10000000"), decimal_places=2)


class AddNote(ActionInput):
    customer_id: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    text: str = Field(min_length=1, max_length=2000)


class Note(BaseModel):
    id: int
    customer_id: str
    text: str


class DeleteCustomer(ActionInput):
    customer_id: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")


class Deleted(BaseModel):
    customer_id: str
    deleted: bool
