"""The Northwind SQL connector runs the standard conformance suite through its entry point."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from legacy.sqldb.database import SqlDemoDatabase
from legacy.sqldb.faults import HeldLock
from retrofit.sdk import ActionInputError, ConnectorSettings, RetryableError
from retrofit.testing import CallCase, Cases, ConnectorConformance, ErrorCase, WriteCase
from tests.integration.sql.calls import settings_for


class TestNorthwindConformance(ConnectorConformance):
    entry_point = "northwind"

    @pytest.fixture
    def settings(self, northwind_db: SqlDemoDatabase) -> ConnectorSettings:
        return settings_for(northwind_db)

    @pytest.fixture
    def locks(self) -> Iterator[list[HeldLock]]:
        held: list[HeldLock] = []
        yield held
        for lock in held:
            lock.release()

    @pytest.fixture
    def cases(self, northwind_db: SqlDemoDatabase, locks: list[HeldLock]) -> Cases:
        path = northwind_db.path

        def applied_writes() -> int:
            # The legacy table has no change counter; the connector's idempotency record is written
            # in the same transaction as each applied effect, so it counts them.
            with sqlite3.connect(path) as conn:
                try:
                    return int(conn.execute("SELECT count(*) FROM retrofit_idempotency").fetchone()[0])
                except sqlite3.OperationalError:
                    return 0

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
                    arrange=lambda: locks.append(HeldLock(path)),
                ),
            ],
        )
