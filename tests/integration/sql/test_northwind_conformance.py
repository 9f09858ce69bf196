"""The Northwind SQL connector runs the standard conformance suite through its entry point, on the
SQLite working copy and on PostgreSQL (with RETROFIT_TEST_POSTGRES_URL)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from legacy.sqldb.database import SqlDemoDatabase
from legacy.sqldb.faults import HeldLock
from legacy.sqldb.postgres import HeldTableLock, PostgresDemoDatabase
from retrofit.sdk import ActionInputError, ConnectorSettings, RetryableError
from retrofit.testing import CallCase, Cases, ConnectorConformance, ErrorCase, WriteCase
from tests.integration.sql.calls import NorthwindDatabase, both_backends, settings_for


def _sqlite_applied_writes(database: SqlDemoDatabase) -> int:
    with sqlite3.connect(database.path) as conn:
        try:
            return int(conn.execute("SELECT count(*) FROM retrofit_idempotency").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def _postgres_applied_writes(database: PostgresDemoDatabase) -> int:
    if not database.has_table("retrofit_idempotency"):
        return 0
    return int(database.scalar("SELECT count(*) FROM retrofit_idempotency"))


@both_backends
class TestNorthwindConformance(ConnectorConformance):
    entry_point = "northwind"

    @pytest.fixture
    def settings(self, northwind_db: NorthwindDatabase) -> ConnectorSettings:
        return settings_for(northwind_db)

    @pytest.fixture
    def locks(self) -> Iterator[list[HeldLock | HeldTableLock]]:
        held: list[HeldLock | HeldTableLock] = []
        yield held
        for lock in held:
            lock.release()

    @pytest.fixture
    def cases(self, northwind_db: NorthwindDatabase, locks: list[HeldLock | HeldTableLock]) -> Cases:
        database = northwind_db

        def applied_writes() -> int:
            # The legacy table has no change counter; the connector's idempotency record is written
            # in the same transaction as each applied effect, so it counts them.
            if isinstance(database, SqlDemoDatabase):
                return _sqlite_applied_writes(database)
            return _postgres_applied_writes(database)

        def lock_customers() -> None:
            # SQLite: an exclusive lock on the whole file; PostgreSQL: on the Customers table.
            # Either way the read waits for its lock timeout and fails as retryable.
            locks.append(
                HeldLock(database.path) if isinstance(database, SqlDemoDatabase) else database.lock()
            )

        return Cases(
            reads=[
                CallCase("northwind.get_customer", {"customer_id": "ALFKI"}),
                CallCase("northwind.list_orders", {"customer_id": "ALFKI", "limit": 5}),
            ],
            write=WriteCase(
                "northwind.ship_order",
                {"order_id": 11008, "shipped_date": "2026-11-28"},
                effects=applied_writes,
            ),
            errors=[
                ErrorCase("northwind.get_customer", {"customer_id": "NOPE1"}, ActionInputError),
                ErrorCase(
                    "northwind.get_customer",
                    {"customer_id": "ALFKI"},
                    RetryableError,
                    arrange=lock_customers,
                ),
            ],
        )
