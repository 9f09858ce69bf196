"""Fixtures for SOAP tests: the real demo ERP on loopback, shared by the session, reset per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from connectors.erp.connector import ErpConnector
from legacy.erp.server import ErpServer
from tests.integration.soap.erp_support import admin, connector_for


@pytest.fixture(scope="session")
def erp_server() -> Iterator[ErpServer]:
    with ErpServer() as server:
        yield server


@pytest.fixture
def erp(erp_server: ErpServer) -> Iterator[ErpServer]:
    """The shared ERP, back at its seed data with no faults, for one test."""
    admin(erp_server, "POST", "reset")
    yield erp_server
    admin(erp_server, "POST", "reset")


@pytest.fixture
async def erp_connector(erp: ErpServer) -> AsyncIterator[ErpConnector]:
    connector = connector_for(erp)
    await connector.open()
    try:
        yield connector
    finally:
        await connector.close()
