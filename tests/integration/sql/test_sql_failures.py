"""Failures of the SQL base against real SQLite faults, and the error mapping for other databases."""

from __future__ import annotations

import time
from datetime import date
from typing import Any, ClassVar

import pytest
from sqlalchemy import exc as sa
from sqlalchemy import text, update

from connectors.northwind.connector import NorthwindConnector
from connectors.northwind.models import GetCustomer, ShipOrder
from connectors.sql import SqlTransaction, map_db_error
from legacy.sqldb.database import SqlDemoDatabase
from retrofit.sdk import (
    ActionInputError,
    AuthError,
    Delivery,
    NonRetryableError,
    NotSentError,
    RetryableError,
)
from tests.integration.sql.calls import TEST_LOCK_TIMEOUT_S, running_call, settings_for

pytestmark = pytest.mark.timeout(30)


async def _opened(database: SqlDemoDatabase, **overrides: Any) -> NorthwindConnector:
    connector = NorthwindConnector(settings_for(database, **overrides))
    await connector.open()
    return connector


# -- a locked database ------------------------------------------------------------------------------


async def test_locked_database_is_retryable_then_recovers(
    northwind: NorthwindConnector, northwind_db: SqlDemoDatabase
) -> None:
    await northwind.get_customer(GetCustomer(customer_id="ALFKI"))  # pool and reflection warm
    with northwind_db.lock():
        started = time.monotonic()
        with pytest.raises(RetryableError, match="database is locked") as caught:
            await northwind.get_customer(GetCustomer(customer_id="ALFKI"))
        waited = time.monotonic() - started
        with running_call("wf#locked"), pytest.raises(RetryableError, match="locked"):
            await northwind.ship_order(ShipOrder(order_id=11008, shipped_date=date(1998, 5, 6)))
    assert TEST_LOCK_TIMEOUT_S * 0.9 <= waited < TEST_LOCK_TIMEOUT_S + 1.0  # waited its busy timeout
    assert caught.value.retryable
    assert northwind_db.scalar("SELECT ShippedDate FROM Orders WHERE OrderID = 11008") is None

    # What Temporal's retry would see once the lock is gone.
    assert (await northwind.get_customer(GetCustomer(customer_id="ALFKI"))).customer_id == "ALFKI"
    with running_call("wf#locked"):
        shipped = await northwind.ship_order(ShipOrder(order_id=11008, shipped_date=date(1998, 5, 6)))
    assert shipped.shipped_date is not None


async def test_a_short_lock_is_waited_out(northwind_db: SqlDemoDatabase) -> None:
    connector = await _opened(northwind_db, lock_timeout_seconds=5.0)
    try:
        northwind_db.lock(seconds=0.2)  # released by its own timer
        customer = await connector.get_customer(GetCustomer(customer_id="ALFKI"))
    finally:
        await connector.close()
    assert customer.customer_id == "ALFKI"


async def test_locked_before_the_first_action_reflection_is_retryable_too(
    northwind_db: SqlDemoDatabase,
) -> None:
    connector = await _opened(northwind_db)
    try:
        with northwind_db.lock(), pytest.raises(RetryableError, match="reflecting tables"):
            await connector.get_customer(GetCustomer(customer_id="ALFKI"))
        assert (await connector.get_customer(GetCustomer(customer_id="ALFKI"))).city == "Berlin"
    finally:
        await connector.close()


# -- a missing or damaged file ----------------------------------------------------------------------


async def test_missing_file_is_retryable_and_never_created(northwind_db: SqlDemoDatabase) -> None:
    northwind_db.remove()
    connector = await _opened(northwind_db)
    try:
        with pytest.raises(RetryableError, match="unable to open database file"):
            await connector.get_customer(GetCustomer(customer_id="ALFKI"))
        assert not northwind_db.path.exists()  # SQLite did not create an empty database
        northwind_db.prepare()  # the file comes back (a share remounted)
        assert (await connector.get_customer(GetCustomer(customer_id="ALFKI"))).city == "Berlin"
    finally:
        await connector.close()


async def test_corrupt_file_is_not_retryable(northwind_db: SqlDemoDatabase) -> None:
    northwind_db.corrupt()
    connector = await _opened(northwind_db)
    try:
        with pytest.raises(NonRetryableError, match="corrupt or not a database") as caught:
            await connector.get_customer(GetCustomer(customer_id="ALFKI"))
    finally:
        await connector.close()
    assert not caught.value.retryable


async def test_a_runaway_statement_is_cancelled_at_the_statement_timeout(
    northwind_db: SqlDemoDatabase,
) -> None:
    connector = await _opened(northwind_db, statement_timeout_seconds=0.2)
    endless = text(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000000) "
        "SELECT count(*) AS c FROM n"
    )
    try:
        started = time.monotonic()
        with pytest.raises(RetryableError, match="timed out"):
            await connector.fetch_rows(endless)
        elapsed = time.monotonic() - started
        # The connection is healthy afterwards, and short statements are unaffected.
        assert (await connector.fetch_rows(text("SELECT 1 AS one"))).rows[0]["one"] == 1
    finally:
        await connector.close()
    assert elapsed < 2.0


# -- arguments the database refuses -----------------------------------------------------------------


