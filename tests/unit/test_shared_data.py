"""The shared-data skip: a clear skip in a clone with nothing beside it, a failure where CI requires
the data (RETROFIT_REQUIRE_SHARED_DATA=1), and no effect on other skips.

Runs a small test file in a child pytest whose conftest uses the suite's own hooks, so what is
checked is the real reporting, not a reimplementation of it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.shared_data import REQUIRE_SHARED_DATA_ENV, SHARED_DATA, missing_reason, shared_data

REPO = Path(__file__).resolve().parents[2]

_CONFTEST = """
from tests.conftest import pytest_make_collect_report, pytest_runtest_makereport
"""

_TESTS = """
import pytest
from tests.shared_data import needs_shared_data, require_shared_data

@needs_shared_data("no-such-dir", "marked.wsdl")
def test_marked():
    raise AssertionError("ran without its file")

@pytest.fixture
def material():
    return require_shared_data("no-such-dir", "asked.yaml")

def test_asked(material):
    raise AssertionError("ran without its file")

# A test written before the helper: its own skip, naming the shared directory.
@pytest.mark.skipif(True, reason="shared test data not found at {shared}/wsdl/old.wsdl")
def test_old_style():
    pass

@pytest.mark.skip(reason="nothing to do with shared data")
def test_other_skip():
    pass

# An expected failure is reported as a kind of skip; its reason must not make it a failure.
@pytest.mark.xfail(reason="shared test data missing: a known failure", strict=True)
def test_known_failure():
    raise AssertionError("known")

def test_plain():
    pass
"""


def _run(tmp_path: Path, *, required: bool) -> tuple[dict[str, str], str]:
    (tmp_path / "conftest.py").write_text(_CONFTEST)
    (tmp_path / "test_material.py").write_text(_TESTS.replace("{shared}", str(SHARED_DATA)))
    env = {k: v for k, v in os.environ.items() if k != REQUIRE_SHARED_DATA_ENV}
    if required:
        env[REQUIRE_SHARED_DATA_ENV] = "1"
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-rA",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    outcomes = dict(
        (name, outcome)
        for outcome, name in re.findall(
            r"^(PASSED|FAILED|ERROR|SKIPPED|XFAIL)\s+\S*?::(\w+)", done.stdout, re.M
        )
    )
    # -rA names skipped tests by file:line, not by name: count them instead.
    outcomes["skipped"] = str(len(re.findall(r"^SKIPPED \[1\]", done.stdout, re.M)))
    return outcomes, done.stdout


@pytest.mark.timeout(90)
def test_missing_shared_data_skips_with_its_path_where_not_required(tmp_path: Path) -> None:
    outcomes, out = _run(tmp_path, required=False)
    assert outcomes["test_plain"] == "PASSED"
    assert outcomes["test_known_failure"] == "XFAIL"
    assert outcomes["skipped"] == "4", out
    assert f"shared test data missing: {SHARED_DATA / 'no-such-dir' / 'marked.wsdl'}" in out
    assert f"shared test data missing: {SHARED_DATA / 'no-such-dir' / 'asked.yaml'}" in out
    assert "ran without its file" not in out


@pytest.mark.timeout(90)
def test_where_required_a_shared_data_skip_fails_and_other_skips_stay(tmp_path: Path) -> None:
    outcomes, out = _run(tmp_path, required=True)
    assert outcomes["test_marked"] == "ERROR", out
    assert outcomes["test_asked"] == "ERROR", out
    assert outcomes["test_old_style"] == "ERROR", out
    assert outcomes["test_plain"] == "PASSED"
    assert outcomes["test_known_failure"] == "XFAIL"
    assert outcomes["skipped"] == "1", out  # "nothing to do with shared data"
    assert f"{REQUIRE_SHARED_DATA_ENV}=1 (CI runs everything), yet shared test data missing:" in out
    assert "ran without its file" not in out
    assert re.search(r"3 errors", out), out


def test_the_location_is_beside_the_checkout() -> None:
    assert REPO.parent / "shared" / "data" == SHARED_DATA
    assert shared_data("wsdl", "x.wsdl") == SHARED_DATA / "wsdl" / "x.wsdl"
    assert missing_reason(SHARED_DATA / "x").startswith(f"shared test data missing: {SHARED_DATA / 'x'}")
