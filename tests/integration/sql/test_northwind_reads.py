"""Northwind read actions against a real working copy: results, row limits, reflection.

Tests marked `@both_backends` run on SQLite and on PostgreSQL (with RETROFIT_TEST_POSTGRES_URL).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import Integer, Numeric, select, text

from connectors.northwind.connector import NorthwindConnector
from connectors.northwind.models import FindCustomers, GetCustomer, GetOrder, ListOrders
from connectors.sql import RowPage, TooManyRowsMatched
from connectors.sql.legacy_types import LegacyDateTime
from legacy.sqldb.database import SqlDemoDatabase
from retrofit.sdk import ActionInputError, Effect, describe_connector
from tests.integration.sql.calls import NorthwindDatabase, both_backends, settings_for

pytestmark = pytest.mark.timeout(30)


@both_backends
async def test_get_customer(northwind: NorthwindConnector) -> None:
    customer = await northwind.get_customer(GetCustomer(customer_id="ALFKI"))
    assert (customer.company_name, customer.contact_name, customer.city) == (
        "Alfreds Futterkiste",
        "Maria Anders",
        "Berlin",
    )
    assert customer.region is None


@both_backends
async def test_unknown_customer_is_an_input_error(northwind: NorthwindConnector) -> None:
    with pytest.raises(ActionInputError, match="no customer 'QQQQQ'"):
        await northwind.get_customer(GetCustomer(customer_id="QQQQQ"))
    with pytest.raises(ActionInputError, match="no customer"):
        await northwind.list_orders(ListOrders(customer_id="QQQQQ"))


@both_backends
async def test_list_orders_with_totals_from_order_details(
    northwind: NorthwindConnector, northwind_db: NorthwindDatabase
) -> None:
    listed = await northwind.list_orders(ListOrders(customer_id="ALFKI", limit=100))
    assert not listed.truncated
    assert len(listed.orders) == 6
    dates = [o.order_date for o in listed.orders if o.order_date is not None]
    assert len(dates) == 6 and dates == sorted(dates, reverse=True)  # newest first

    # The same totals computed independently, with the plain driver and Decimal arithmetic.
    expected: dict[int, Decimal] = {}
    for order_id, price, quantity, discount in northwind_db.query(
        'SELECT d."OrderID", d."UnitPrice", d."Quantity", d."Discount" FROM "Order Details" d '
        'JOIN "Orders" o ON o."OrderID" = d."OrderID" WHERE o."CustomerID" = ?',
        ("ALFKI",),
    ):
        line = Decimal(str(price)) * quantity * (1 - Decimal(str(discount)))
        expected[order_id] = expected.get(order_id, Decimal(0)) + line
    for order in listed.orders:
        assert abs(order.total - expected[order.order_id]) < Decimal("0.01")
        assert order.total == order.total.quantize(Decimal("0.01"))
    assert {o.order_id: o.lines for o in listed.orders}[10643] == 3


@both_backends
async def test_list_orders_is_row_limited_and_says_so(northwind: NorthwindConnector) -> None:
    page = await northwind.list_orders(ListOrders(customer_id="SAVEA", limit=5))  # SAVEA has 31 orders
    assert len(page.orders) == 5
    assert page.truncated
    everything = await northwind.list_orders(ListOrders(customer_id="SAVEA", limit=100))
    assert len(everything.orders) == 31
    assert not everything.truncated
    assert [o.order_id for o in everything.orders[:5]] == [o.order_id for o in page.orders]


@both_backends
async def test_list_orders_filters_open_orders(northwind: NorthwindConnector) -> None:
    open_orders = await northwind.list_orders(ListOrders(customer_id="ERNSH", shipped=False))
    assert [o.order_id for o in open_orders.orders] == [11072, 11008]
    assert all(o.shipped_date is None for o in open_orders.orders)


@both_backends
async def test_the_settings_row_limit_is_a_hard_cap(northwind_db: NorthwindDatabase) -> None:
    connector = NorthwindConnector(settings_for(northwind_db, row_limit=3))
    await connector.open()
    try:
        page = await connector.find_customers(FindCustomers(name_contains="a", limit=100))
        customers = await connector.table("Customers")
        raw = await connector.fetch_rows(select(customers.c.CustomerID), limit=1000)
    finally:
        await connector.close()
    assert (len(page.customers), page.truncated) == (3, True)
    assert (len(raw), raw.truncated, raw.limit) == (3, True, 3)


@both_backends
async def test_text_queries_are_cut_at_the_limit_too(northwind: NorthwindConnector) -> None:
    page = await northwind.fetch_rows(text('SELECT "OrderID" FROM "Order Details"'), limit=10)
    assert isinstance(page, RowPage)
    assert (len(page), page.truncated) == (10, True)
    exact = await northwind.fetch_rows(text('SELECT "ShipperID" FROM "Shippers" ORDER BY 1'), limit=3)
    assert ([row["ShipperID"] for row in exact], exact.truncated) == ([1, 2, 3], False)


@both_backends
async def test_a_statement_with_its_own_limit_is_refused(northwind: NorthwindConnector) -> None:
    customers = await northwind.table("Customers")
    with pytest.raises(ValueError, match="pass limit="):
        await northwind.fetch_rows(select(customers).limit(5))


@both_backends
async def test_fetch_one_refuses_several_rows(northwind: NorthwindConnector) -> None:
    orders = await northwind.table("Orders")
    with pytest.raises(TooManyRowsMatched, match="orders of ALFKI matched more than one row"):
        await northwind.fetch_one(
            select(orders.c.OrderID).where(orders.c.CustomerID == "ALFKI"), what="orders of ALFKI"
        )


@both_backends
async def test_get_order_with_lines(northwind: NorthwindConnector) -> None:
    order = await northwind.get_order(GetOrder(order_id=10248))
    assert order.summary.customer_id == "VINET"
    assert order.summary.order_date == datetime(1996, 7, 4)
    assert order.summary.freight == Decimal("32.38")
    assert order.summary.total == Decimal("440.00")
    assert [(line.product_name, line.quantity) for line in order.lines] == [
        ("Queso Cabrales", 12),
        ("Singaporean Hokkien Fried Mee", 10),
        ("Mozzarella di Giovanni", 5),
    ]
    assert sum(line.line_total for line in order.lines) == order.summary.total
    with pytest.raises(ActionInputError, match="no order 1"):
        await northwind.get_order(GetOrder(order_id=1))


async def test_reflection_of_order_details(northwind: NorthwindConnector) -> None:
    details = await northwind.table("Order Details")
    assert details.name == "Order Details"
    assert [c.name for c in details.primary_key] == ["OrderID", "ProductID"]
    assert isinstance(details.c.UnitPrice.type, Numeric)
    assert isinstance(details.c.Quantity.type, Integer)
    # The space is quoted by SQLAlchemy, never pasted into SQL by us.
    compiled = str(select(details.c.Quantity).compile(northwind.engine))
    assert '"Order Details"' in compiled
    orders = await northwind.table("Orders")
    assert isinstance(orders.c.ShippedDate.type, LegacyDateTime)
    assert await northwind.table("Orders") is orders  # reflected once, then cached
    with pytest.raises(ValueError, match=r"not in NorthwindConnector\.tables"):
        await northwind.table("Employees")


async def test_unparseable_legacy_dates_reach_the_model_as_text(
    northwind: NorthwindConnector, northwind_db: SqlDemoDatabase
) -> None:
    with sqlite3.connect(northwind_db.path) as connection:
        connection.execute("UPDATE Orders SET RequiredDate = '04/07/1996' WHERE OrderID = 10248")
    orders = await northwind.table("Orders")
    row = await northwind.fetch_one(
        select(orders.c.RequiredDate, orders.c.OrderDate).where(orders.c.OrderID == 10248)
    )
    assert row is not None
    assert row["RequiredDate"] == "04/07/1996"  # handed through, not a crash of the whole read
    assert row["OrderDate"] == datetime(1996, 7, 4)


@both_backends
async def test_find_customers_ignores_case_and_filters_by_country(northwind: NorthwindConnector) -> None:
    # SQLite's LIKE ignores ASCII case and PostgreSQL's does not: the action answers alike on both.
    found = await northwind.find_customers(FindCustomers(name_contains="FUTTERKISTE"))
    assert [c.customer_id for c in found.customers] == ["ALFKI"]
    by_contact = await northwind.find_customers(FindCustomers(name_contains="maria"))
    assert sorted(c.customer_id for c in by_contact.customers) == [
        "ALFKI",
        "FOLKO",
    ]  # Maria Anders, Maria Larsson
    german = await northwind.find_customers(FindCustomers(name_contains="e", country="Germany", limit=100))
    assert german.customers and {c.country for c in german.customers} == {"Germany"}
    names = [(c.company_name, c.customer_id) for c in german.customers]
    assert names == sorted(names)


def test_describe_connector() -> None:
    spec = describe_connector(NorthwindConnector, plugin="test")
    assert spec.name == "northwind"
    assert {a.method: a.effect for a in spec.actions} == {
        "get_customer": Effect.READ,
        "find_customers": Effect.READ,
        "list_orders": Effect.READ,
        "get_order": Effect.READ,
        "update_customer_contact": Effect.WRITE,
        "ship_order": Effect.WRITE,
        "delete_order": Effect.DESTRUCTIVE,
    }
    for action_spec in spec.actions:
        assert action_spec.description and "\n" not in action_spec.description
