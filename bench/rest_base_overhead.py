"""Per-call overhead of the REST base: the CRM connector's `get_account` vs hand-written httpx.

Every side makes the same number of sequential calls to the same demo CRM (started here in its own
process, so the server's CPU time is not charged to any client), with the same client settings
and a token fetched once:

- raw   — `httpx.AsyncClient.get` with a bearer header, a status check and
          `Account.model_validate_json`: what a hand-written connector does at minimum;
- base  — `CrmConnector.get_account`: the auth flow, error mapping and decoding of the REST base;
          measured once outside an action and once inside a bound action call, where the redacted
          audit capture runs too (as in a worker) — the headline ratio.

The calls run in short alternating blocks (raw, base, base in action, raw, ...) so that drift in the
machine's speed — other processes, CPU frequency — hits every side alike; each side's rate is its
total calls over its total time. Prints calls/s for each, the ratio base/raw (target >= 0.95),
plus the client process's CPU time per call (the server's is not in it) and the spread of the
per-block ratios as a noise gauge.

    .venv/bin/python bench/rest_base_overhead.py [--calls 5000] [--block 100] [--url http://...]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

import httpx

from connectors.crm.connector import CrmConnector, CrmSettings
from connectors.crm.models import Account, GetAccount
from retrofit.sdk.context import ActionContext, bind_call, unbind_call

ACCOUNT = "A-2001"


@contextmanager
def crm_process(url: str | None) -> Iterator[str]:
    """The demo CRM in a child process (or `url`, when one is given)."""
    if url is not None:
        yield url
        return
    child = subprocess.Popen(
        [sys.executable, "-m", "legacy.crm.server", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        banner = child.stdout.readline()  # "demo CRM listening on http://127.0.0.1:PORT"
        if "listening on" not in banner:
            raise RuntimeError(f"the CRM did not start: {banner!r}")
        yield banner.rsplit(" ", 1)[-1].strip()
    finally:
        child.terminate()
        child.wait(timeout=10)


async def raw_caller(settings: CrmSettings) -> tuple[Callable[[], Awaitable[object]], httpx.AsyncClient]:
    client = httpx.AsyncClient(
        base_url=str(settings.base_url),
        timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
        headers={"Accept": "application/json"},
    )
    form = {
        "grant_type": "client_credentials",
        "client_id": settings.client_id,
        "client_secret": settings.client_secret.get_secret_value(),
        "scope": settings.scope,
    }
    token = (await client.post(settings.token_path, data=form)).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    async def call() -> object:
        response = await client.get(f"/accounts/{ACCOUNT}", headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"raw call answered {response.status_code}")
        return Account.model_validate_json(response.content)

    return call, client


async def timed(call: Callable[[], Awaitable[object]], calls: int) -> tuple[float, float]:
    """Wall-clock and this process's CPU seconds for `calls` sequential calls."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        await call()
    return time.perf_counter() - wall, time.process_time() - cpu


class Side:
    """One way of making the call, with its accumulated wall-clock and CPU time."""

    def __init__(self, label: str, call: Callable[[], Awaitable[object]]) -> None:
        self.label = label
        self.call = call
        self.seconds = 0.0
        self.cpu = 0.0
        self.blocks: list[float] = []

    async def run(self, calls: int) -> None:
        seconds, cpu = await timed(self.call, calls)
        self.seconds += seconds
        self.cpu += cpu
        self.blocks.append(seconds)


async def main(calls: int, block: int, url: str) -> None:
    settings = CrmConnector.load_settings(base_url=url)
    assert isinstance(settings, CrmSettings)
    connector = CrmConnector(settings)
    await connector.open()
    raw_call, raw_client = await raw_caller(settings)
    request = GetAccount(account_id=ACCOUNT)
    context = ActionContext(
        action="crm.get_account",
        idempotency_key="bench#1",
        workflow_id="bench",
        run_id="r",
        step=1,
        attempt=1,
    )

    async def base_plain() -> object:
        return await connector.get_account(request)

    async def base_in_action() -> object:
        token = bind_call(context)  # what the worker does around every action
        try:
            context.exchanges.clear()  # one call's capture, as in a worker
            return await connector.get_account(request)
        finally:
            unbind_call(token)

    raw = Side("raw httpx", raw_call)
    plain = Side("base, no action", base_plain)
    audited = Side("base, in action", base_in_action)
    sides = (raw, plain, audited)
    try:
        for side in sides:
            await timed(side.call, 200)  # warm-up: connections, caches, the token
        for _ in range(calls // block):
            for side in sides:
                await side.run(block)
    finally:
        await connector.close()
        await raw_client.aclose()

    done = calls // block * block
    print(f"get_account: {done} sequential calls per side, in alternating blocks of {block}")
    print(f"{'':18}{'calls/s':>9}{'µs/call':>10}{'ratio':>8}{'client CPU µs/call':>21}")
    raw_rate = done / raw.seconds
    for side in sides:
        rate = done / side.seconds
        print(
            f"{side.label:18}{rate:9.0f}{1e6 / rate:10.1f}{rate / raw_rate:8.3f}{side.cpu / done * 1e6:21.1f}"
        )
    # The headline: the base as a worker runs it (audit capture included) against raw httpx.
    pairs = [r / a for r, a in zip(raw.blocks, audited.blocks, strict=True)]
    quartiles = statistics.quantiles(pairs, n=4)
    print(f"\nratio base (in action) / raw: {done / audited.seconds / raw_rate:.3f}   (target >= 0.95)")
    print(
        f"per-block ratios: median {statistics.median(pairs):.3f}, quartiles {quartiles[0]:.3f}-{quartiles[2]:.3f}"
    )
    # The server runs in its own process: the CPU column is the client side alone.


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000, help="per side")
    parser.add_argument("--block", type=int, default=100)
    parser.add_argument("--url", help="an already running CRM (default: start one)")
    args = parser.parse_args()
    with crm_process(args.url) as crm_url:
        asyncio.run(main(args.calls, args.block, crm_url))
