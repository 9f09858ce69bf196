"""The demo SQL legacy database: seeding a working copy, resetting it, and its injected faults."""

from __future__ import annotations

import hashlib
import importlib.resources
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from legacy.sqldb import dump_seed
from legacy.sqldb.database import SEED_PATH, SeedInvalid, SeedMissing, SqlDemoDatabase, built_seed, main
from tests.shared_data import needs_shared_data, shared_data

pytestmark = pytest.mark.timeout(30)

# The file the shipped seed was dumped from: CI has it beside the checkout, a user's clone does not.
SHARED_NORTHWIND = shared_data("db", "northwind.sqlite")
# Rows per table in the Northwind seed, as the connector tests and the demo rely on them.
SEED_ROWS = {
    "Categories": 8,
    "CustomerCustomerDemo": 0,
    "CustomerDemographics": 0,
    "Customers": 93,
    "EmployeeTerritories": 49,
    "Employees": 9,
    "Order Details": 2155,
    "Orders": 830,
    "Products": 77,
    "Regions": 4,
    "Shippers": 3,
    "Suppliers": 29,
    "Territories": 53,
}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_prepare_copies_the_seed_quickly_and_leaves_it_alone(tmp_path: Path, record_property: Any) -> None:
    before = _digest(SEED_PATH)
    database = SqlDemoDatabase(tmp_path / "demo")
    path = database.prepare()
    with sqlite3.connect(path) as connection:  # the copy is writable; the seed stays as it was
        connection.execute("UPDATE Customers SET City = 'Nowhere' WHERE CustomerID = 'ALFKI'")

    assert path == tmp_path / "demo" / "northwind.sqlite"
    assert database.url == f"sqlite:///{path}"
    assert database.scalar("SELECT count(*) FROM Customers") == 93
    assert database.scalar('SELECT count(*) FROM "Order Details"') == 2155
    assert database.prepare_seconds is not None
    record_property("sqldb_prepare_seconds", round(database.prepare_seconds, 4))
    print(f"demo SQL database prepared in {database.prepare_seconds * 1000:.1f} ms")
    assert database.prepare_seconds < 2.0
    assert _digest(SEED_PATH) == before


def test_reset_brings_back_the_seed(northwind_db: SqlDemoDatabase) -> None:
    with sqlite3.connect(northwind_db.path) as connection:
        connection.execute("DELETE FROM Customers WHERE CustomerID = 'ALFKI'")
    assert northwind_db.scalar("SELECT count(*) FROM Customers") == 92
    northwind_db.reset()
    assert northwind_db.scalar("SELECT count(*) FROM Customers") == 93


def test_a_missing_seed_fails_with_a_clear_message(tmp_path: Path) -> None:
    database = SqlDemoDatabase(tmp_path / "demo", seed=tmp_path / "nowhere" / "northwind.sqlite")
    with pytest.raises(SeedMissing, match=r"seed database is missing: expected .*nowhere"):
        database.prepare()
    assert not (tmp_path / "demo").exists()


def test_the_default_seed_ships_inside_the_package_with_its_licence() -> None:
    packaged = importlib.resources.files("legacy.sqldb").joinpath("seed", "northwind.sql")
    assert Path(str(packaged)) == SEED_PATH and SEED_PATH.is_file()
    header = SEED_PATH.read_text(encoding="utf-8")[:600]
    assert "MIT licence" in header and "jpwhite3/northwind-SQLite3" in header
    licence = (SEED_PATH.parent / "NORTHWIND-LICENSE").read_text(encoding="utf-8")
    assert "The MIT License (MIT)" in licence and "Copyright (c) 2016 JP White" in licence


def test_the_shipped_seed_has_every_table_view_and_row(tmp_path: Path) -> None:
    database = SqlDemoDatabase(tmp_path / "demo")
    database.prepare()
    tables = [n for (n,) in database.query("SELECT name FROM sqlite_master WHERE type = 'table'")]
    counts = {name: database.scalar(f'SELECT count(*) FROM "{name}"') for name in tables}
    assert counts.pop("sqlite_sequence") == 6
    assert counts == SEED_ROWS
    assert database.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'view'") == 16
    assert database.scalar('SELECT count(*) FROM "Order Details Extended"') == 2155
    assert database.scalar("SELECT seq FROM sqlite_sequence WHERE name = 'Orders'") == 11077
    assert (
        database.scalar("SELECT CompanyName FROM Customers WHERE CustomerID = 'ALFKI'")
        == "Alfreds Futterkiste"
    )
    photo = database.scalar("SELECT Photo FROM Employees WHERE EmployeeID = 1")
    assert isinstance(photo, bytes) and len(photo) > 10_000
    assert database.scalar("PRAGMA integrity_check") == "ok"


