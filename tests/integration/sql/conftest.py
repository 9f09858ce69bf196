"""Fixtures for the SQL connector tests: a fresh Northwind copy per test, and a connector on it.

Every test gets its own working copy in `tmp_path` (a millisecond copy of a 0.5 MB file), so
writes, locks and damaged files never leak between tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from connectors.northwind.connector import NorthwindConnector
from legacy.sqldb.database import SqlDemoDatabase
from tests.integration.sql.calls import settings_for


@pytest.fixture
def northwind_db(tmp_path: Path) -> SqlDemoDatabase:
    database = SqlDemoDatabase(tmp_path / "northwind")
    database.prepare()
    return database


@pytest.fixture
async def northwind(northwind_db: SqlDemoDatabase) -> AsyncIterator[NorthwindConnector]:
    connector = NorthwindConnector(settings_for(northwind_db))
    await connector.open()
    try:
        yield connector
    finally:
        await connector.close()
