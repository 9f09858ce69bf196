"""The SQL base itself: URLs and secrets, the engine's lifecycle, and what the audit trail captures."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import text
from sqlalchemy.pool import QueuePool

from connectors.northwind.connector import NorthwindConnector, NorthwindSettings
from connectors.northwind.models import GetCustomer, ListOrders, ShipOrder, UpdateCustomerContact
from connectors.sql import DatabaseUrlError, NoRowsMatched, SqlSettings, display_url, engine_url
from legacy.sqldb.database import SqlDemoDatabase
from retrofit.sdk import NonRetryableError
from tests.integration.sql.calls import running_call, settings_for

pytestmark = pytest.mark.timeout(30)


# -- URLs -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "driver"),
    [
        ("sqlite:///data/erp.sqlite", "sqlite+aiosqlite"),
        ("sqlite+pysqlite:///data/erp.sqlite", "sqlite+aiosqlite"),
        ("postgresql://erp:pw@db:5432/erp", "postgresql+psycopg"),
        ("postgres://erp:pw@db/erp", "postgresql+psycopg"),
        ("postgresql+psycopg2://erp:pw@db/erp", "postgresql+psycopg"),
        ("postgresql+asyncpg://erp:pw@db/erp", "postgresql+asyncpg"),
    ],
)
def test_urls_get_an_async_driver(written: str, driver: str) -> None:
    assert engine_url(written).drivername == driver


def test_sqlite_files_open_read_write_without_being_created() -> None:
    url = engine_url("sqlite:///var/legacy dbs/erp #1.sqlite")
    assert url.database == "file:var/legacy%20dbs/erp%20%231.sqlite"
    assert dict(url.query) == {"mode": "rw", "uri": "true"}
    assert engine_url("sqlite:///file:erp.sqlite?mode=ro&uri=true").query["mode"] == "ro"  # kept as written
    assert engine_url("sqlite://").database is None  # in memory: nothing to protect


async def test_a_path_with_spaces_works_end_to_end(tmp_path: Path) -> None:
    database = SqlDemoDatabase(tmp_path / "legacy dbs #1")
    database.prepare()
    connector = NorthwindConnector(settings_for(database))
    await connector.open()
    try:
        assert (await connector.get_customer(GetCustomer(customer_id="ALFKI"))).city == "Berlin"
    finally:
        await connector.close()


def test_passwords_never_show() -> None:
    url = "postgresql://erp:s3cr3t-pw@db.internal:5432/erp"
    assert display_url(url) == "postgresql://erp:***@db.internal:5432/erp"
    assert display_url(engine_url(url)) == "postgresql+psycopg://erp:***@db.internal:5432/erp"
    assert display_url("::: s3cr3t-pw") == "(unparseable database URL)"
    settings = SqlSettings(url=SecretStr(url))
    for shown in (repr(settings), str(settings), settings.safe_url(), settings.model_dump_json()):
        assert "s3cr3t-pw" not in shown
    assert engine_url(settings.url).password == "s3cr3t-pw"  # the engine still gets it


def test_bad_urls_are_refused_without_quoting_them() -> None:
    with pytest.raises(DatabaseUrlError) as caught:
        engine_url("not a url with password s3cr3t")
    assert "s3cr3t" not in str(caught.value)
    with pytest.raises(DatabaseUrlError, match="no async driver known for 'mssql'"):
        engine_url("mssql://erp:s3cr3t@db/erp")
    with pytest.raises(ValidationError) as invalid:
        SqlSettings(url=SecretStr("::::s3cr3t"))
    assert "s3cr3t" not in str(invalid.value)


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETROFIT_NORTHWIND_URL", "postgresql://erp:env-pw-9@db/erp")
    monkeypatch.setenv("RETROFIT_NORTHWIND_ROW_LIMIT", "50")
    monkeypatch.setenv("RETROFIT_NORTHWIND_STATEMENT_TIMEOUT_SECONDS", "2.5")
    settings = NorthwindConnector.load_settings()
    assert isinstance(settings, NorthwindSettings)
    assert (settings.row_limit, settings.statement_timeout_seconds) == (50, 2.5)
    assert settings.url.get_secret_value() == "postgresql://erp:env-pw-9@db/erp"
    assert "env-pw-9" not in repr(settings)


def test_default_url_is_the_demo_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RETROFIT_NORTHWIND_URL", raising=False)
    settings = NorthwindConnector.load_settings()
    assert isinstance(settings, NorthwindSettings)
    assert settings.url.get_secret_value() == "sqlite:///.retrofit/demo/northwind.sqlite"


def test_connector_refuses_foreign_settings() -> None:
    with pytest.raises(TypeError, match="SqlSettings"):
        NorthwindConnector(object())  # type: ignore[arg-type]


# -- the engine's lifecycle -------------------------------------------------------------------------


async def test_one_engine_from_open_to_close(northwind_db: SqlDemoDatabase) -> None:
    connector = NorthwindConnector(settings_for(northwind_db, pool_size=2))
    with pytest.raises(RuntimeError, match=r"open\(\) must run before its actions"):
        await connector.get_customer(GetCustomer(customer_id="ALFKI"))

    await connector.open()
    engine = connector.engine
    await connector.open()  # a second open keeps the engine and its pool
    assert connector.engine is engine
    for _ in range(5):
        await connector.get_customer(GetCustomer(customer_id="ALFKI"))
    with running_call("wf#life", action="northwind.update_customer_contact"):
        await connector.update_customer_contact(UpdateCustomerContact(customer_id="ALFKI", contact_name="A"))
    assert connector.engine is engine
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    assert pool.checkedout() == 0  # every helper returned its connection
    assert 1 <= pool.checkedin() <= 2  # pooled, bounded by pool_size

    await connector.close()
    assert pool.checkedin() == 0  # disposed: no connection left open on the file
    with pytest.raises(RuntimeError, match="must run before"):
        _ = connector.engine
    await connector.close()  # closing twice is harmless


# -- capture for the audit trail --------------------------------------------------------------------


async def test_capture_records_sql_rows_and_time(northwind: NorthwindConnector) -> None:
    with running_call("wf#capture", action="northwind.list_orders") as call:
        await northwind.list_orders(ListOrders(customer_id="SAVEA", limit=3))
    (exchange,) = call.exchanges
    assert exchange["kind"] == "sql"
    assert exchange["statement"].startswith('SELECT "Orders"."OrderID" AS order_id')
    assert '"Order Details"' in exchange["statement"]
    assert "?" in exchange["statement"] and "SAVEA" not in exchange["statement"]  # placeholders only
    assert exchange["params"]["CustomerID_1"] == "SAVEA"
    assert (exchange["rows"], exchange["truncated"]) == (3, True)
    assert exchange["duration_ms"] >= 0


async def test_capture_of_a_write_and_its_replay(northwind: NorthwindConnector) -> None:
    request = ShipOrder(order_id=11008, shipped_date=date(1998, 5, 6))
    with running_call("wf#capture-write") as call:
        await northwind.ship_order(request)
        await northwind.ship_order(request)
    kinds = [(e["kind"], e["statement"].split()[0] if "statement" in e else None) for e in call.exchanges]
    assert kinds == [
        ("sql", "SELECT"),  # is the order open?
        ("sql", "UPDATE"),
        ("sql", "SELECT"),  # the summary returned
        ("sql.idempotent_replay", None),
    ]
    update = call.exchanges[1]
    assert update["rows"] == 1
    assert update["params"]["OrderID_1"] == 11008


async def test_capture_never_holds_secret_values(northwind: NorthwindConnector) -> None:
    with running_call("wf#secret", action="northwind.get_customer") as call:
        await northwind.fetch_rows(
            text("SELECT :api_key AS k, :password AS p, :city AS c"),
            {"api_key": "key-7f3a9", "password": "pw-2b81c", "city": "Berlin"},
        )
        await northwind.fetch_rows(text("SELECT :blob AS b"), {"blob": b"\x00" * 5000})
    dumped = json.dumps(call.exchanges)
    assert "key-7f3a9" not in dumped and "pw-2b81c" not in dumped
    assert call.exchanges[0]["params"] == {
        "api_key": "[REDACTED]",
        "password": "[REDACTED]",
        "city": "Berlin",
    }
    assert call.exchanges[1]["params"] == {"blob": "<5000 bytes>"}


async def test_capture_of_a_failed_statement(northwind: NorthwindConnector) -> None:
    with running_call("wf#fail", action="northwind.update_customer_contact") as call:
        with pytest.raises(NoRowsMatched):
            await northwind.update_customer_contact(
                UpdateCustomerContact(customer_id="QQQQQ", contact_name="X")
            )
        with pytest.raises(NonRetryableError, match="schema"):
            await northwind.fetch_rows(
                text("SELECT nope FROM Customers WHERE CompanyName = :password"), {"password": "pw-9"}
            )
    update, failed = call.exchanges
    assert (update["statement"].split()[0], update["rows"]) == ("UPDATE", 0)
    assert failed["error"] == "NonRetryableError"
    assert "pw-9" not in json.dumps(failed)


async def test_outside_an_action_nothing_is_captured(northwind: NorthwindConnector) -> None:
    # Reads work without a bound call (the CLI's connector checks); capture just does nothing.
    assert (await northwind.get_customer(GetCustomer(customer_id="ALFKI"))).customer_id == "ALFKI"
