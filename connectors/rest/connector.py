"""`RestConnector`: the base class of connectors to REST systems."""

from __future__ import annotations

import functools
import time
from collections.abc import Collection, Mapping
from typing import Any, ClassVar, TypeVar

import httpx
from pydantic import BaseModel, SecretStr

from connectors.rest.capture import record_exchange
from connectors.rest.client import build_client
from connectors.rest.decoding import decode_response
from connectors.rest.pagination import PageStrategy, Paginated
from connectors.rest.rate_limit import TokenBucket
from connectors.rest.settings import RestSettings
from connectors.rest.status_mapping import map_failure
from connectors.rest.urls import same_origin
from retrofit.sdk import Connector, ConnectorSettings, NonRetryableError, current_call

M = TypeVar("M", bound=BaseModel)

#: The default safety cap of `paginate`: enough for a tool result, small enough to stay one.
DEFAULT_MAX_ITEMS = 500


class RestConnector(Connector):
    """Base of connectors to REST systems: one pooled httpx client, auth, errors, audit capture.

    A subclass sets `name`, a `Settings` model derived from `RestSettings`, overrides `build_auth()`
    when the system needs credentials, and writes its actions with `request_json()` and
    `paginate()`. Every request then goes through the same pipeline: rate limit (when configured)
    → auth flow → one HTTP exchange (no client-side retries: Temporal retries) → a redacted summary
    in the action's audit record → failures mapped by `status_mapping.map_failure`.
    """

    Settings: ClassVar[type[ConnectorSettings]] = RestSettings
    settings: RestSettings
    #: Where writes made with `idempotent=True` carry `current_call().idempotency_key`.
    idempotency_header: ClassVar[str] = "Idempotency-Key"

    def __init__(
        self, settings: ConnectorSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        """`transport` replaces httpx's network transport (e.g. `httpx.MockTransport` in tests)."""
        expected = type(self).Settings
        if not isinstance(settings, expected):
            raise TypeError(f"{type(self).__name__} needs {expected.__name__}, got {type(settings).__name__}")
        super().__init__(settings)
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._bucket: TokenBucket | None = None

    @functools.cached_property
    def secret_values(self) -> tuple[str, ...]:
        """The values of this connector's `SecretStr` settings, masked in captured bodies."""
        values = (getattr(self.settings, name) for name in type(self.settings).model_fields)
        found = {v.get_secret_value() for v in values if isinstance(v, SecretStr)}
        # A one- or two-character "secret" would blank every such fragment of every body.
        return tuple(sorted(v for v in found if len(v) >= 3))

    def build_auth(self) -> httpx.Auth | None:
        """The auth flow for this system, built from `self.settings`; called once by `open()`."""
        return None

    async def open(self) -> None:
        if self._client is not None:
            return
        self._client = build_client(self.settings, auth=self.build_auth(), transport=self._transport)
        if self.settings.rate_limit_per_second is not None:
            self._bucket = TokenBucket(self.settings.rate_limit_per_second, self.settings.rate_limit_burst)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
            self._bucket = None

    @property
    def client(self) -> httpx.AsyncClient:
        """The connector's client, for the rare request the helpers below do not cover."""
        if self._client is None:
            raise RuntimeError(f"{type(self).__name__}.open() must run before its actions")
        return self._client

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = False,
        allow: Collection[int] = (),
        operation: str | None = None,
    ) -> httpx.Response:
        """Send one request; return the response if it succeeded (or its status is in `allow`).

        `path` is relative to the base URL; an absolute URL (a next-page link) must share the base
        URL's origin, because the auth flow would otherwise hand our credentials to another host.
        `idempotent=True` sends the running call's idempotency key, so the system can recognise a
        retried write. `operation` names the exchange in the audit record and in error messages
        when the path does not (a JSON-RPC method). Failures raise the Retrofit error
        `map_failure` chose.
        """
        client = self.client
        if "://" in path:  # only an absolute URL can point elsewhere; parse just those
            target = httpx.URL(path)
            if target.is_absolute_url and not same_origin(target, client.base_url):
                raise NonRetryableError(
                    f"{self.name} refuses to send a request to another origin: {target.host}"
                )
        merged = dict(headers or {})
        if idempotent:
            merged[self.idempotency_header] = current_call().idempotency_key
        request = client.build_request(method, path, params=params, json=json, data=data, headers=merged)
        if self._bucket is not None:
            await self._bucket.acquire()
        started = time.perf_counter()
        try:
            response = await client.send(request)
        except httpx.HTTPError as exc:
            record_exchange(
                request,
                started=started,
                finished=time.perf_counter(),
                error=exc,
                operation=operation,
                secrets=self.secret_values,
            )
            raise map_failure(self.name, method, request.url.path, exc, operation=operation) from exc
        record_exchange(
            request,
            started=started,
            finished=time.perf_counter(),
            response=response,
            operation=operation,
            secrets=self.secret_values,
        )
        if response.is_success or response.status_code in allow:
            return response
        raise map_failure(self.name, method, request.url.path, response, operation=operation)

    async def request_json(
        self,
        method: str,
        path: str,
        *,
        expect: type[M],
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = False,
    ) -> M:
        """`request()`, then the body decoded as `expect`."""
        response = await self.request(
            method, path, params=params, json=json, data=data, headers=headers, idempotent=idempotent
        )
        return decode_response(expect, response, system=self.name)

    def paginate(
        self,
        path: str,
        strategy: PageStrategy,
        *,
        item: type[M],
        params: Mapping[str, Any] | None = None,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> Paginated[M]:
        """The items of every page of `GET path`, as `item` models, at most `max_items` of them."""

        async def fetch(target: str, query: Mapping[str, Any] | None) -> httpx.Response:
            return await self.request("GET", target, params=query)

        pages = strategy.pages(fetch, path, params or {})
        return Paginated(pages, item=item, max_items=max_items, source=f"{self.name} GET {path}")
