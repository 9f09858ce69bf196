"""Per-call overhead of the REST base: the CRM connector's `get_account` vs hand-written httpx.

Both sides make the same number of sequential calls to the same demo CRM (started here in its own
process, so the server's CPU time is not charged to either client), with the same client settings
and a token fetched once:

- raw   — `httpx.AsyncClient.get` with a bearer header, a status check and
          `Account.model_validate_json`: what a hand-written connector does at minimum;
- base  — `CrmConnector.get_account` inside a bound action call: auth flow, error mapping and the
          redacted audit capture included, as in a worker.

The calls run in short alternating blocks (raw, base, raw, base, ...) so that drift in the
machine's speed — other processes, CPU frequency — hits both sides alike; each side's rate is its
total calls over its total time. Prints calls/s for each and the ratio base/raw (target >= 0.95),
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


async def main(calls: int, block: int, url: str) -> None:
    settings = CrmConnector.load_settings(base_url=url)
    assert isinstance(settings, CrmSettings)
    connector = CrmConnector(settings)
    await connector.open()
    raw, raw_client = await raw_caller(settings)
    request = GetAccount(account_id=ACCOUNT)

    async def base() -> object:
        return await connector.get_account(request)

    context = ActionContext(
        action="crm.get_account",
        idempotency_key="bench#1",
        workflow_id="bench",
        run_id="r",
        step=1,
        attempt=1,
    )
    token = bind_call(context)
    raw_seconds = base_seconds = raw_cpu = base_cpu = 0.0
    pair_ratios: list[float] = []
    try:
        for warm in (raw, base):
            await timed(warm, 200)
        for _ in range(calls // block):
            raw_block, raw_block_cpu = await timed(raw, block)
            context.exchanges.clear()  # the capture keeps at most 20 per call: the same work each block
            base_block, base_block_cpu = await timed(base, block)
            raw_seconds += raw_block
            base_seconds += base_block
            raw_cpu += raw_block_cpu
            base_cpu += base_block_cpu
            pair_ratios.append(raw_block / base_block)
    finally:
        unbind_call(token)
        await connector.close()
        await raw_client.aclose()

    done = calls // block * block
    raw_rate, base_rate = done / raw_seconds, done / base_seconds
    quartiles = statistics.quantiles(pair_ratios, n=4)
    print(f"get_account: {done} sequential calls per side, in alternating blocks of {block}")
    print(f"raw httpx        {raw_rate:8.0f} calls/s   {1e6 / raw_rate:7.1f} µs/call")
    print(f"REST base        {base_rate:8.0f} calls/s   {1e6 / base_rate:7.1f} µs/call")
    print(f"ratio base/raw   {base_rate / raw_rate:8.3f}   (target >= 0.95)")
    # The server runs in its own process, so this is the client side alone: where the base's cost is.
    print(f"client CPU/call  raw {raw_cpu / done * 1e6:.1f} µs, base {base_cpu / done * 1e6:.1f} µs")
    print(
        f"per-block ratios: median {statistics.median(pair_ratios):.3f}, quartiles {quartiles[0]:.3f}-{quartiles[2]:.3f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000, help="per side")
    parser.add_argument("--block", type=int, default=100)
    parser.add_argument("--url", help="an already running CRM (default: start one)")
    args = parser.parse_args()
    with crm_process(args.url) as crm_url:
        asyncio.run(main(args.calls, args.block, crm_url))
