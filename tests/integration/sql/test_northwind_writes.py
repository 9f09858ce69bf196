"""Northwind writes: one transaction per action, rows-affected checks, idempotency, literal values.

Tests marked `@both_backends` run on SQLite and on PostgreSQL (with RETROFIT_TEST_POSTGRES_URL);
their SQL quotes every identifier, which PostgreSQL needs for Northwind's mixed-case names.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import date
from decimal import Decimal

import pytest
from pydantic import BaseModel
from sqlalchemy import select, update

from connectors.northwind.connector import NorthwindConnector
from connectors.northwind.models import (
    DeleteOrder,
    FindCustomers,
    GetCustomer,
    GetOrder,
    ShipOrder,
    UpdateCustomerContact,
)
from connectors.sql import IdempotencyKeyReused, NoRowsMatched, SqlTransaction, TooManyRowsMatched
from connectors.sql.errors import RowCountError
from legacy.sqldb.database import SqlDemoDatabase
from retrofit.sdk import ActionInputError
from tests.integration.sql.calls import NorthwindDatabase, both_backends, running_call, settings_for

pytestmark = pytest.mark.timeout(30)

HOSTILE = "x'; DROP TABLE Customers; --"


class Bump(BaseModel):
    order_id: int


class Freight(BaseModel):
    order_id: int
    freight: Decimal


async def _bump_freight(connector: NorthwindConnector, tx: SqlTransaction, req: Bump) -> Freight:
    """A deliberately non-idempotent write: each run adds 1 to an order's freight."""
    orders = await connector.table("Orders")
    await tx.execute(
        update(orders).where(orders.c.OrderID == req.order_id).values(Freight=orders.c.Freight + 1),
        expect_rows=1,
    )
    row = await tx.fetch_one(select(orders.c.Freight).where(orders.c.OrderID == req.order_id))
    assert row is not None
    return Freight(order_id=req.order_id, freight=row["Freight"])


def _freight(database: NorthwindDatabase, order_id: int) -> float:
    return float(database.scalar('SELECT "Freight" FROM "Orders" WHERE "OrderID" = ?', (order_id,)))


# -- plain writes -----------------------------------------------------------------------------------


@both_backends
async def test_update_customer_contact(
    northwind: NorthwindConnector, northwind_db: NorthwindDatabase
) -> None:
    request = UpdateCustomerContact(customer_id="ALFKI", contact_name="Anna Berg", phone="030-1234567")
    with running_call("wf#contact", action="northwind.update_customer_contact"):
        updated = await northwind.update_customer_contact(request)
    assert (updated.contact_name, updated.phone, updated.contact_title) == (
        "Anna Berg",
        "030-1234567",
        "Sales Representative",  # not given: unchanged
    )
    assert northwind_db.query(
        'SELECT "ContactName", "Phone" FROM "Customers" WHERE "CustomerID" = ?', ("ALFKI",)
    ) == [("Anna Berg", "030-1234567")]


async def test_ship_order_writes_the_legacy_date_layout(
    northwind: NorthwindConnector, northwind_db: SqlDemoDatabase
) -> None:
    with running_call("wf#ship"):
        summary = await northwind.ship_order(
            ShipOrder(order_id=11008, shipped_date=date(1998, 5, 6), ship_via=2)
        )
    assert summary.shipped_date is not None and summary.shipped_date.date() == date(1998, 5, 6)
    assert summary.ship_via == 2
    # The layout the legacy application itself writes, not SQLAlchemy's six fractional digits.
    assert northwind_db.query("SELECT ShippedDate, ShipVia FROM Orders WHERE OrderID = 11008") == [
        ("1998-05-06 00:00:00.000", 2)
    ]


@both_backends
async def test_ship_order_refuses_shipped_orders_and_unknown_shippers(
    northwind: NorthwindConnector, northwind_db: NorthwindDatabase
) -> None:
    with running_call("wf#ship-shipped"), pytest.raises(ActionInputError, match="already shipped"):
        await northwind.ship_order(ShipOrder(order_id=10248, shipped_date=date(1998, 5, 6)))
    with running_call("wf#ship-shipper"), pytest.raises(ActionInputError, match="no shipper 9"):
        await northwind.ship_order(ShipOrder(order_id=11008, shipped_date=date(1998, 5, 6), ship_via=9))
    assert northwind_db.scalar('SELECT "ShippedDate" FROM "Orders" WHERE "OrderID" = 11008') is None
    assert northwind_db.scalar("SELECT count(*) FROM retrofit_idempotency") == 0  # failures are not recorded


