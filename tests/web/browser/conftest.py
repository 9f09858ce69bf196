"""Browser tests of the web front door: Debian's Chromium via Playwright (the launch and the skip
rule are tests/browser's, imported); skipped with the reason where either is missing, unless
RETROFIT_REQUIRE_BROWSER=1 (CI), where tests/browser's conftest makes that an error."""

from __future__ import annotations

import importlib.util

import pytest

from tests.browser.browser_env import CHROMIUM


def _browser_missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed: pip install -e '.[dev]'"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: run .ci/install-browser (apt-get install chromium)"
    return None


_MISSING = _browser_missing()

if _MISSING is None:
    # The session's Chromium, launched as tests/browser launches it (imports the RETROFIT_REQUIRE_BROWSER check too).
    from tests.browser.conftest import browser  # noqa: F401


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if _MISSING is None:
        return
    import os

    from tests.browser.browser_env import REQUIRE_BROWSER_ENV

    if os.environ.get(REQUIRE_BROWSER_ENV) == "1":
        raise RuntimeError(f"{REQUIRE_BROWSER_ENV}=1 but {_MISSING}")
    for item in items:
        if "tests/web/browser" in str(item.fspath):
            item.add_marker(pytest.mark.skip(reason=_MISSING))
