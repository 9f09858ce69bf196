"""`read_database()` on hostile and broken databases: odd names, legacy storage, missing keys,
broken views, bad URLs, passwords. Runs in any clone (no ../shared needed)."""

from __future__ import annotations

import importlib
import sqlite3
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from connectors.scaffold.database import read_database
from connectors.scaffold.database.connect import without_password
from connectors.scaffold.errors import SourceError
from connectors.scaffold.package import GeneratedPackage
from connectors.scaffold.selection import Selection
from connectors.scaffold.writer import connector_class_name, package_name, write_package
from legacy.sqldb.database import SqlDemoDatabase
from retrofit.sdk import ActionInputError
from retrofit.sdk.context import running_call
from tests.scaffold.support import VENV_BIN, installed, mypy_strict, run

pytestmark = pytest.mark.timeout(240)

ODD = 'odd "name" \\ \'\'\' """ table'
HOSTILE_SQL = f"""
CREATE TABLE "{ODD.replace('"', '""')}" (
    "id" INTEGER PRIMARY KEY,
    "class" TEXT NOT NULL,
    "json" TEXT,
    "limit" INTEGER,
    "order id" INTEGER,
    "OrderId" INTEGER,
    "1st col" REAL,
    "naïve" VARCHAR(5),
    "price" NUMERIC DEFAULT 0,
    "when" DATETIME,
    "blob" BLOB,
    "changes" TEXT,
    "model_config" TEXT
);
INSERT INTO "{ODD.replace('"', '""')}" ("class", "json", "limit", "when", "price", "blob")
VALUES ('a', '{{}}', 1, '1996-07-04 00:00:00.000', 12, x'00ff'), ('b', NULL, 2, 'not a date', 3.5, NULL);
CREATE TABLE nokey (a TEXT, b INTEGER);
INSERT INTO nokey VALUES ('x', 1), ('y', 2), ('x', 1);
CREATE TABLE nullkey (code TEXT PRIMARY KEY, v INTEGER);
INSERT INTO nullkey VALUES (NULL, 1), ('a', 2);
CREATE TABLE twins ("x y" INTEGER PRIMARY KEY, "x_y" INTEGER);
INSERT INTO twins VALUES (1, 2);
CREATE TABLE mixed (code TEXT PRIMARY KEY, n INTEGER);
INSERT INTO mixed VALUES ('A', 1), ('B', 'two'), (3, 3);
CREATE TABLE onlyblob (id BLOB PRIMARY KEY, data BLOB);
CREATE TABLE gone (x INTEGER);
CREATE VIEW broken AS SELECT x FROM gone;
DROP TABLE gone;
CREATE TABLE "select" ("from" TEXT PRIMARY KEY, "where" INTEGER NOT NULL);
INSERT INTO "select" VALUES ('f', 1);
CREATE TABLE "Order-Details" (id INTEGER PRIMARY KEY, qty INTEGER);
CREATE TABLE "order details" (id INTEGER PRIMARY KEY, qty INTEGER);
CREATE TABLE retrofit_idempotency (key TEXT PRIMARY KEY);
CREATE VIEW computed AS SELECT "class" || '!' AS shout, "limit" * 2 AS twice FROM "{ODD.replace('"', '""')}";
"""


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    path = tmp_path / "hostile.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(HOSTILE_SQL)
    return path


