"""A static API key in a request header."""

from __future__ import annotations

from collections.abc import Generator

import httpx
from pydantic import SecretStr


class ApiKeyAuth(httpx.Auth):
    """Sends `key` in `header` (`X-Api-Key` unless the system names it otherwise) on every request."""

    def __init__(self, key: SecretStr, *, header: str = "X-Api-Key") -> None:
        self.header = header
        self._key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self.header] = self._key.get_secret_value()
        yield request
