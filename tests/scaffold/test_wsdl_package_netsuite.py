"""The NetSuite 2023_2 WSDL of ../shared/data (47 files) through `retrofit connectors new
--from-wsdl`: every operation generated, mypy --strict clean, installed, listed, conformance
passing. Skips with a reason in a clone without ../shared (CI has it). Salesforce is
test_wsdl_package_salesforce.py, so the two run on separate workers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scaffold.wsdl_packages import generate, prove
from tests.shared_data import needs_shared_data, shared_data

pytestmark = [pytest.mark.timeout(400), needs_shared_data("wsdl", "netsuite-2023_2", "netsuite.wsdl")]


def test_netsuite_generates_installs_and_passes_conformance(tmp_path: Path) -> None:
    netsuite = generate("netsuite", shared_data("wsdl", "netsuite-2023_2", "netsuite.wsdl"), tmp_path)
    assert (len(netsuite.package.actions), netsuite.package.skipped) == (42, [])
    settings = {s.name: s for s in netsuite.package.connector.settings}
    assert settings["token_passport_token"].secret and settings["token_passport_consumer_key"].secret
    timings = prove([netsuite], tmp_path)
    print(
        f"\nNetSuite: {netsuite.share} ops in {netsuite.seconds:.2f} s; "
        + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
    )
