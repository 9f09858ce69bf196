"""The Salesforce Partner v58 WSDL of ../shared/data through `retrofit connectors new --from-wsdl`:
every operation generated, mypy --strict clean, installed, listed, conformance passing. Skips with
a reason in a clone without ../shared (CI has it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scaffold.wsdl_packages import generate, prove
from tests.shared_data import needs_shared_data, shared_data

pytestmark = [pytest.mark.timeout(300), needs_shared_data("wsdl", "salesforce-partner-v58.wsdl")]


def test_salesforce_generates_installs_and_passes_conformance(tmp_path: Path) -> None:
    salesforce = generate("salesforce", shared_data("wsdl", "salesforce-partner-v58.wsdl"), tmp_path)
    assert (len(salesforce.package.actions), salesforce.package.skipped) == (63, [])
    settings = {s.name: s for s in salesforce.package.connector.settings}
    assert settings["session_header_session_id"].secret  # SessionHeader/sessionId, never an input
    assert settings["login_password"].secret  # login's password is a setting too
    (login,) = [
        s.split("class LoginInput(", 1)[1]
        for s in salesforce.package.model_modules.values()
        if "class LoginInput(" in s
    ]
    assert (
        "    username: str" in login.split("\nclass ", 1)[0]
        and "    password:" not in login.split("\nclass ", 1)[0]
    )
    timings = prove([salesforce], tmp_path)
    print(
        f"\nSalesforce: {salesforce.share} ops in {salesforce.seconds:.2f} s; "
        + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
    )
