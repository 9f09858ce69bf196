"""Walking paginated list endpoints as one async stream of typed items, with a safety cap.

Four strategies cover what legacy REST APIs do:

    PageNumber   ?page=1&page_size=50           a short (or empty) page is the last
    OffsetLimit  ?offset=0&limit=50             likewise, or `offset >= total` when the body says
    Cursor       ?cursor=<opaque>&limit=50      until the body's next cursor is empty
    LinkHeader   Link: <url>; rel="next"        RFC 8288 (formerly 5988), until no rel="next"

`RestConnector.paginate(path, strategy, item=Model, max_items=...)` combines one with the
connector's request pipeline, so every page goes through the same auth, rate limit, error mapping
and audit capture as any other request. The short-page rule assumes `page_size`/`limit` is within
the server's maximum: a server that silently caps it would look finished after one page.

Guards, because a legacy system's paging bugs must not become an endless activity: `max_items`
stops the walk (and sets `truncated`), an empty page always ends it, and a cursor or next link seen
twice is refused as a loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import httpx
from pydantic import BaseModel

from connectors.rest.decoding import json_body, validate_item
from retrofit.sdk import NonRetryableError

M = TypeVar("M", bound=BaseModel)

#: Sends one GET for a page: (a path relative to the base URL or an absolute URL, query params).
FetchPage = Callable[[str, Mapping[str, Any] | None], Awaitable[httpx.Response]]


@dataclass(frozen=True)
class Page:
    items: list[Any]
    has_more: bool  # whether the strategy would fetch another page after this one


class PageStrategy(Protocol):
    def pages(self, fetch: FetchPage, path: str, params: Mapping[str, Any]) -> AsyncIterator[Page]:
        """The pages of `path`, first to last; `params` are the caller's own query parameters."""
        ...


@dataclass(frozen=True)
class PageNumber:
    page_param: str = "page"
    size_param: str = "page_size"
    page_size: int = 50
    first_page: int = 1
    items: str = "items"  # dotted path to the list in the body; "" when the body is the list

    async def pages(self, fetch: FetchPage, path: str, params: Mapping[str, Any]) -> AsyncIterator[Page]:
        page = self.first_page
        while True:
            response = await fetch(path, {**params, self.page_param: page, self.size_param: self.page_size})
            items = list_at(json_body(response), self.items, source=path)
            has_more = len(items) >= self.page_size
            yield Page(items, has_more)
            if not has_more:
                return
            page += 1


@dataclass(frozen=True)
class OffsetLimit:
    offset_param: str = "offset"
    limit_param: str = "limit"
    limit: int = 50
    items: str = "items"
    total: str | None = None  # dotted path to a total count, when the body carries one

    async def pages(self, fetch: FetchPage, path: str, params: Mapping[str, Any]) -> AsyncIterator[Page]:
        offset = 0
        while True:
            response = await fetch(path, {**params, self.offset_param: offset, self.limit_param: self.limit})
            body = json_body(response)
            items = list_at(body, self.items, source=path)
            offset += len(items)
            has_more = len(items) >= self.limit
            if has_more and self.total is not None:
                total = value_at(body, self.total)
                has_more = not isinstance(total, int) or offset < total
            yield Page(items, has_more)
            if not has_more:
                return


@dataclass(frozen=True)
class Cursor:
    cursor_param: str = "cursor"
    next_cursor: str = "next_cursor"  # dotted path to the next cursor in the body
    limit_param: str | None = "limit"
    limit: int = 50
    items: str = "items"

    async def pages(self, fetch: FetchPage, path: str, params: Mapping[str, Any]) -> AsyncIterator[Page]:
        query = dict(params)
        if self.limit_param is not None:
            query[self.limit_param] = self.limit
        seen: set[str] = set()
        while True:
            body = json_body(await fetch(path, query))
            items = list_at(body, self.items, source=path)
            cursor = value_at(body, self.next_cursor)
            has_more = bool(cursor) and bool(items)
            yield Page(items, has_more)
            if not has_more:
                return
            cursor = str(cursor)
            if cursor in seen:
                raise NonRetryableError(f"{path} paginates in a loop: cursor {cursor[:40]!r} came back twice")
            seen.add(cursor)
            query[self.cursor_param] = cursor


@dataclass(frozen=True)
class LinkHeader:
    size_param: str | None = None  # sent on the first request only; next links carry their own
    page_size: int = 50
    items: str = ""

    async def pages(self, fetch: FetchPage, path: str, params: Mapping[str, Any]) -> AsyncIterator[Page]:
        query: Mapping[str, Any] | None = dict(params)
        if self.size_param is not None:
            query = {**params, self.size_param: self.page_size}
        target = path
        seen: set[str] = set()
        while True:
            response = await fetch(target, query)
            items = list_at(json_body(response), self.items, source=path)
            next_url = response.links.get("next", {}).get("url")
            has_more = bool(next_url) and bool(items)
            yield Page(items, has_more)
            if not has_more or next_url is None:
                return
            # Relative links are resolved against the page that carried them (RFC 8288 §3.2).
            target = str(response.url.join(next_url))
            if target in seen:
                raise NonRetryableError(f"{path} paginates in a loop: the next link repeats")
            seen.add(target)
            query = None  # the next link is complete; repeating the params would duplicate them


class Paginated(Generic[M]):
    """The items of every page as `item` models, stopping after `max_items`.

    Iterate it once with `async for`, or `await .collect()`. After the walk, `truncated` tells
    whether the cap cut it short while the system had more to give (for page-number and offset
    paging a full last page counts as "more": the short-page rule cannot know otherwise).
    """

    def __init__(self, pages: AsyncIterator[Page], *, item: type[M], max_items: int, source: str) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.item = item
        self.max_items = max_items
        self.truncated = False
        self.pages_fetched = 0
        self._started = False
        self._pages = pages
        self._source = source

    def __aiter__(self) -> AsyncIterator[M]:
        if self._started:
            # The pages come from one walk over the server; a second loop would silently be empty.
            raise RuntimeError("a Paginated can be iterated once; call paginate() again for a new walk")
        self._started = True
        return self._walk()

    async def _walk(self) -> AsyncIterator[M]:
        count = 0
        try:
            async for page in self._pages:
                self.pages_fetched += 1
                for position, raw in enumerate(page.items):
                    yield validate_item(self.item, raw, source=self._source)
                    count += 1
                    if count >= self.max_items:
                        self.truncated = position + 1 < len(page.items) or page.has_more
                        return
        finally:
            # Stop the strategy's generator now rather than at garbage collection.
            await _close(self._pages)

    async def collect(self) -> list[M]:
        return [item async for item in self]


async def _close(pages: AsyncIterator[Page]) -> None:
    aclose = getattr(pages, "aclose", None)
    if aclose is not None:
        await aclose()


def value_at(body: Any, dotted: str) -> Any:
    """`body["a"]["b"]` for `"a.b"`; None where the path does not exist."""
    value = body
    for part in dotted.split(".") if dotted else ():
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def list_at(body: Any, dotted: str, *, source: str) -> list[Any]:
    value = value_at(body, dotted)
    if not isinstance(value, list):
        where = f"at {dotted!r}" if dotted else "as its body"
        raise NonRetryableError(f"{source} did not answer a list {where}")
    return value