@both_backends
async def test_delete_order_removes_order_and_lines_together(
    northwind: NorthwindConnector, northwind_db: NorthwindDatabase
) -> None:
    with running_call("wf#delete", action="northwind.delete_order"):
        deleted = await northwind.delete_order(DeleteOrder(order_id=10248))
        # A retry after a lost answer gets the same answer, not "no such order".
        assert await northwind.delete_order(DeleteOrder(order_id=10248)) == deleted
    assert (deleted.deleted_lines, deleted.deleted) == (3, True)
    assert northwind_db.scalar('SELECT count(*) FROM "Orders" WHERE "OrderID" = 10248') == 0
    assert northwind_db.scalar('SELECT count(*) FROM "Order Details" WHERE "OrderID" = 10248') == 0
    assert northwind_db.scalar('SELECT count(*) FROM "Order Details"') == 2155 - 3


@both_backends
async def test_writes_need_a_running_call(northwind: NorthwindConnector) -> None:
    with pytest.raises(RuntimeError, match="current_call"):
        await northwind.ship_order(ShipOrder(order_id=11008, shipped_date=date(1998, 5, 6)))


# -- rows-affected checks and rollback --------------------------------------------------------------


@both_backends
async def test_zero_rows_is_an_input_error_and_changes_nothing(
    northwind: NorthwindConnector, northwind_db: NorthwindDatabase
) -> None:
    before = northwind_db.query('SELECT * FROM "Customers" ORDER BY "CustomerID"')
    with (
        running_call("wf#none", action="northwind.update_customer_contact"),
        pytest.raises(NoRowsMatched) as caught,
    ):
        await northwind.update_customer_contact(UpdateCustomerContact(customer_id="QQQQQ", contact_name="X"))
    assert isinstance(caught.value, ActionInputError)
    assert (caught.value.expected, caught.value.actual) == (range(1, 2), 0)
    assert "customer 'QQQQQ': 0 rows matched, expected exactly 1" in caught.value.message
    assert northwind_db.query('SELECT * FROM "Customers" ORDER BY "CustomerID"') == before

    with running_call("wf#delete-none", action="northwind.delete_order"), pytest.raises(NoRowsMatched):
        await northwind.delete_order(DeleteOrder(order_id=1))


@both_backends
async def test_too_many_rows_rolls_back_the_whole_transaction(
    northwind: NorthwindConnector, northwind_db: NorthwindDatabase
) -> None:
    """The first statement lands inside the transaction, the second matches 6 rows: both undone."""
    before_orders = northwind_db.query('SELECT * FROM "Orders" ORDER BY "OrderID"')
    before_customer = northwind_db.query('SELECT * FROM "Customers" WHERE "CustomerID" = \'ALFKI\'')

    async def careless(tx: SqlTransaction, req: Bump) -> Freight:
        customers = await northwind.table("Customers")
        orders = await northwind.table("Orders")
        await tx.execute(
            update(customers).where(customers.c.CustomerID == "ALFKI").values(ContactName="Changed"),
            expect_rows=1,
        )
        # Meant to touch one order; the WHERE clause matches all six of ALFKI's.
        await tx.execute(
            update(orders).where(orders.c.CustomerID == "ALFKI").values(ShipVia=3),
            expect_rows=1,
            what="the latest order of ALFKI",
        )
        raise AssertionError("unreachable")

    with running_call("wf#careless"), pytest.raises(TooManyRowsMatched) as caught:
        await northwind.write(careless, Bump(order_id=0), returns=Freight)
    assert isinstance(caught.value, RowCountError)
    assert not isinstance(caught.value, ActionInputError)  # a connector bug, not the caller's
    assert caught.value.actual == 6
    assert "6 rows matched, expected exactly 1; nothing was changed" in caught.value.message
    assert northwind_db.query('SELECT * FROM "Orders" ORDER BY "OrderID"') == before_orders
    assert northwind_db.query('SELECT * FROM "Customers" WHERE "CustomerID" = \'ALFKI\'') == before_customer
    assert northwind_db.scalar("SELECT count(*) FROM retrofit_idempotency") == 0


