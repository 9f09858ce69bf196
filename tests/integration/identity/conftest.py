"""An identity service on loopback with the demo directory, its own key and data dir per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from retrofit.embedded.identity_server import DEMO_DIRECTORY, IdentityServer
from retrofit.settings import RetrofitSettings

UI_ORIGIN = "http://127.0.0.1:8233"


@pytest.fixture
def identity_settings(tmp_path: Path) -> RetrofitSettings:
    return RetrofitSettings(
        data_dir=tmp_path / "data",
        identity_directory=DEMO_DIRECTORY,
        codec_cors_origins=UI_ORIGIN,
        ui_url=UI_ORIGIN,
    )


@pytest.fixture
def identity_server(identity_settings: RetrofitSettings) -> Iterator[IdentityServer]:
    server = IdentityServer(identity_settings, port=0)
    server.start()
    try:
        yield server
    finally:
        server.stop()
