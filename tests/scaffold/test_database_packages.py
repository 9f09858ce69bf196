"""`--from-db`: real databases become installable, type-checked, conformance-passing connector
packages whose READ actions page by keyset through the gate on a real Temporal test server.

Material: Chinook and Northwind from ../shared/data (skipped with a reason without it), the
Northwind seed that ships in the repository (legacy/sqldb/seed, always there), and PostgreSQL
when RETROFIT_TEST_POSTGRES_URL names a server (`eval "$(bash .ci/postgres)"`; skipped otherwise).
Each test prints its figures (time from URL to a working read, share generated cleanly).
"""

from __future__ import annotations

import importlib
import os
import shutil
import sqlite3
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from connectors.scaffold.database import read_database
from connectors.scaffold.package import GeneratedPackage
from connectors.scaffold.selection import Selection
from connectors.scaffold.writer import connector_class_name, package_name, write_package
from connectors.sql import SqlConnector
from legacy.sqldb.database import SqlDemoDatabase
from retrofit.plugin import RetrofitPlugin
from retrofit.registry import connectors_from_classes
from retrofit.sdk import ActionInputError
from retrofit.sdk.context import running_call
from tests.identity_support import PIN
from tests.scaffold.support import VENV_BIN, installed, mypy_strict, run
from tests.shared_data import require_shared_data
from workflows.single_action.workflow import SingleAction, SingleActionInput, SingleActionResult

pytestmark = pytest.mark.timeout(300)

CHINOOK_TABLES = 11
NORTHWIND_TABLES, NORTHWIND_VIEWS = 13, 16


def share(package: GeneratedPackage) -> str:
    """`generated/total, clean/total`: a table or view is clean when every column has a type (none
    left out, none a loose union); typed from its values (a computed view column) counts as clean."""
    reads = [a for a in package.actions if a.method.startswith("list_")]
    total = len(reads) + sum(1 for s in package.skipped if s.ref.startswith(("table ", "view ")))
    rough = ("left out", "some rows hold", "loosely typed")
    clean = sum(1 for a in reads if not any(r in n for n in a.notes for r in rough))
    return f"{len(reads)}/{total} generated, {clean}/{total} cleanly"


class Laps:
    """Seconds per stage, from the URL to a working read: `generate 0.2 s, checks 14.1 s, ...`."""

    def __init__(self) -> None:
        self._last = self._began = time.perf_counter()
        self.laps: list[str] = []

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.laps.append(f"{stage} {now - self._last:.1f} s")
        self._last = now

    def __str__(self) -> str:
        return f"{', '.join(self.laps)}; URL to a working read {self._last - self._began:.1f} s"


def generate(name: str, url: str, out: Path, *, writes: str | None = None) -> GeneratedPackage:
    package = read_database(name, url, Selection.parse(None), Selection.parse(writes))
    write_package(package, out)
    return package


