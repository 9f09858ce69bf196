"""Shared fixtures: real Temporal servers, the real demo ledger on loopback, a temp audit store."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from legacy.crm.server import CrmServer
from legacy.erp.server import ErpServer
from legacy.ledger.server import LedgerServer
from legacy.sqldb.database import SqlDemoDatabase
from retrofit.llm.scripted_server import ScriptedModelServer
from tests.shared_data import fail_skip_if_required
from tests.support import SCRIPTED_KEY, DemoSystems, ScriptedModel

VENV_BIN = Path(sys.executable).parent


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport() -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """CI (RETROFIT_REQUIRE_SHARED_DATA=1): a test skipped for want of ../shared/data fails instead."""
    report = yield
    fail_skip_if_required(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report() -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield
    fail_skip_if_required(report)
    return report


# `make test` runs the suite on pytest-xdist workers (`--dist loadgroup`). Each file's tests stay
# together on one worker, so a module fixture starts once and a file's tests keep their order;
# the browser files share one group, so one worker drives the one headless Chromium.
_SHARED_XDIST_GROUPS = {
    "tests/browser/": "browser",
    "tests/web/browser/": "browser",
    "tests/mcp/serving/browser/": "browser",
}


# An xdist worker starts with COLUMNS=80 and LINES=24 in its environment, so every `retrofit`
# subprocess a test starts would wrap its messages at 80 columns where a plain run does not: the
# worker gets the controller's values (or their absence) back.
_TERMINAL_ENV = ("COLUMNS", "LINES")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    node.workerinput["retrofit_terminal_env"] = {name: os.environ.get(name) for name in _TERMINAL_ENV}


def pytest_configure(config: pytest.Config) -> None:
    sent: dict[str, str | None] | None = getattr(config, "workerinput", {}).get("retrofit_terminal_env")
    for name, value in (sent or {}).items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook turns the marks into work units
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if getattr(config.option, "dist", "no") == "no":
        return
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue  # a test's own group wins
        path = item.nodeid.split("::", 1)[0]
        group = next((g for prefix, g in _SHARED_XDIST_GROUPS.items() if path.startswith(prefix)), path)
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def ledger_server() -> Iterator[LedgerServer]:
    with LedgerServer() as server:
        yield server


@pytest.fixture
def ledger(ledger_server: LedgerServer) -> Iterator[LedgerServer]:
    """The shared ledger server, reset to its seed data and with no faults, for one test."""
    httpx.post(f"{ledger_server.url}/_admin/reset", timeout=5).raise_for_status()
    yield ledger_server
    httpx.post(f"{ledger_server.url}/_admin/reset", timeout=5).raise_for_status()


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(VENV_BIN / "temporal-test-server"),
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
async def dev_server_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(VENV_BIN / "temporal"),
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def audit_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'audit.db'}"


@pytest.fixture(scope="session")
def demo_servers() -> Iterator[tuple[ErpServer, CrmServer]]:
    with ErpServer() as erp, CrmServer() as crm:
        yield erp, crm


@pytest.fixture
def demo_systems(
    ledger: LedgerServer, demo_servers: tuple[ErpServer, CrmServer], tmp_path: Path
) -> Iterator[DemoSystems]:
    """Every demo legacy system, at its seed data, for one test."""
    erp, crm = demo_servers
    for url in (erp.url, crm.url):
        httpx.post(f"{url}/_admin/reset", timeout=5).raise_for_status()
    northwind = SqlDemoDatabase(tmp_path / "northwind")
    northwind.prepare()
    yield DemoSystems(ledger=ledger, erp=erp, crm=crm, northwind=northwind)


@pytest.fixture(scope="session")
def scripted_server() -> Iterator[ScriptedModelServer]:
    """One scripted (offline) OpenAI-compatible model server for the session."""
    with ScriptedModelServer(api_key=SCRIPTED_KEY) as server:
        yield server


@pytest.fixture
def scripted(scripted_server: ScriptedModelServer) -> Iterator[ScriptedModel]:
    """The shared scripted server with no requests, faults or default script left from other tests."""
    model = ScriptedModel(scripted_server)
    model.admin("POST", "/_admin/reset")
    model.play_default(None)
    yield model
    model.admin("POST", "/_admin/reset")
