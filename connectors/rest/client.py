"""Builds the one `httpx.AsyncClient` a REST connector uses for its whole life."""

from __future__ import annotations

import functools
import ssl
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path

import httpx

from connectors.rest.settings import RestSettings

USER_AGENT = "retrofit-connector/0.1"


def build_client(
    settings: RestSettings,
    *,
    auth: httpx.Auth | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """A pooled client configured from `settings` alone.

    - No client-side retries (httpx transports retry nothing unless told to): Temporal retries,
      with backoff and a record in history.
    - `trust_env=False`: proxies, CA bundles and `.netrc` credentials come from the settings, not
      from whatever environment a worker happens to start in, so ops configure them in one place.
    - No redirects followed: a legacy API that redirects is misconfigured (or moved), and following
      blindly could carry a request body to a place nobody reviewed.
    - No cookie jar: the client is shared by every concurrent action of the worker, so server-side
      state set for one call must not ride along on another. Login sessions live in `SessionAuth`.
    """
    timeout = httpx.Timeout(
        connect=settings.connect_timeout,
        read=settings.read_timeout,
        write=settings.read_timeout,
        pool=settings.connect_timeout,
    )
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **settings.default_headers}
    proxy = settings.proxy.get_secret_value() if settings.proxy is not None else None
    return httpx.AsyncClient(
        base_url=str(settings.base_url),
        auth=auth,
        headers=headers,
        timeout=timeout,
        verify=_tls_verification(settings),
        proxy=proxy if transport is None else None,
        limits=httpx.Limits(max_connections=settings.max_connections),
        cookies=_refusing_jar(),
        follow_redirects=False,
        trust_env=False,
        transport=transport,
    )


def _tls_verification(settings: RestSettings) -> ssl.SSLContext | bool:
    if not settings.verify_tls:
        return False
    return _verifying_context(settings.ca_bundle)


@functools.cache
def _verifying_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """One verifying context per CA bundle, shared by every client of the process.

    Building one loads and parses the whole bundle (about 100 ms); a worker opening several
    connectors, or a test suite opening hundreds, should pay that once. SSL contexts are made to
    be shared, and httpx only ever sets the same ALPN list on it (HTTP/2 stays off).
    """
    if ca_bundle is None:
        return httpx.create_ssl_context(trust_env=False)  # httpx's defaults: the certifi bundle
    # A context rather than a path: httpx 0.28 deprecates `verify=<path>`.
    return ssl.create_default_context(cafile=str(ca_bundle))


def _refusing_jar() -> CookieJar:
    # An empty allow-list of domains: the jar refuses every cookie a response tries to set.
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
