"""The identity service for end-to-end tests: the real service on loopback with the demo
directory and its own signing key; workers pin its public key, the CLI logs in there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.identity_service import Identity, identity_service

__all__ = ["Identity"]


@pytest.fixture
def identity(tmp_path: Path) -> Iterator[Identity]:
    with identity_service(tmp_path) as running:
        yield running
