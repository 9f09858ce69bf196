"""The real identity service for tests that drive the CLI: on loopback, the demo directory, and
its own signing key — or a `TestSigner`'s, the fixed test key that `tests.identity_support`
workers pin — so the CLI's signed answers verify in the workers of the test."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from retrofit.embedded.identity_server import DEMO_DIRECTORY, IdentityServer, demo_password
from retrofit.identity.keys import identity_pin
from retrofit.identity.pin import IdentityPin
from retrofit.identity.testing import TestSigner
from retrofit.settings import RetrofitSettings


@dataclass
class Identity:
    settings: RetrofitSettings
    server: IdentityServer
    data_dir: Path  # the CLI's (its `retrofit login` session cache)
    signer: TestSigner | None = None

    @property
    def pin(self) -> IdentityPin:
        return self.signer.pin() if self.signer else identity_pin(self.settings)

    @property
    def url(self) -> str:
        return self.server.local_url

    def env(self, user: str | None = None, password: str | None = None) -> dict[str, str]:
        """`RETROFIT_*` for the CLI and `retrofit worker`: where the service is, the keys a worker
        pins, and with `user` their demo password (or `password`)."""
        env = {
            "RETROFIT_IDENTITY_URL": self.url,
            "RETROFIT_IDENTITY_PUBLIC_KEYS": json.dumps(self.pin.keys),
            "RETROFIT_DATA_DIR": str(self.data_dir),
        }
        if user is not None or password is not None:
            env["RETROFIT_IDENTITY_PASSWORD"] = (
                password if password is not None else demo_password(user or "")
            )
        return env


@contextlib.contextmanager
def identity_service(directory: Path, *, signer: TestSigner | None = None) -> Iterator[Identity]:
    """An identity service for one test, under `directory`: its own key, or `signer`'s (the test
    key `tests.identity_support` workers pin)."""
    settings = RetrofitSettings(data_dir=directory / "identity-service", identity_directory=DEMO_DIRECTORY)
    key = (signer.kid, signer.key) if signer else None
    server = IdentityServer(settings, port=0, signing_key=key)
    server.start()
    try:
        yield Identity(settings, server, directory / "cli-data", signer)
    finally:
        server.stop()
