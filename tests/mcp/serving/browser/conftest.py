"""The browser tests' fixtures (a dev server with its Web UI, the identity + codec server it
points at, Debian's Chromium via Playwright), for the MCP approval in the Temporal UI."""

from __future__ import annotations

import pytest

pytest.importorskip("playwright.async_api", reason="playwright is not installed: pip install -e '.[dev]'")

# After the skip: the fixtures need Playwright.
from tests.browser.conftest import (
    browser,
    browser_context,
    page,
    screenshot_dir,
    screenshots,
    ui_server,
)

__all__ = ["browser", "browser_context", "page", "screenshot_dir", "screenshots", "ui_server"]
