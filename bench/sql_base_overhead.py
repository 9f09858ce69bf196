"""What the SQL connector base costs per call, against raw SQLAlchemy asyncio on the same file.

Both sides are the same action — `GetCustomer` in, `Customer` out, run inside a bound call as a
worker runs it — and run the same SELECT (one Northwind customer by id, the columns labelled as
the model's fields, the id a bound parameter, the statement built once) on one working copy of
the demo database:

- base: `NorthwindConnector.get_customer`, through `SqlConnector.fetch_one` — row limit, statement
  capture for the audit trail, error mapping and the statement timeout all on;
- raw:  the same action written by hand: `AsyncEngine.connect()` + `execute()` +
  `mappings().first()` on an engine of its own, none of the above.

Calls alternate one by one, in shuffled order, and each side sums only its own calls' time: the
machine's drift (other processes, frequency changes) then hits both sides alike, which separate
timed rounds do not achieve on a busy machine. The ratio is the median over blocks of 100 calls. Besides wall-clock calls/s the bench prints the
CPU time the calling thread spends per call, where the base's own Python work shows up.

Run: `.venv/bin/python bench/sql_base_overhead.py [--calls 3000] [--check]`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import MetaData, bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from connectors.northwind.connector import _CUSTOMER_COLUMNS, NorthwindConnector
from connectors.northwind.models import Customer, GetCustomer
from legacy.sqldb.database import SqlDemoDatabase
from retrofit.sdk.context import ActionContext, bind_call, unbind_call

TARGET_RATIO = 0.95
CUSTOMER_IDS = ("ALFKI", "BONAP", "QUICK", "WOLZA", "SAVEA")
WARMUP_CALLS = 200
BLOCK_CALLS = 100

Action = Callable[[GetCustomer], Awaitable[Customer]]
Reader = Callable[[int], Awaitable[Customer]]


@dataclass
class Tally:
    calls: int = 0
    wall: float = 0.0
    cpu: float = 0.0

    async def time(self, reader: Reader, i: int) -> None:
        wall, cpu = time.perf_counter(), time.thread_time()
        await reader(i)
        self.cpu += time.thread_time() - cpu
        self.wall += time.perf_counter() - wall
        self.calls += 1

    @staticmethod
    def total(tallies: Iterable[Tally]) -> Tally:
        whole = Tally()
        for tally in tallies:
            whole.calls += tally.calls
            whole.wall += tally.wall
            whole.cpu += tally.cpu
        return whole

    @property
    def rate(self) -> float:
        return self.calls / self.wall

    @property
    def cpu_us(self) -> float:
        return self.cpu / self.calls * 1e6


async def _raw_action(engine: AsyncEngine) -> Action:
    metadata = MetaData()
    async with engine.connect() as conn:
        await conn.run_sync(lambda sync: metadata.reflect(sync, only=["Customers"]))
    customers = metadata.tables["Customers"]
    statement = select(
        *[customers.c[column].label(field) for field, column in _CUSTOMER_COLUMNS.items()]
    ).where(customers.c.CustomerID == bindparam("customer_id"))

    async def get_customer(req: GetCustomer) -> Customer:
        async with engine.connect() as conn:
            result = await conn.execute(statement, {"customer_id": req.customer_id})
            row = result.mappings().first()
        assert row is not None
        return Customer.model_validate(dict(row))

    return get_customer


def _as_worker_calls(action: Action) -> Reader:
    """Call `action` the way the worker does: input validated into its model, the call bound."""

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
            return await action(GetCustomer(customer_id=CUSTOMER_IDS[i % len(CUSTOMER_IDS)]))
        finally:
            unbind_call(token)

    return read


async def main(calls: int, seed: int) -> float:
    with tempfile.TemporaryDirectory(prefix="retrofit-bench-") as directory:
        database = SqlDemoDatabase(Path(directory))
        database.prepare()
        print(f"demo database prepared in {(database.prepare_seconds or 0) * 1000:.1f} ms")

        connector = NorthwindConnector(NorthwindConnector.load_settings(url=database.url))
        await connector.open()
        raw_engine = create_async_engine(f"sqlite+aiosqlite:///{database.path}", pool_size=5, max_overflow=0)
        try:
            sides = {
                "raw": _as_worker_calls(await _raw_action(raw_engine)),
                "base": _as_worker_calls(connector.get_customer),
            }
            for reader in sides.values():  # warm pools, reflection and statement caches
                for i in range(WARMUP_CALLS):
                    assert (await reader(i)).customer_id == CUSTOMER_IDS[i % len(CUSTOMER_IDS)]
            blocks: list[dict[str, Tally]] = []
            order = list(sides)
            shuffle = random.Random(seed).shuffle  # fixed seed: the same interleaving every run
            for i in range(calls):
                if i % BLOCK_CALLS == 0:
                    blocks.append({name: Tally() for name in sides})
                shuffle(order)
                for name in order:
                    await blocks[-1][name].time(sides[name], i)
        finally:
            await connector.close()
            await raw_engine.dispose()

    raw, base = (Tally.total(block[name] for block in blocks) for name in ("raw", "base"))
    # The median of per-block ratios: a burst of load from another process spoils a block or
    # two, not the result.
    ratio = statistics.median(block["base"].rate / block["raw"].rate for block in blocks)
    print(f"raw SQLAlchemy async : {raw.rate:8.0f} calls/s   {raw.cpu_us:7.0f} µs CPU/call in the caller")
    print(f"SqlConnector base    : {base.rate:8.0f} calls/s   {base.cpu_us:7.0f} µs CPU/call in the caller")
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    print(
        f"ratio base/raw       : {ratio:8.3f}x  median of {len(blocks)} blocks of {BLOCK_CALLS} calls per side"
        f" ({verdict} the {TARGET_RATIO}x target; whole-run ratio {base.rate / raw.rate:.3f}x)"
    )
    return ratio


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="SQL connector base overhead against raw SQLAlchemy.")
    parser.add_argument("--calls", type=int, default=3000, help="calls per side")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--check", action="store_true", help="exit 1 when the ratio misses the target")
    args = parser.parse_args()
    result = asyncio.run(main(args.calls, args.seed))
    sys.exit(1 if args.check and result < TARGET_RATIO else 0)
