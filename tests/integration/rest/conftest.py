"""Fixtures of the REST tests: the demo CRM and the auth probe, each on loopback for the session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from connectors.crm.connector import CrmConnector
from legacy.crm.server import CrmServer
from retrofit.http_serving import ThreadedUvicorn
from tests.integration.rest.auth_probe import ProbeState, create_probe_app
from tests.integration.rest.support import crm_connector


def reset(url: str) -> None:
    # Plain HTTP on loopback: verify=False only skips loading a CA bundle that would go unused.
    httpx.post(f"{url}/_admin/reset", timeout=5, verify=False).raise_for_status()


@pytest.fixture(scope="session")
def crm_server() -> Iterator[CrmServer]:
    with CrmServer() as server:
        yield server


@pytest.fixture
def crm(crm_server: CrmServer) -> Iterator[CrmServer]:
    """The shared CRM, reset to its seed data, with no tokens and no faults, for one test."""
    reset(crm_server.url)
    yield crm_server
    reset(crm_server.url)


@pytest.fixture
async def connector(crm: CrmServer) -> AsyncIterator[CrmConnector]:
    conn = crm_connector(crm.url)
    await conn.open()
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def probe_server() -> Iterator[ThreadedUvicorn]:
    with ThreadedUvicorn(
        create_probe_app(ProbeState()), name="auth-probe", health_path="/_admin/health"
    ) as server:
        yield server


@pytest.fixture
def probe(probe_server: ThreadedUvicorn) -> Iterator[ThreadedUvicorn]:
    reset(probe_server.url)
    yield probe_server
