"""What the browser tests share, without importing Playwright (so a machine without it only skips):
where Chromium is, how it is launched, the UI server handle, and screenshot saving."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from temporalio.testing import WorkflowEnvironment

from retrofit.identity.pin import IdentityPin

if TYPE_CHECKING:
    from playwright.async_api import Page

# Debian's Chromium (`.ci/install-browser`); Playwright's own browser download is never used.
CHROMIUM = Path("/usr/bin/chromium")
# Flags that work headless as root in a container; Playwright adds a fresh --user-data-dir.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT_WIDTH, VIEWPORT_HEIGHT = 1400, 1000

REPO = Path(__file__).resolve().parents[2]
DOC_SCREENSHOTS = REPO / "docs" / "screenshots"
# Set to 1 to copy the chosen screenshots into docs/screenshots/ (for the README); off by default
# so that `make test` leaves the work tree untouched.
UPDATE_DOCS_ENV = "RETROFIT_UPDATE_DOC_SCREENSHOTS"
# Where screenshots go; default: a folder in the session's pytest temp dir (listed at the end).
ARTIFACTS_ENV = "RETROFIT_UI_ARTIFACTS"

# Set to 1 (CI does) to fail, instead of skip, where Playwright or Chromium is missing.
REQUIRE_BROWSER_ENV = "RETROFIT_REQUIRE_BROWSER"

TAKEN: list[Path] = []  # every screenshot of the session, for the terminal summary


@dataclass
class UiServer:
    env: WorkflowEnvironment
    url: str  # the Web UI, e.g. http://127.0.0.1:40123
    # The identity + codec server the UI's codec endpoint points at (log in at <identity_url>/login),
    # and the pin of its signing key, for the workers of the test.
    identity_url: str = ""
    pin: IdentityPin | None = None


@dataclass
class Screenshots:
    directory: Path
    prefix: str
    taken: list[Path] = field(default_factory=list)

    async def take(self, page: Page, name: str, *, doc_name: str | None = None) -> Path:
        """Save a PNG of the viewport as `<test>-<name>.png`; with RETROFIT_UPDATE_DOC_SCREENSHOTS=1
        also copy it to docs/screenshots/<doc_name>."""
        path = self.directory / f"{self.prefix}-{name}.png"
        await page.screenshot(path=str(path))
        self.taken.append(path)
        TAKEN.append(path)
        if doc_name and os.environ.get(UPDATE_DOCS_ENV) == "1":
            DOC_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOC_SCREENSHOTS / doc_name)
        return path