def check_package(out: Path, site: Path, name: str) -> dict[str, str]:
    """mypy --strict, install into `site`, `retrofit connectors list`, the package's own
    conformance test; returns the environment that sees the installed package."""
    checked = mypy_strict(out)
    assert checked.returncode == 0, checked.stdout[-3000:]
    with installed(out, site) as env:
        listed = run(VENV_BIN / "retrofit", "connectors", "list", env=env)
        plugin = f"{name} = {package_name(name)}.connector:{connector_class_name(name)}"
        assert plugin in listed.stdout, listed.stdout[-2000:] + listed.stderr[-2000:]
        conformance = run(VENV_BIN / "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=out, env=env)
        assert conformance.returncode == 0, conformance.stdout[-3000:]
        assert " passed" in conformance.stdout
        return env


@pytest.fixture
def import_generated(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Import an installed generated connector class into this process, and forget it after
    (sys.path and sys.modules), so later tests on this worker never see it."""
    loaded: list[str] = []

    def load(site: Path, name: str) -> type[SqlConnector]:
        monkeypatch.syspath_prepend(str(site))
        module = importlib.import_module(f"{package_name(name)}.connector")
        loaded.append(package_name(name))
        cls: type[SqlConnector] = getattr(module, connector_class_name(name))
        assert issubclass(cls, SqlConnector)
        return cls

    yield load
    for module in [m for m in sys.modules if m.split(".")[0] in loaded]:
        del sys.modules[module]


async def through_the_gate(
    env: WorkflowEnvironment,
    cls: type[SqlConnector],
    url: str,
    audit_url: str,
    calls: list[tuple[str, dict[str, Any]]],
) -> list[dict[str, Any]]:
    """Each (action, arguments) as a SingleAction workflow: validation, policy, audit, activity."""
    queue = f"scaffold-db-{uuid.uuid4()}"
    plugin = RetrofitPlugin(
        connectors=connectors_from_classes([cls]),
        workflows=[SingleAction],
        audit_url=audit_url,
        settings_overrides={cls.name: cls.load_settings(url=url)},
        identity=PIN,
    )
    outputs = []
    async with Worker(env.client, task_queue=queue, plugins=[plugin]):
        for action, arguments in calls:
            result = await env.client.execute_workflow(
                "SingleAction",
                SingleActionInput(action=action, arguments=arguments),
                id=f"scaffold-db-{uuid.uuid4().hex[:12]}",
                task_queue=queue,
                result_type=SingleActionResult,
            )
            outputs.append(result.output)
    return outputs


async def read_two_pages(
    env: WorkflowEnvironment, cls: type[SqlConnector], url: str, audit_url: str, action: str, limit: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    (first,) = await through_the_gate(env, cls, url, audit_url, [(action, {"limit": limit})])
    assert first["truncated"] and first["next"] is not None and len(first["rows"]) == limit
    (second,) = await through_the_gate(
        env, cls, url, audit_url, [(action, {"limit": limit, "after": first["next"]})]
    )
    return first, second


def copy_of(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / source.name
    shutil.copyfile(source, target)
    return target


def ordered_ids(path: Path, sql: str) -> list[Any]:
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute(sql)]


# -- Chinook and Northwind from ../shared/data ----------------------------------------------------


async def test_chinook_end_to_end(
    tmp_path: Path, time_skipping_env: WorkflowEnvironment, audit_url: str, import_generated: Any
) -> None:
    database = copy_of(require_shared_data("db", "chinook.sqlite"), tmp_path)
    url = f"sqlite:///{database}"
    laps = Laps()
    out = tmp_path / "chinook-connector"
    package = generate("chinook", url, out)
    laps.lap("generate")
    assert len(package.groups) == CHINOOK_TABLES and not package.skipped
    assert all(a.effect.effect.value == "read" for a in package.actions)  # no --writes: read-only
    site = tmp_path / "site"
    check_package(out, site, "chinook")
    laps.lap("mypy+install+list+conformance")
    cls = import_generated(site, "chinook")
    first, second = await read_two_pages(time_skipping_env, cls, url, audit_url, "chinook.list_track", 200)
    laps.lap("two gated pages")
    expected = ordered_ids(database, 'SELECT "TrackId" FROM "Track" ORDER BY "TrackId" LIMIT 400')
    assert [r["track_id"] for r in first["rows"] + second["rows"]] == expected
    assert first["next"] == {"track_id": expected[199]}
    # Composite key (PlaylistId, TrackId): the second page starts right after the first.
    first, second = await read_two_pages(
        time_skipping_env, cls, url, audit_url, "chinook.list_playlist_track", 50
    )
    pairs = [(r["playlist_id"], r["track_id"]) for r in first["rows"] + second["rows"]]
    with sqlite3.connect(database) as conn:
        assert (
            pairs
            == conn.execute(
                'SELECT "PlaylistId", "TrackId" FROM "PlaylistTrack" ORDER BY 1, 2 LIMIT 100'
            ).fetchall()
        )
    print(f"\nchinook: {share(package)}; {laps}")


async def test_northwind_end_to_end_with_views(
    tmp_path: Path, time_skipping_env: WorkflowEnvironment, audit_url: str, import_generated: Any
) -> None:
    database = copy_of(require_shared_data("db", "northwind.sqlite"), tmp_path)
    url = f"sqlite:///{database}"
    laps = Laps()
    out = tmp_path / "northwind-connector"
    package = generate("nwshared", url, out)
    laps.lap("generate")
    kinds = [a.source_ref.split()[0] for a in package.actions]
    assert (kinds.count("table"), kinds.count("view")) == (NORTHWIND_TABLES, NORTHWIND_VIEWS), package.skipped
    readme = (out / "README.md").read_text()
    assert "pages by OFFSET" in readme and "column Picture: binary" in readme
    # Access SQL in a SQLite view: `FirstName + ' ' + LastName` is arithmetic here, so the
    # column holds 0; the model says what the view really returns.
    assert "column Salesperson: declares no type; typed int" in readme
    site = tmp_path / "site"
    check_package(out, site, "nwshared")
    laps.lap("mypy+install+list+conformance")
    cls = import_generated(site, "nwshared")
    first, second = await read_two_pages(time_skipping_env, cls, url, audit_url, "nwshared.list_orders", 100)
    laps.lap("two gated pages")
    expected = ordered_ids(database, 'SELECT "OrderID" FROM "Orders" ORDER BY 1 LIMIT 200')
    assert [r["order_id"] for r in first["rows"] + second["rows"]] == expected
    assert first["rows"][0]["order_date"].startswith("1996-07-04")  # legacy DATETIME text, read as a date
    # A view pages by offset: the second page continues where the first stopped.
    (page1, page2) = await through_the_gate(
        time_skipping_env,
        cls,
        url,
        audit_url,
        [
            ("nwshared.list_invoices", {"limit": 300}),
            ("nwshared.list_invoices", {"limit": 300, "offset": 300}),
        ],
    )
    assert page1["next_offset"] == 300 and page1["truncated"] and len(page2["rows"]) == 300
    print(f"\nnorthwind (shared): {share(package)}; {laps}")


# -- the Northwind seed in the repository: runs in any clone ------------------------------------


@pytest.fixture
def seed_database(tmp_path: Path) -> SqlDemoDatabase:
    database = SqlDemoDatabase(tmp_path / "seed")
    database.prepare()
    return database


async def test_seed_package_reads_through_the_gate_and_writes_once_per_key(
    tmp_path: Path,
    seed_database: SqlDemoDatabase,
    time_skipping_env: WorkflowEnvironment,
    audit_url: str,
    import_generated: Any,
) -> None:
    url = seed_database.url
    laps = Laps()
    out = tmp_path / "seed-connector"
    # A few tables and a view keep this quick: the whole of Northwind is the test above.
    package = read_database(
        "nwseed",
        url,
        Selection.parse("Customers,Shippers,Order Details,Invoices"),
        Selection.parse("Customers,Shippers,Order Details,Invoices"),
    )
    write_package(package, out)
    laps.lap("generate")
    writes = sorted(a.method for a in package.actions if a.effect.effect.value == "write")
    assert writes == [
        "insert_customers",
        "insert_order_details",
        "insert_shippers",
        "update_customers",
        "update_order_details",
        "update_shippers",
    ]
    assert any(s.ref == "writes to view Invoices" for s in package.skipped)  # asked, refused: a view
    assert "WRITE" in (out / "README.md").read_text()
    site = tmp_path / "site"
    check_package(out, site, "nwseed")
    laps.lap("mypy+install+list+conformance")
    cls = import_generated(site, "nwseed")
    first, second = await read_two_pages(time_skipping_env, cls, url, audit_url, "nwseed.list_customers", 40)
    laps.lap("two gated pages")
    print(f"\nnorthwind (seed, 3 tables and a view): {share(package)}; {laps}")
    ids = ordered_ids(seed_database.path, 'SELECT "CustomerID" FROM "Customers" ORDER BY 1')
    assert [r["customer_id"] for r in first["rows"] + second["rows"]] == ids[:80]

    connector = cls(cls.load_settings(url=url))
    await connector.open()
    try:
        await _writes_are_idempotent(connector, seed_database)
    finally:
        await connector.close()


async def _writes_are_idempotent(connector: Any, database: SqlDemoDatabase) -> None:
    models = importlib.import_module("nwseed_connector.models.shippers")
    before = database.scalar('SELECT count(*) FROM "Shippers"')
    arguments = models.InsertShippers(company_name="Scaffold Freight", phone="(503) 555-0199")
    with running_call("nwseed.insert_shippers", "key-insert-1", workflow_id="wf", run_id="r"):
        first = await connector.insert_shippers(arguments)
    with running_call("nwseed.insert_shippers", "key-insert-1", workflow_id="wf", run_id="r"):
        again = await connector.insert_shippers(arguments)
    assert first == again and first.shipper_id is not None
    assert database.scalar('SELECT count(*) FROM "Shippers"') == before + 1  # one key, one row

    customers = importlib.import_module("nwseed_connector.models.customers")
    change = customers.UpdateCustomers(
        customer_id="ALFKI", changes=customers.CustomersChanges(city="Leipzig"), set_null=["fax"]
    )
    with running_call("nwseed.update_customers", "key-update-1", workflow_id="wf", run_id="r"):
        updated = await connector.update_customers(change)
    assert (updated.city, updated.fax, updated.company_name) == ("Leipzig", None, "Alfreds Futterkiste")
    nobody = customers.UpdateCustomers(customer_id="QQQQQ", changes=customers.CustomersChanges(city="X"))
    with (
        running_call("nwseed.update_customers", "key-update-2", workflow_id="wf", run_id="r"),
        pytest.raises(ActionInputError),
    ):
        await connector.update_customers(nobody)
    empty = customers.UpdateCustomers(customer_id="ALFKI", changes=customers.CustomersChanges())
    with (
        running_call("nwseed.update_customers", "key-update-3", workflow_id="wf", run_id="r"),
        pytest.raises(ActionInputError, match="nothing to change"),
    ):
        await connector.update_customers(empty)


# -- PostgreSQL, when CI provides one -------------------------------------------------------------


@pytest.fixture
def postgres_seed_url() -> Iterator[str]:
    server = os.environ.get("RETROFIT_TEST_POSTGRES_URL")
    if not server:
        pytest.skip('set RETROFIT_TEST_POSTGRES_URL (eval "$(bash .ci/postgres)") to run on PostgreSQL')
    pytest.importorskip("psycopg")
    from legacy.sqldb.postgres import PostgresDemoDatabase, sync_url
    from tests.integration.sql.conftest import _admin

    admin = sync_url(make_url(server))
    target = admin.set(database=f"retrofit_scaffold_{uuid.uuid4().hex[:12]}")
    _admin(admin, f'CREATE DATABASE "{target.database}"')  # our own name: hex digits
    try:
        database = PostgresDemoDatabase(target)
        database.prepare()
        _admin(
            target,
            'CREATE VIEW "Order Amounts" AS SELECT "OrderID", "ProductID", '
            '"UnitPrice" * "Quantity" AS "Amount" FROM "Order Details"',
        )
        # The test server trusts loopback and ignores passwords: one in the URL shows whether
        # the generated package or its source info ever repeats it.
        with_password = make_url(database.url).set(password="s3cret-Never-Written")
        yield with_password.render_as_string(hide_password=False)
    finally:
        _admin(admin, f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')


async def test_postgres_package_pages_by_keyset(
    tmp_path: Path,
    postgres_seed_url: str,
    time_skipping_env: WorkflowEnvironment,
    audit_url: str,
    import_generated: Any,
) -> None:
    url = postgres_seed_url
    laps = Laps()
    out = tmp_path / "pg-connector"
    package = generate("nwpg", url, out, writes="Shippers")
    laps.lap("generate")
    # The seed's tables, and the one view the fixture adds (the seed's own views are SQLite SQL).
    assert len(package.groups) == NORTHWIND_TABLES + 1, package.skipped
    assert "amount: Decimal | None" in (out / "nwpg_connector" / "models" / "order_amounts.py").read_text()
    texts = "".join(p.read_text() for p in out.rglob("*") if p.is_file())
    assert "s3cret-Never-Written" not in texts + package.source.location + repr(package)
    site = tmp_path / "site"
    check_package(out, site, "nwpg")
    laps.lap("mypy+install+list+conformance")
    cls = import_generated(site, "nwpg")
    first, second = await read_two_pages(
        time_skipping_env, cls, url, audit_url, "nwpg.list_order_details", 300
    )
    laps.lap("two gated pages")
    keys = [(r["order_id"], r["product_id"]) for r in first["rows"] + second["rows"]]
    assert keys == sorted(keys) and len(set(keys)) == 600
    (view,) = await through_the_gate(
        time_skipping_env, cls, url, audit_url, [("nwpg.list_order_amounts", {"limit": 10, "offset": 10})]
    )
    assert view["next_offset"] == 20 and len(view["rows"]) == 10
    print(f"\npostgresql: {share(package)}; {laps}")