@both_backends
async def test_a_range_of_rows_is_accepted(
    northwind: NorthwindConnector, northwind_db: NorthwindDatabase
) -> None:
    async def all_of_alfki(tx: SqlTransaction, req: Bump) -> Bump:
        orders = await northwind.table("Orders")
        result = await tx.execute(
            update(orders).where(orders.c.CustomerID == "ALFKI").values(ShipVia=3), expect_rows=range(1, 11)
        )
        return Bump(order_id=result.rowcount)

    with running_call("wf#range"):
        assert (await northwind.write(all_of_alfki, Bump(order_id=0), returns=Bump)).order_id == 6
    assert (
        northwind_db.scalar(
            'SELECT count(DISTINCT "ShipVia") FROM "Orders" WHERE "CustomerID" = ?', ("ALFKI",)
        )
        == 1
    )


@both_backends
async def test_an_error_raised_by_the_action_rolls_back(
    northwind: NorthwindConnector, northwind_db: NorthwindDatabase
) -> None:
    async def half_done(tx: SqlTransaction, req: Bump) -> Freight:
        await _bump_freight(northwind, tx, req)
        raise ActionInputError("changed my mind")

    before = _freight(northwind_db, 10248)
    with running_call("wf#half"), pytest.raises(ActionInputError, match="changed my mind"):
        await northwind.write(half_done, Bump(order_id=10248), returns=Freight)
    assert _freight(northwind_db, 10248) == before


# -- idempotency ------------------------------------------------------------------------------------


@both_backends
async def test_a_repeated_key_applies_once_and_returns_the_stored_result(
    northwind: NorthwindConnector, northwind_db: NorthwindDatabase
) -> None:
    before = _freight(northwind_db, 10248)

    async def bump(tx: SqlTransaction, req: Bump) -> Freight:
        return await _bump_freight(northwind, tx, req)

    with running_call("wf#bump") as call:
        first = await northwind.write(bump, Bump(order_id=10248), returns=Freight)
        repeated = await northwind.write(bump, Bump(order_id=10248), returns=Freight)  # a Temporal retry
    assert repeated == first
    assert _freight(northwind_db, 10248) == pytest.approx(before + 1)
    assert call.exchanges[-1] == {
        "kind": "sql.idempotent_replay",
        "idempotency_key": "wf#bump",
        "action": "northwind.ship_order",
    }
    assert northwind_db.query("SELECT idempotency_key, action FROM retrofit_idempotency") == [
        ("wf#bump", "northwind.ship_order")
    ]

    with running_call("wf#bump-2"):  # a new step is a new effect
        await northwind.write(bump, Bump(order_id=10248), returns=Freight)
    assert _freight(northwind_db, 10248) == pytest.approx(before + 2)


@both_backends
async def test_concurrent_attempts_with_one_key_apply_once(
    northwind: NorthwindConnector, northwind_db: NorthwindDatabase
) -> None:
    """Two attempts at once (a retry while the first still runs): the second waits, then replays."""
    before = _freight(northwind_db, 10249)

    async def bump(tx: SqlTransaction, req: Bump) -> Freight:
        return await _bump_freight(northwind, tx, req)

    with running_call("wf#race"):
        first, second = await asyncio.gather(
            northwind.write(bump, Bump(order_id=10249), returns=Freight),
            northwind.write(bump, Bump(order_id=10249), returns=Freight),
        )
    assert first == second
    assert _freight(northwind_db, 10249) == pytest.approx(before + 1)


