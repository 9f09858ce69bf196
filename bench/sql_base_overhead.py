"""What the SQL connector base costs per call, against raw SQLAlchemy asyncio on the same file.

Both sides run the same SELECT (one Northwind customer by id, the columns labelled as the model's
fields) on a working copy of the demo database and build the same `Customer` model:

- base: `NorthwindConnector.get_customer`, as a worker runs it (a bound call, so the statement is
  captured for the audit trail, with the row limit, error mapping and statement timeout in place);
- raw:  `AsyncEngine.connect()` + `execute()` + `mappings().first()` on an engine of its own.

The two alternate in rounds so drift of the machine hits both alike; each side's median round
counts. Run: `.venv/bin/python bench/sql_base_overhead.py [--calls 2000] [--rounds 7]`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import MetaData, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from connectors.northwind.connector import _CUSTOMER_COLUMNS, NorthwindConnector
from connectors.northwind.models import Customer, GetCustomer
from legacy.sqldb.database import SqlDemoDatabase
from retrofit.sdk.context import ActionContext, bind_call, unbind_call

TARGET_RATIO = 0.95
CUSTOMER_IDS = ("ALFKI", "BONAP", "QUICK", "WOLZA", "SAVEA")


async def _rate(calls: int, one_call: Callable[[int], Awaitable[Customer]]) -> float:
    started = time.perf_counter()
    for i in range(calls):
        await one_call(i)
    return calls / (time.perf_counter() - started)


async def _raw_engine_reader(engine: AsyncEngine) -> Callable[[int], Awaitable[Customer]]:
    metadata = MetaData()
    async with engine.connect() as conn:
        await conn.run_sync(lambda sync: metadata.reflect(sync, only=["Customers"]))
    customers = metadata.tables["Customers"]
    columns = [customers.c[column].label(field) for field, column in _CUSTOMER_COLUMNS.items()]

    async def read(i: int) -> Customer:
        statement = select(*columns).where(customers.c.CustomerID == CUSTOMER_IDS[i % len(CUSTOMER_IDS)])
        async with engine.connect() as conn:
            row = (await conn.execute(statement)).mappings().first()
        assert row is not None
        return Customer.model_validate(dict(row))

    return read


def _connector_reader(connector: NorthwindConnector) -> Callable[[int], Awaitable[Customer]]:
    async def read(i: int) -> Customer:
        token = bind_call(
            ActionContext(
                action="northwind.get_customer",
                idempotency_key=f"bench#{i}",
                workflow_id="bench",
                run_id="bench",
                step=i,
                attempt=1,
            )
        )
        try:
            return await connector.get_customer(GetCustomer(customer_id=CUSTOMER_IDS[i % len(CUSTOMER_IDS)]))
        finally:
            unbind_call(token)

    return read


async def main(calls: int, rounds: int) -> float:
    with tempfile.TemporaryDirectory(prefix="retrofit-bench-") as directory:
        database = SqlDemoDatabase(Path(directory))
        database.prepare()
        print(f"demo database prepared in {(database.prepare_seconds or 0) * 1000:.1f} ms: {database.path}")

        connector = NorthwindConnector(NorthwindConnector.load_settings(url=database.url))
        await connector.open()
        raw_engine = create_async_engine(f"sqlite+aiosqlite:///{database.path}", pool_size=5, max_overflow=0)
        try:
            base = _connector_reader(connector)
            raw = await _raw_engine_reader(raw_engine)
            for reader in (base, raw):  # warm pools, reflection and statement caches
                await _rate(200, reader)
                assert (await reader(0)).customer_id == "ALFKI"

            base_rates: list[float] = []
            raw_rates: list[float] = []
            for _ in range(rounds):
                raw_rates.append(await _rate(calls, raw))
                base_rates.append(await _rate(calls, base))
        finally:
            await connector.close()
            await raw_engine.dispose()

    base_rate = statistics.median(base_rates)
    raw_rate = statistics.median(raw_rates)
    ratio = base_rate / raw_rate
    print(f"raw SQLAlchemy async : {raw_rate:8.0f} calls/s  (median of {rounds} rounds of {calls})")
    print(f"SqlConnector base    : {base_rate:8.0f} calls/s")
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    print(f"ratio base/raw       : {ratio:8.3f}x  ({verdict} the {TARGET_RATIO}x target)")
    return ratio


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=2000, help="calls per round and side")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--check", action="store_true", help="exit 1 when the ratio misses the target")
    args = parser.parse_args()
    result = asyncio.run(main(args.calls, args.rounds))
    sys.exit(1 if args.check and result < TARGET_RATIO else 0)
