"""Fixtures for the SQL connector tests: a fresh Northwind database per test, and a connector on it.

Every test gets its own working copy, so writes, locks and damaged files never leak between tests:

- SQLite (the default): a copy of the seed file in `tmp_path` (a millisecond copy of 0.5 MB);
- PostgreSQL, for tests marked `@both_backends` and only when RETROFIT_TEST_POSTGRES_URL names a
  server (`eval "$(bash .ci/postgres)"`): a database created from a template that holds the seed,
  loaded once per session (`CREATE DATABASE ... TEMPLATE` copies files, far faster than loading).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import URL, make_url

from connectors.northwind.connector import NorthwindConnector
from legacy.sqldb.database import SqlDemoDatabase
from legacy.sqldb.postgres import PostgresDemoDatabase, sync_url
from tests.integration.sql.calls import NorthwindDatabase, settings_for


@pytest.fixture(autouse=True)
def backend() -> str:
    """The database behind `northwind_db`; `@both_backends` parametrises it.

    Autouse, so a whole class can be parametrised even where a test reaches no database.
    """
    return "sqlite"


def _admin(url: URL, sql: str) -> None:
    import psycopg

    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:  # CREATE/DROP DATABASE refuse transactions
        conn.execute(sql.encode())


@pytest.fixture(scope="session")
def postgres_northwind_template() -> Iterator[URL]:
    """A database holding the Northwind seed, the template of every test's PostgreSQL copy."""
    server = os.environ.get("RETROFIT_TEST_POSTGRES_URL")
    if not server:
        pytest.skip('set RETROFIT_TEST_POSTGRES_URL (eval "$(bash .ci/postgres)") to run on PostgreSQL')
    pytest.importorskip("psycopg")
    admin = sync_url(make_url(server))
    template = admin.set(database=f"retrofit_northwind_template_{uuid.uuid4().hex[:12]}")
    # Names are ours (a fixed prefix and hex digits): DDL takes no bound parameters.
    _admin(admin, f'CREATE DATABASE "{template.database}"')
    try:
        PostgresDemoDatabase(template).prepare()
        yield template
    finally:
        _admin(admin, f'DROP DATABASE IF EXISTS "{template.database}" WITH (FORCE)')


@pytest.fixture
def northwind_db(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[NorthwindDatabase]:
    if backend == "sqlite":
        database = SqlDemoDatabase(tmp_path / "northwind")
        database.prepare()
        yield database
        return
    template: URL = request.getfixturevalue("postgres_northwind_template")
    copy = template.set(database=f"retrofit_northwind_test_{uuid.uuid4().hex[:12]}")
    _admin(template, f'CREATE DATABASE "{copy.database}" TEMPLATE "{template.database}"')
    try:
        yield PostgresDemoDatabase(copy)
    finally:
        _admin(template, f'DROP DATABASE IF EXISTS "{copy.database}" WITH (FORCE)')


@pytest.fixture
async def northwind(northwind_db: NorthwindDatabase) -> AsyncIterator[NorthwindConnector]:
    connector = NorthwindConnector(settings_for(northwind_db))
    await connector.open()
    try:
        yield connector
    finally:
        await connector.close()
