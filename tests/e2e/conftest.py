"""The identity service for end-to-end tests: the real service on loopback with the demo
directory and its own signing key; workers pin its public key, the CLI logs in there."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from retrofit.embedded.identity_server import DEMO_DIRECTORY, IdentityServer, demo_password
from retrofit.identity.keys import identity_pin
from retrofit.identity.pin import IdentityPin
from retrofit.settings import RetrofitSettings


@dataclass
class Identity:
    settings: RetrofitSettings
    server: IdentityServer
    data_dir: Path  # the CLI's (its `retrofit login` session cache)

    @property
    def pin(self) -> IdentityPin:
        return identity_pin(self.settings)

    @property
    def url(self) -> str:
        return self.server.local_url

    def env(self, user: str | None = None, password: str | None = None) -> dict[str, str]:
        """CLI environment: where the service is; with `user`, their demo password (or `password`)."""
        env = {"RETROFIT_IDENTITY_URL": self.url, "RETROFIT_DATA_DIR": str(self.data_dir)}
        if user is not None or password is not None:
            env["RETROFIT_IDENTITY_PASSWORD"] = (
                password if password is not None else demo_password(user or "")
            )
        return env


@pytest.fixture
def identity(tmp_path: Path) -> Iterator[Identity]:
    settings = RetrofitSettings(data_dir=tmp_path / "identity-service", identity_directory=DEMO_DIRECTORY)
    server = IdentityServer(settings, port=0)
    server.start()
    try:
        yield Identity(settings, server, tmp_path / "cli-data")
    finally:
        server.stop()