@pytest.fixture
def import_generated(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Import an installed generated connector in this process; forgotten again afterwards."""
    loaded: list[str] = []

    def load(site: Path, name: str) -> Any:
        monkeypatch.syspath_prepend(str(site))
        loaded.append(package_name(name))
        return getattr(importlib.import_module(f"{package_name(name)}.connector"), connector_class_name(name))

    yield load
    for module in [m for m in sys.modules if m.split(".")[0] in loaded]:
        del sys.modules[module]


def everything(name: str, url: str, writes: str | None = None) -> GeneratedPackage:
    return read_database(name, url, Selection.parse(None), Selection.parse(writes))


async def test_hostile_names_and_legacy_storage_generate_typed_code_that_runs(
    tmp_path: Path, hostile: Path, import_generated: Any
) -> None:
    url = f"sqlite:///{hostile}"
    package = _read_without_writing(hostile, url)
    skipped = {s.ref: s.reason for s in package.skipped}
    assert "cannot" in skipped["view broken"] or "fails" in skipped["view broken"]
    assert skipped["table retrofit_idempotency"].startswith("Retrofit's own")
    assert skipped["table onlyblob"] == "no column has a Python type"
    assert skipped["writes to table nokey"] == "no usable primary key to find the written row by"
    assert "writes to view computed" in skipped
    assert {"order_details", "order_details_2", "select"} <= set(package.groups)
    # A NULL in a TEXT primary key (SQLite allows it): keyset paging would stop there.
    (nullkey,) = package.groups["nullkey"]
    assert "offset" in nullkey.effect.reason and any("some rows hold NULL" in n for n in nullkey.notes)
    assert "keyset" in package.groups["mixed"][0].effect.reason

    out = tmp_path / "pkg"
    write_package(package, out)
    assert run(VENV_BIN / "ruff", "check", "--select", "E9,F", out).returncode == 0
    checked = mypy_strict(out)
    assert checked.returncode == 0, checked.stdout[-3000:]
    readme = (out / "README.md").read_text()
    assert "declared INTEGER but some rows hold text: typed int | str" in readme  # mixed.n
    assert "column blob: binary" in readme

    site = tmp_path / "site"
    with installed(out, site):
        cls = import_generated(site, "hostile")
    # The file holds a table named like the SQL base's record (skipped above): keep ours apart.
    connector = cls(cls.load_settings(url=url, idempotency_table="retrofit_keys"))
    await connector.open()
    try:
        group = package_name("hostile")
        odd_models = importlib.import_module(f"{group}.models.{_group_of(package, ODD)}")
        odd_read = getattr(connector, f"list_{_group_of(package, ODD)}")
        page = await odd_read(odd_models.__dict__[_model(odd_models, "List")](limit=1))
        assert page.truncated and page.next is not None and len(page.rows) == 1
        row = page.rows[0]
        assert row.class_ == "a" and row.price == Decimal(12) and row.when.year == 1996
        rest = await odd_read(odd_models.__dict__[_model(odd_models, "List")](limit=5, after=page.next))
        assert [r.when for r in rest.rows] == ["not a date"] and not rest.truncated  # legacy text kept

        mixed = importlib.import_module(f"{group}.models.mixed")
        rows = (await connector.list_mixed(mixed.ListMixed())).rows
        assert {r.n for r in rows} == {1, "two", 3}

        # "x y" and "x_y": the answer survives the gate's dump by field name and validation.
        twins = importlib.import_module(f"{group}.models.twins")
        (pair,) = (await connector.list_twins(twins.ListTwins())).rows
        again = type(pair).model_validate(pair.model_dump(mode="json"))
        assert (again.x_y, again.x_y_2) == (pair.x_y, pair.x_y_2) == (2, 1)

        nokey = importlib.import_module(f"{group}.models.nokey")
        first = await connector.list_nokey(nokey.ListNokey(limit=2))
        second = await connector.list_nokey(nokey.ListNokey(limit=2, offset=first.next_offset))
        assert [(r.a, r.b) for r in first.rows + second.rows] == [("x", 1), ("x", 1), ("y", 2)]

        keywords = importlib.import_module(f"{group}.models.select")
        with running_call("hostile.insert_select", "k-1", workflow_id="w", run_id="r"):
            inserted = await connector.insert_select(keywords.InsertSelect(from_="g", where=2))
        assert (inserted.from_, inserted.where) == ("g", 2)
        with (
            running_call("hostile.insert_select", "k-2", workflow_id="w", run_id="r"),
            pytest.raises(ActionInputError),
        ):
            await connector.update_select(keywords.UpdateSelect(from_="nope", changes={"where": 3}))
    finally:
        await connector.close()


def _read_without_writing(path: Path, url: str) -> GeneratedPackage:
    before = path.read_bytes()
    package = everything("hostile", url, writes="*")
    assert path.read_bytes() == before  # the reader never writes, not even a journal
    return package


def _group_of(package: GeneratedPackage, table: str) -> str:
    return next(g for g, actions in package.groups.items() if actions[0].source_ref == f"table {table}")


def _model(module: ModuleType, prefix: str) -> str:
    return next(str(n) for n in vars(module) if n.startswith(prefix) and n != "Literal")


def test_the_password_is_never_written(tmp_path: Path) -> None:
    url = "postgresql://scaffold:hunter2-Secret@127.0.0.1:9/erp"
    assert without_password(url) == "postgresql://scaffold@127.0.0.1:9/erp"
    with pytest.raises(SourceError) as info:
        everything("erp", url)
    assert "hunter2" not in str(info.value) and "cannot read the database" in str(info.value)
    # libpq also takes the password as a query parameter.
    query = "postgresql://scaffold@127.0.0.1:9/erp?sslmode=disable&password=qq-Secret&sslpassword=zz-Secret"
    assert without_password(query) == "postgresql://scaffold@127.0.0.1:9/erp?sslmode=disable"
    with pytest.raises(SourceError) as info:
        everything("erp", query)
    assert "Secret" not in str(info.value)


def test_unusable_urls_and_names_are_one_sentence(tmp_path: Path) -> None:
    missing = tmp_path / "nope.sqlite"
    with pytest.raises(SourceError, match="unable to open database file"):
        everything("nope", f"sqlite:///{missing}")
    assert not missing.exists()  # never created
    with pytest.raises(SourceError, match="cannot be parsed"):
        everything("nope", "not a url at all ::")
    with pytest.raises(SourceError, match="no async driver"):
        everything("nope", "oracle://scott:tiger@db/orcl")
    with pytest.raises(SourceError, match="lower case"):
        everything("Bad-Name", "sqlite://")
    empty = tmp_path / "empty.sqlite"
    sqlite3.connect(empty).close()
    with pytest.raises(SourceError, match="no table or view"):
        everything("empty", f"sqlite:///{empty}")


def test_selection_and_writes_only_when_asked(tmp_path: Path) -> None:
    database = SqlDemoDatabase(tmp_path / "seed")
    database.prepare()
    package = read_database("nw", database.url, Selection.parse("Cust*,Nothing*"), Selection.parse(None))
    assert sorted(package.groups) == [
        "customer_and_suppliers_by_city",  # a view: --tables matches views too
        "customer_customer_demo",
        "customer_demographics",
        "customers",
    ]
    assert all(a.effect.effect.value == "read" for a in package.actions)
    assert "--tables 'nothing*' matched no table or view (check the spelling)" in package.unmatched
    with pytest.raises(SourceError, match="matches --tables"):
        read_database("nw", database.url, Selection.parse("Nothing*"), Selection.parse(None))
    written = read_database("nw", database.url, Selection.parse("Customers"), Selection.parse("customers"))
    assert [a.method for a in written.actions] == ["list_customers", "insert_customers", "update_customers"]
    assert written.source.location == database.url and written.source.kind == "database"
