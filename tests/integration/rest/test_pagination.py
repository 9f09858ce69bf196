"""The four pagination helpers, each against a real CRM endpoint, and the guards around them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from connectors.crm.connector import CrmConnector
from connectors.crm.models import Account, Contact, Note
from connectors.rest import Cursor, LinkHeader, OffsetLimit, PageNumber, Paginated
from legacy.crm.server import CrmServer
from retrofit.sdk import NonRetryableError
from tests.integration.rest.support import ProbeConnector, admin

pytestmark = pytest.mark.timeout(30)

ALL_ACCOUNTS = [f"A-{n}" for n in range(2001, 2016)]


async def pages_requested(crm: CrmServer, path: str) -> int:
    return int((await admin(crm.url, "GET", "requests"))["by_path"].get(f"GET {path}", 0))


async def ids(pages: Paginated[Any]) -> list[Any]:
    return [item.id async for item in pages]


# -- each strategy, all the way and capped ----------------------------------------------------------


async def test_cursor_walks_all_accounts(crm: CrmServer, connector: CrmConnector) -> None:
    pages = connector.paginate("/accounts", Cursor(limit=4), item=Account)
    assert await ids(pages) == ALL_ACCOUNTS
    assert (pages.pages_fetched, pages.truncated) == (4, False)
    assert await pages_requested(crm, "/accounts") == 4


async def test_cursor_stops_at_the_cap(crm: CrmServer, connector: CrmConnector) -> None:
    pages = connector.paginate("/accounts", Cursor(limit=4), item=Account, max_items=6)
    assert await ids(pages) == ALL_ACCOUNTS[:6]
    assert pages.truncated
    assert await pages_requested(crm, "/accounts") == 2  # the third page is never asked for


async def test_link_header_walks_and_caps_contacts(crm: CrmServer, connector: CrmConnector) -> None:
    path = "/accounts/A-2001/contacts"
    every = connector.paginate(path, LinkHeader(size_param="per_page", page_size=1), item=Contact)
    assert await ids(every) == ["CT-3001", "CT-3002", "CT-3003", "CT-3004"]
    assert (every.pages_fetched, every.truncated) == (4, False)

    capped = connector.paginate(
        path, LinkHeader(size_param="per_page", page_size=1), item=Contact, max_items=3
    )
    assert len(await capped.collect()) == 3
    assert capped.truncated

    # The cap equal to the total: the last page had no rel="next", so nothing was cut off.
    exact = connector.paginate(
        path, LinkHeader(size_param="per_page", page_size=2), item=Contact, max_items=4
    )
    assert len(await exact.collect()) == 4
    assert not exact.truncated
    assert await pages_requested(crm, path) == 4 + 3 + 2


async def test_offset_limit_walks_and_caps_contacts(crm: CrmServer, connector: CrmConnector) -> None:
    every = connector.paginate("/contacts", OffsetLimit(limit=10, total="total"), item=Contact)
    found = await ids(every)
    assert found == [f"CT-{n}" for n in range(3001, 3037)]
    assert (every.pages_fetched, every.truncated) == (4, False)

    capped = connector.paginate(
        "/contacts", OffsetLimit(limit=1), item=Contact, params={"q": "finance"}, max_items=2
    )
    assert [c.id for c in await capped.collect()] == ["CT-3002", "CT-3021"]  # of CT-3002, CT-3021, CT-3032
    assert (capped.pages_fetched, capped.truncated) == (2, True)


async def test_page_numbers_walk_and_cap_notes(crm: CrmServer, connector: CrmConnector) -> None:
    path = "/accounts/A-2006/notes"
    every = connector.paginate(path, PageNumber(size_param="per_page", page_size=3), item=Note)
    assert await ids(every) == [9, 8, 7, 6, 5, 4, 3]
    assert (every.pages_fetched, every.truncated) == (3, False)

    capped = connector.paginate(path, PageNumber(size_param="per_page", page_size=3), item=Note, max_items=5)
    assert len(await capped.collect()) == 5
    assert (capped.pages_fetched, capped.truncated) == (2, True)


async def test_breaking_off_early_fetches_no_more_pages(crm: CrmServer, connector: CrmConnector) -> None:
    async for account in connector.paginate("/accounts", Cursor(limit=2), item=Account):
        if account.id == "A-2003":
            break
    assert await pages_requested(crm, "/accounts") == 2


def test_a_cap_below_one_is_refused(connector: CrmConnector) -> None:
    with pytest.raises(ValueError, match="max_items"):
        connector.paginate("/accounts", Cursor(), item=Account, max_items=0)


# -- guards against a misbehaving server (a scripted transport stands in for it) --------------------


class Item(BaseModel):
    id: int


def scripted(handler: Any) -> ProbeConnector:
    return ProbeConnector("http://legacy.test", transport=httpx.MockTransport(handler))


async def walk(conn: ProbeConnector, path: str, strategy: Any) -> list[Item]:
    await conn.open()
    try:
        return await conn.paginate(path, strategy, item=Item, max_items=1000).collect()
    finally:
        await conn.close()


async def test_a_cursor_that_comes_back_is_a_loop() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"items": [{"id": 1}], "next_cursor": "same"})

    with pytest.raises(NonRetryableError, match="paginates in a loop"):
        await walk(scripted(handler), "/things", Cursor())


async def test_a_next_link_to_another_origin_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json=[{"id": 1}], headers={"Link": '<https://evil.test/things?page=2>; rel="next"'}
        )

    with pytest.raises(NonRetryableError, match=r"another origin: evil\.test"):
        await walk(scripted(handler), "/things", LinkHeader())


async def test_relative_next_links_are_resolved_against_the_page() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        link = {"Link": f'<things?page={page + 1}>; rel="next"'} if page < 3 else {}
        return httpx.Response(200, json=[{"id": page}], headers=link)

    assert [i.id for i in await walk(scripted(handler), "/api/things", LinkHeader())] == [1, 2, 3]


async def test_an_empty_page_ends_the_walk_whatever_the_cursor_says() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"items": [], "next_cursor": "more?"})

    assert await walk(scripted(handler), "/things", Cursor()) == []


async def test_a_body_without_the_list_is_a_contract_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": {"rows": [{"id": 1}]}})

    with pytest.raises(NonRetryableError, match="did not answer a list at 'items'"):
        await walk(scripted(handler), "/things", PageNumber())
    # Dotted paths reach nested lists.
    assert [i.id for i in await walk(scripted(handler), "/things", PageNumber(items="data.rows"))] == [1]


async def test_an_item_that_does_not_fit_names_where() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"items": [{"id": "not a number"}]})

    with pytest.raises(NonRetryableError, match=r"not a Item: id: Input should be a valid integer"):
        await walk(scripted(handler), "/things", OffsetLimit())


async def test_a_walk_runs_once(connector: CrmConnector) -> None:
    pages = connector.paginate("/accounts", Cursor(limit=20), item=Account)
    assert len(await pages.collect()) == 15
    with pytest.raises(RuntimeError, match="iterated once"):
        await pages.collect()


async def test_no_request_leaves_the_base_origin() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={})

    conn = scripted(handler)
    await conn.open()
    try:
        for elsewhere in ("HTTPS://evil.test/x", "http://legacy.test:8080/x"):
            with pytest.raises(NonRetryableError, match="another origin"):
                await conn.request("GET", elsewhere)
        await conn.request("GET", "//evil.test/x")  # scheme-relative: still resolved on the base URL
        await conn.request("GET", "http://legacy.test/y")  # absolute on the same origin is fine
    finally:
        await conn.close()
    assert seen == ["http://legacy.test/x", "http://legacy.test/y"]