async def test_constraint_violation_is_an_input_error(
    northwind: NorthwindConnector, northwind_db: SqlDemoDatabase
) -> None:
    class _Req(ShipOrder):
        pass

    async def zero_quantity(tx: SqlTransaction, req: _Req) -> _Req:
        details = await northwind.table("Order Details")
        await tx.execute(update(details).where(details.c.OrderID == req.order_id).values(Quantity=0))
        return req

    with running_call("wf#check"), pytest.raises(ActionInputError, match="CHECK constraint failed") as caught:
        await northwind.write(
            zero_quantity, _Req(order_id=10248, shipped_date=date(1998, 1, 1)), returns=_Req
        )
    assert "refused the values" in caught.value.message
    assert northwind_db.scalar('SELECT min(Quantity) FROM "Order Details" WHERE OrderID = 10248') == 5


async def test_unbindable_values_are_input_errors(northwind: NorthwindConnector) -> None:
    with pytest.raises(ActionInputError, match="refused the arguments"):
        await northwind.fetch_rows(text("SELECT :value AS v"), {"value": ["not", "a", "scalar"]})
    orders = await northwind.table("Orders")

    async def wrong_type(tx: SqlTransaction, req: ShipOrder) -> ShipOrder:
        await tx.execute(update(orders).where(orders.c.OrderID == 11008).values(ShippedDate=3.5))
        return req

    with running_call("wf#bind"), pytest.raises(ActionInputError, match="could not be bound"):
        await northwind.write(
            wrong_type, ShipOrder(order_id=11008, shipped_date=date(1998, 1, 1)), returns=ShipOrder
        )


async def test_schema_drift_is_not_retryable(northwind: NorthwindConnector) -> None:
    with pytest.raises(NonRetryableError, match="does not fit the database schema") as caught:
        await northwind.fetch_rows(text("SELECT NoSuchColumn FROM Customers"))
    assert not isinstance(caught.value, ActionInputError)


async def test_missing_table_is_named(northwind_db: SqlDemoDatabase) -> None:
    class Broken(NorthwindConnector):
        tables: ClassVar[tuple[str, ...]] = ("Customers", "Ghost Table")

    connector = Broken(settings_for(northwind_db))
    await connector.open()
    try:
        with pytest.raises(NonRetryableError, match="no table 'Ghost Table'"):
            await connector.table("Customers")
    finally:
        await connector.close()


# -- the mapping for server databases (PostgreSQL), with the driver's exception simulated -----------


class _PgError(Exception):
    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error_class", "message", "sqlstate", "expected"),
    [
        (sa.OperationalError, 'password authentication failed for user "erp"', "28P01", AuthError),
        (sa.OperationalError, "no pg_hba.conf entry for host", "28000", AuthError),
        (sa.ProgrammingError, "permission denied for table orders", "42501", AuthError),
        (
            sa.OperationalError,
            "connection to server at 127.0.0.1 failed: Connection refused",
            "08001",
            NotSentError,  # no connection: nothing reached the database
        ),
        (sa.OperationalError, "canceling statement due to statement timeout", "57014", RetryableError),
        (sa.OperationalError, "could not obtain lock on row", "55P03", RetryableError),
        (sa.OperationalError, "deadlock detected", "40P01", RetryableError),
        (sa.IntegrityError, "duplicate key value violates unique constraint", "23505", ActionInputError),
        (sa.DataError, "invalid input syntax for type integer", "22P02", ActionInputError),
        (sa.ProgrammingError, 'relation "ordrs" does not exist', "42P01", NonRetryableError),
    ],
)
def test_postgres_errors_map_by_sqlstate(
    error_class: type[sa.DBAPIError], message: str, sqlstate: str, expected: type[Exception]
) -> None:
    error = map_db_error(
        error_class("SELECT 1", None, _PgError(message, sqlstate)), where="erp SELECT", secrets=["hunter2"]
    )
    assert type(error) is expected


def test_secrets_are_scrubbed_from_driver_messages() -> None:
    orig = _PgError("could not connect to postgresql://erp:hunter2@db/erp", "08006")
    error = map_db_error(
        sa.OperationalError("SELECT 1", None, orig), where="erp connecting", secrets=["hunter2"]
    )
    assert isinstance(error, RetryableError)
    assert "hunter2" not in str(error)
    assert "[REDACTED]" in str(error)


def test_pool_exhaustion_is_retryable() -> None:
    error = map_db_error(
        sa.TimeoutError("QueuePool limit of size 5 overflow 0 reached"), where="erp connecting"
    )
    assert isinstance(error, RetryableError)
    assert error.delivery is Delivery.NOT_SENT


@pytest.mark.parametrize(
    ("sqlstate", "delivery"),
    [
        ("40P01", Delivery.ANSWERED),  # deadlock: the transaction rolled back
        ("57014", Delivery.ANSWERED),  # cancelled statement: rolled back
        ("08001", Delivery.NOT_SENT),
        ("08006", Delivery.UNKNOWN),  # the connection broke mid-call: a COMMIT may have landed
        ("57P01", Delivery.UNKNOWN),  # the server went away mid-call
    ],
)
def test_database_errors_say_whether_the_write_may_have_landed(sqlstate: str, delivery: Delivery) -> None:
    error = map_db_error(
        sa.OperationalError("UPDATE t", None, _PgError("trouble", sqlstate)), where="erp UPDATE"
    )
    assert error.delivery is delivery
