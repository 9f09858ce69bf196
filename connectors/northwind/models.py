"""Typed inputs and outputs of the Northwind connector.

Pure pydantic on purpose: workflows import this module, so it must stay free of I/O libraries.
Field names are the connector's own (snake_case); the database's column names stay in the
connector.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from retrofit.sdk.action import ActionInput

# Northwind customer ids are five letters ("ALFKI"); orders are numbered from 10248.
CustomerId = Annotated[str, Field(min_length=1, max_length=10, pattern=r"^[A-Za-z0-9]+$")]
OrderId = Annotated[int, Field(ge=1, le=2_147_483_647)]


def _cents(value: Decimal) -> Decimal:
    # SQLite keeps NUMERIC values as binary floats; two places is what the money always meant.
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


Money = Annotated[Decimal, AfterValidator(_cents)]


class GetCustomer(ActionInput):
    customer_id: CustomerId


class Customer(BaseModel):
    customer_id: str
    company_name: str
    contact_name: str | None = None
    contact_title: str | None = None
    address: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None
    phone: str | None = None
    fax: str | None = None


class FindCustomers(ActionInput):
    name_contains: str = Field(min_length=1, max_length=100)
    country: str | None = Field(default=None, min_length=1, max_length=40)
    limit: int = Field(default=20, ge=1, le=100)


class CustomerList(BaseModel):
    customers: list[Customer]
    truncated: bool  # more customers matched than `limit`


class ListOrders(ActionInput):
    customer_id: CustomerId
    shipped: bool | None = None  # True: only shipped orders, False: only open ones, None: all
    limit: int = Field(default=20, ge=1, le=100)


class OrderSummary(BaseModel):
    order_id: int
    customer_id: str | None
    order_date: datetime | None
    required_date: datetime | None
    shipped_date: datetime | None
    ship_via: int | None
    freight: Money | None
    lines: int
    total: Money  # sum of unit price × quantity × (1 − discount) over the order's lines


class OrderList(BaseModel):
    customer_id: str
    orders: list[OrderSummary]  # newest first
    truncated: bool  # more orders matched than `limit`


class GetOrder(ActionInput):
    order_id: OrderId


class OrderLine(BaseModel):
    product_id: int
    product_name: str | None
    unit_price: Money
    quantity: int
    discount: float
    line_total: Money


class Order(BaseModel):
    summary: OrderSummary
    ship_name: str | None
    ship_city: str | None
    ship_country: str | None
    lines: list[OrderLine]


class UpdateCustomerContact(ActionInput):
    customer_id: CustomerId
    contact_name: str = Field(min_length=1, max_length=30)
    contact_title: str | None = Field(default=None, min_length=1, max_length=30)
    phone: str | None = Field(default=None, min_length=1, max_length=24)


class ShipOrder(ActionInput):
    order_id: OrderId
    shipped_date: date
    ship_via: int | None = Field(default=None, ge=1, le=99)  # a Shippers id: 1, 2 or 3 in the demo


class DeleteOrder(ActionInput):
    order_id: OrderId


class DeletedOrder(BaseModel):
    order_id: int
    deleted_lines: int
    deleted: bool
