"""The real-world test material (third-party WSDLs, OpenAPI files, sample databases) and how a test
asks for it.

It lives outside the repository, in `../shared/data` beside the checkout (see its SOURCES.md); this
module is the one place that says so. A user's clone has nothing beside it, so a test that needs a
file skips with a reason naming it: `@needs_shared_data("wsdl", "x.wsdl")` (or `pytestmark = ...`)
on a test or module, `require_shared_data(...)` inside a fixture or test.

CI has the material and exports RETROFIT_REQUIRE_SHARED_DATA=1 (.ci/run); there the conftest hook
(`tests/conftest.py`, via `fail_skip_if_required`) turns such a skip into a failure, so a lost or
renamed file stops CI instead of quietly skipping the tests that use it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REQUIRE_SHARED_DATA_ENV = "RETROFIT_REQUIRE_SHARED_DATA"
# Every reason given here starts with this; the hook also recognises the directory in older reasons.
_REASON_PREFIX = "shared test data missing:"


def shared_data(*parts: str) -> Path:
    """`SHARED_DATA / parts...`, whether or not it exists."""
    return SHARED_DATA.joinpath(*parts)


def missing_reason(path: Path) -> str:
    return f"{_REASON_PREFIX} {path} (the real-world files of ../shared/data beside the checkout)"


def needs_shared_data(*parts: str) -> pytest.MarkDecorator:
    """A skip mark for a test or module that reads `shared_data(*parts)`, when it is absent."""
    path = shared_data(*parts)
    return pytest.mark.skipif(not path.exists(), reason=missing_reason(path))


def require_shared_data(*parts: str) -> Path:
    """`shared_data(*parts)`, or a skip (a failure where required) when it is absent."""
    path = shared_data(*parts)
    if not path.exists():
        pytest.skip(missing_reason(path))
    return path


def shared_data_required() -> bool:
    return os.environ.get(REQUIRE_SHARED_DATA_ENV) == "1"


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str | None:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return None


def fail_skip_if_required(report: pytest.TestReport | pytest.CollectReport) -> None:
    """Where shared data is required, a skip for want of it becomes a failure (in place)."""
    if not report.skipped or hasattr(report, "wasxfail") or not shared_data_required():
        return
    reason = _skip_reason(report)
    if reason is None or not (reason.startswith(_REASON_PREFIX) or str(SHARED_DATA) in reason):
        return
    report.outcome = "failed"
    report.longrepr = f"{REQUIRE_SHARED_DATA_ENV}=1 (CI runs everything), yet {reason}"
