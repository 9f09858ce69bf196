"""The demo SQL legacy database: seeding a working copy, resetting it, and its injected faults."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from legacy.sqldb.database import SEED_PATH, SeedMissing, SqlDemoDatabase, main

pytestmark = pytest.mark.timeout(30)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_prepare_copies_the_seed_quickly_and_leaves_it_alone(tmp_path: Path, record_property: Any) -> None:
    before = _digest(SEED_PATH)
    database = SqlDemoDatabase(tmp_path / "demo")
    path = database.prepare()

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


def test_the_default_seed_sits_beside_the_repository() -> None:
    repo = Path(__file__).resolve().parents[3]
    expected = repo.parent / "shared" / "data" / "db" / "northwind.sqlite"
    assert expected == SEED_PATH


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
