"""The demo Northwind database loaded into PostgreSQL: same rows as the seed, PostgreSQL types,
constraints that hold, sequences past the loaded ids, and a loader that resets and stays idempotent.

Runs only with RETROFIT_TEST_POSTGRES_URL (`eval "$(bash .ci/postgres)"`)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from legacy.sqldb.database import SEED_PATH, built_seed
from legacy.sqldb.postgres import PostgresDemoDatabase, main
from tests.integration.sql.calls import NorthwindDatabase

# PostgreSQL only: the SQLite working copy is tested in test_demo_database.
pytestmark = [pytest.mark.timeout(60), pytest.mark.parametrize("backend", ["postgresql"])]


@pytest.fixture
def postgres_db(northwind_db: NorthwindDatabase) -> PostgresDemoDatabase:
    assert isinstance(northwind_db, PostgresDemoDatabase)
    return northwind_db


def _seed_counts() -> dict[str, int]:
    # The database the shipped seed builds (the same one `PostgresDemoDatabase` loads from).
    with closing(sqlite3.connect(":memory:")) as seed:
        seed.deserialize(built_seed(SEED_PATH))
        names = [n for (n,) in seed.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {
            name: seed.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
            for name in names
            if not name.startswith("sqlite_")
        }


def test_every_seed_table_arrives_with_all_its_rows(postgres_db: PostgresDemoDatabase) -> None:
    counts = _seed_counts()
    assert counts["Order Details"] == 2155 and len(counts) == 13
    for name, expected in counts.items():
        assert postgres_db.scalar(f'SELECT count(*) FROM "{name}"') == expected, name


def test_values_get_postgresql_types(postgres_db: PostgresDemoDatabase) -> None:
    [(order_date, shipped, freight)] = postgres_db.query(
        'SELECT "OrderDate", "ShippedDate", "Freight" FROM "Orders" WHERE "OrderID" = ?', (10248,)
    )
    assert (order_date, shipped, freight) == (datetime(1996, 7, 4), datetime(1996, 7, 16), Decimal("32.38"))
    assert postgres_db.scalar('SELECT "BirthDate" FROM "Employees" WHERE "EmployeeID" = 1') == date(
        1948, 12, 8
    )
    prices = postgres_db.query('SELECT "UnitPrice" FROM "Order Details" WHERE "OrderID" = 10248 ORDER BY 1')
    assert prices == [(Decimal("9.8"),), (Decimal("14"),), (Decimal("34.8"),)]  # not 9.8000000000000007
    photo = postgres_db.scalar('SELECT "Photo" FROM "Employees" WHERE "EmployeeID" = 1')
    assert isinstance(photo, bytes) and len(photo) > 10_000


def test_the_seed_constraints_hold_on_postgresql(postgres_db: PostgresDemoDatabase) -> None:
    import psycopg

    with pytest.raises(IntegrityError) as check:
        postgres_db.execute('UPDATE "Order Details" SET "Quantity" = 0 WHERE "OrderID" = ?', (10248,))
    with pytest.raises(IntegrityError) as unique:
        postgres_db.execute(
            'INSERT INTO "Customers" ("CustomerID", "CompanyName") VALUES (?, ?)', ("ALFKI", "Twin")
        )
    with pytest.raises(IntegrityError) as foreign:  # checked at commit: the keys are deferred
        postgres_db.execute('UPDATE "Orders" SET "CustomerID" = ? WHERE "OrderID" = 10248', ("NOONE",))
    assert isinstance(check.value.orig, psycopg.errors.CheckViolation)
    assert isinstance(unique.value.orig, psycopg.errors.UniqueViolation)
    assert isinstance(foreign.value.orig, psycopg.errors.ForeignKeyViolation)
    assert postgres_db.scalar('SELECT "CustomerID" FROM "Orders" WHERE "OrderID" = 10248') == "VINET"


def test_new_rows_get_fresh_ids(postgres_db: PostgresDemoDatabase) -> None:
    [(new_id,)] = postgres_db.execute(
        'INSERT INTO "Shippers" ("CompanyName") VALUES (?) RETURNING "ShipperID"', ("Speedy Too",)
    )
    assert new_id == 4  # past the three loaded shippers


def test_prepare_resets_and_the_command_loads_only_when_asked(
    postgres_db: PostgresDemoDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    postgres_db.execute('DELETE FROM "Order Details" WHERE "OrderID" = ?', (10248,))
    postgres_db.execute("CREATE TABLE retrofit_idempotency (idempotency_key TEXT PRIMARY KEY)")
    main(["load", "--url", postgres_db.url, "--if-empty"])  # tables exist: left alone
    assert postgres_db.scalar('SELECT count(*) FROM "Order Details"') == 2155 - 3
    assert "already loaded" in capsys.readouterr().out

    main(["load", "--url", postgres_db.url])
    assert postgres_db.scalar('SELECT count(*) FROM "Order Details"') == 2155
    assert not postgres_db.has_table("retrofit_idempotency")  # a reset forgets the record too
    out = capsys.readouterr().out
    assert "loaded" in out
    password = make_url(postgres_db.url).password
    assert not password or password not in out
