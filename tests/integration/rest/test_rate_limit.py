"""The optional per-connector rate limit, judged by what reaches the server within a time window."""

from __future__ import annotations

import asyncio

import pytest

from connectors.crm.connector import CrmConnector
from connectors.crm.models import GetAccount
from connectors.rest.rate_limit import TokenBucket
from legacy.crm.server import CrmServer
from tests.integration.rest.support import admin, crm_connector

pytestmark = pytest.mark.timeout(30)

WINDOW = 0.5
CALLS = 40


async def reads_within_window(crm: CrmServer, conn: CrmConnector) -> int:
    """Fire CALLS reads at once, count how many reached the CRM after WINDOW seconds, cancel the rest."""
    await conn.get_account(GetAccount(account_id="A-2001"))  # fetch the token outside the window
    calls = [asyncio.create_task(conn.get_account(GetAccount(account_id="A-2002"))) for _ in range(CALLS)]
    await asyncio.sleep(WINDOW)
    reached = int((await admin(crm.url, "GET", "requests"))["by_path"].get("GET /accounts/A-2002", 0))
    for call in calls:
        call.cancel()
    await asyncio.gather(*calls, return_exceptions=True)
    return reached


async def test_rate_limit_spaces_requests(crm: CrmServer) -> None:
    conn = crm_connector(crm.url, rate_limit_per_second=10, rate_limit_burst=2)
    await conn.open()
    try:
        reached = await reads_within_window(crm, conn)
    finally:
        await conn.close()
    print(f"rate limit 10/s, burst 2: {reached} of {CALLS} reads reached the CRM in {WINDOW} s")
    # At most the burst plus rate × window (+1 for the token refilled while the count was taken).
    assert 2 <= reached <= 2 + int(10 * WINDOW) + 1


async def test_without_a_limit_the_same_load_goes_straight_through(crm: CrmServer) -> None:
    conn = crm_connector(crm.url)
    await conn.open()
    try:
        reached = await reads_within_window(crm, conn)
    finally:
        await conn.close()
    print(f"no rate limit: {reached} of {CALLS} reads reached the CRM in {WINDOW} s")
    assert reached > 2 + int(10 * WINDOW) + 1  # the contrast that shows the limit above is the cause


async def test_a_cancelled_waiter_gives_its_turn_to_the_next() -> None:
    bucket = TokenBucket(rate=20, burst=1)
    await bucket.acquire()  # the burst is spent: the next waiter sleeps about 50 ms
    waiter = asyncio.create_task(bucket.acquire())
    await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await asyncio.wait_for(bucket.acquire(), timeout=1)  # not blocked by the cancelled one


def test_a_bucket_needs_a_positive_rate() -> None:
    with pytest.raises(ValueError, match="rate > 0"):
        TokenBucket(rate=0)
