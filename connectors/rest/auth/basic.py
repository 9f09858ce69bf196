"""HTTP Basic authentication (RFC 7617) with the password kept as a secret."""

from __future__ import annotations

import httpx
from pydantic import SecretStr


class BasicAuth(httpx.BasicAuth):
    """httpx's Basic flow, taking the password as `SecretStr` like every other Retrofit credential."""

    def __init__(self, username: str, password: SecretStr) -> None:
        super().__init__(username, password.get_secret_value())
