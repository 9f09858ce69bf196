"""Small URL rules the REST base enforces."""

from __future__ import annotations

from urllib.parse import quote

import httpx


def path_segment(value: str) -> str:
    """`value` as one URL path segment: `/` and `?` in an id cannot reach another endpoint."""
    return quote(value, safe="")


def same_origin(url: httpx.URL, base: httpx.URL) -> bool:
    """Whether `url` points at the same scheme, host and port as `base` (RFC 6454 origins)."""
    return (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port)