def _contents(image: bytes) -> tuple[list[tuple[Any, ...]], dict[str, list[tuple[Any, ...]]]]:
    """The schema (every object's SQL) and every table's rows, each value with its storage class."""
    connection = sqlite3.connect(":memory:")
    try:
        connection.deserialize(image)
        schema = connection.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"
        ).fetchall()
        rows = {}
        for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            columns = [c[1] for c in connection.execute(f'PRAGMA table_info("{name}")')]
            # typeof() too: a dump that turned 32.38 into '32.38' or 14 into 14.0 would differ.
            picked = ", ".join(f'"{c}", typeof("{c}")' for c in columns)
            rows[name] = connection.execute(f'SELECT {picked} FROM "{name}" ORDER BY rowid').fetchall()
        return schema, rows
    finally:
        connection.close()


@needs_shared_data("db", "northwind.sqlite")
def test_the_shipped_seed_is_the_shared_northwind_database_exactly() -> None:
    shipped_schema, shipped_rows = _contents(built_seed(SEED_PATH))
    shared_schema, shared_rows = _contents(SHARED_NORTHWIND.read_bytes())
    assert shipped_schema == shared_schema
    assert shipped_rows.keys() == shared_rows.keys()
    for name, rows in shared_rows.items():
        assert shipped_rows[name] == rows, name
    assert {name: len(rows) for name, rows in shipped_rows.items() if name != "sqlite_sequence"} == SEED_ROWS


@needs_shared_data("db", "northwind.sqlite")
def test_the_dump_script_writes_the_shipped_seed_from_the_database(tmp_path: Path) -> None:
    out = tmp_path / "northwind.sql"
    dump_seed.main([str(SHARED_NORTHWIND), "--out", str(out)])
    assert _contents(built_seed(out)) == _contents(built_seed(SEED_PATH))
    digest = hashlib.sha256(SHARED_NORTHWIND.read_bytes()).hexdigest()
    assert f"sha256 {digest}" in SEED_PATH.read_text(encoding="utf-8")[:600]


def test_a_database_file_works_as_a_seed_too(tmp_path: Path) -> None:
    source = SqlDemoDatabase(tmp_path / "source")
    source.prepare()
    with sqlite3.connect(source.path) as connection:
        connection.execute("DELETE FROM Customers WHERE CustomerID = 'ALFKI'")
    copy = SqlDemoDatabase(tmp_path / "copy", seed=source.path)
    copy.prepare()
    assert copy.scalar("SELECT count(*) FROM Customers") == 92


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (
            b"CREATE TABLE Customers (CustomerID TEXT);\nINSERT INTO Customers VALUES(",
            r"incomplete input|syntax",
        ),
        (b"-- nothing but a comment\n", r"creates no table"),
        (b"\xff\xfe not text", r"not UTF-8 SQL text"),
    ],
)
def test_a_seed_that_does_not_build_fails_with_a_clear_message(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    seed = tmp_path / "broken.sql"
    seed.write_bytes(content)
    database = SqlDemoDatabase(tmp_path / "demo", seed=seed)
    with pytest.raises(SeedInvalid, match=rf"seed .*broken.sql does not build a database: .*({problem})"):
        database.prepare()
    assert not (tmp_path / "demo").exists()


def test_a_seed_rewritten_in_place_is_built_anew(tmp_path: Path) -> None:
    seed = tmp_path / "seed.sql"
    seed.write_text("CREATE TABLE Customers (CustomerID TEXT);", encoding="utf-8")
    database = SqlDemoDatabase(tmp_path / "demo", seed=seed)
    database.prepare()
    assert database.scalar("SELECT count(*) FROM Customers") == 0
    seed.write_text(
        "CREATE TABLE Customers (CustomerID TEXT); INSERT INTO Customers VALUES ('A1');", encoding="utf-8"
    )
    database.prepare()
    assert database.scalar("SELECT count(*) FROM Customers") == 1


def test_command_line_prepare(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["prepare", "--dir", str(tmp_path / "cli")])
    assert (tmp_path / "cli" / "northwind.sqlite").is_file()
    assert "RETROFIT_NORTHWIND_URL=sqlite:///" in capsys.readouterr().out


def test_held_lock_shuts_out_other_connections_until_released(northwind_db: SqlDemoDatabase) -> None:
    with northwind_db.lock() as lock:
        assert lock.held
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            northwind_db.query("SELECT 1 FROM Customers", timeout=0.05)
    assert not lock.held
    assert northwind_db.scalar("SELECT count(*) FROM Customers") == 93


def test_held_lock_can_release_itself(northwind_db: SqlDemoDatabase) -> None:
    lock = northwind_db.lock(seconds=0.1)
    deadline = time.monotonic() + 5
    while lock.held and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not lock.held
    lock.release()  # a second release is harmless
    assert northwind_db.scalar("SELECT count(*) FROM Customers") == 93