@both_backends
async def test_long_keys_are_stored_as_digests(
    northwind: NorthwindConnector, northwind_db: NorthwindDatabase
) -> None:
    long_key = "wf-" + "x" * 400 + "#3"
    request = ShipOrder(order_id=11008, shipped_date=date(1998, 5, 6))
    with running_call(long_key):
        first = await northwind.ship_order(request)
        assert await northwind.ship_order(request) == first
    (stored,) = northwind_db.query("SELECT idempotency_key FROM retrofit_idempotency")
    assert stored[0].startswith("sha256:") and len(stored[0]) == 71


async def test_the_record_can_be_turned_off(
    northwind_db: SqlDemoDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """For databases where the connector may not create a table: writes still run, unrecorded."""
    monkeypatch.setenv("RETROFIT_NORTHWIND_IDEMPOTENCY_TABLE", "")
    connector = NorthwindConnector(settings_for(northwind_db))
    assert connector.settings.idempotency_table is None
    await connector.open()
    try:
        with running_call("wf#unrecorded", action="northwind.update_customer_contact"):
            request = UpdateCustomerContact(customer_id="ALFKI", contact_name="Anna Berg")
            assert (await connector.update_customer_contact(request)).contact_name == "Anna Berg"
    finally:
        await connector.close()
    tables = northwind_db.query("SELECT name FROM sqlite_master WHERE name = 'retrofit_idempotency'")
    assert tables == []


@both_backends
async def test_a_new_connector_still_finds_the_record(
    northwind: NorthwindConnector, northwind_db: NorthwindDatabase
) -> None:
    """The record lives in the database, so a retry on another worker replays too."""
    request = ShipOrder(order_id=11008, shipped_date=date(1998, 5, 6))
    with running_call("wf#ship-twice"):
        first = await northwind.ship_order(request)
        other_worker = NorthwindConnector(northwind.settings)
        await other_worker.open()
        try:
            assert await other_worker.ship_order(request) == first  # not "already shipped"
        finally:
            await other_worker.close()


@both_backends
async def test_a_key_reused_for_other_arguments_is_refused(
    northwind: NorthwindConnector, northwind_db: NorthwindDatabase
) -> None:
    with running_call("wf#reuse"):
        await northwind.ship_order(ShipOrder(order_id=11008, shipped_date=date(1998, 5, 6)))
        with pytest.raises(IdempotencyKeyReused, match="other arguments"):
            await northwind.ship_order(ShipOrder(order_id=11019, shipped_date=date(1998, 5, 6)))
    assert northwind_db.scalar('SELECT "ShippedDate" FROM "Orders" WHERE "OrderID" = 11019') is None


# -- hostile values ---------------------------------------------------------------------------------


@both_backends
async def test_hostile_strings_are_stored_and_found_literally(
    northwind: NorthwindConnector, northwind_db: NorthwindDatabase
) -> None:
    with running_call("wf#hostile", action="northwind.update_customer_contact"):
        updated = await northwind.update_customer_contact(
            UpdateCustomerContact(customer_id="ANTON", contact_name=HOSTILE, contact_title='O\'Brien "Boss"')
        )
    assert updated.contact_name == HOSTILE
    assert northwind_db.query(
        'SELECT "ContactName", "ContactTitle" FROM "Customers" WHERE "CustomerID" = ?', ("ANTON",)
    ) == [(HOSTILE, 'O\'Brien "Boss"')]
    assert northwind_db.scalar('SELECT count(*) FROM "Customers"') == 93  # nothing dropped

    found = await northwind.find_customers(FindCustomers(name_contains=HOSTILE))
    assert [c.customer_id for c in found.customers] == ["ANTON"]
    # LIKE wildcards in the search text are literal characters too.
    assert (await northwind.find_customers(FindCustomers(name_contains="%"))).customers == []
    assert (await northwind.find_customers(FindCustomers(name_contains="_"))).customers == []
    # A hostile id never reaches SQL: the input model refuses it first.
    with pytest.raises(ValueError):
        GetCustomer(customer_id=HOSTILE)
    assert (await northwind.get_customer(GetCustomer(customer_id="ANTON"))).contact_name == HOSTILE
    assert (await northwind.get_order(GetOrder(order_id=10248))).summary.customer_id == "VINET"
    if isinstance(northwind_db, SqlDemoDatabase):
        with sqlite3.connect(northwind_db.path) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
