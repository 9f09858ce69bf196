"""The Salesforce Partner v58 and NetSuite 2023_2 WSDLs of ../shared/data through `retrofit
connectors new --from-wsdl`: every operation generated, mypy --strict clean, installed, listed,
conformance passing. They skip with a reason in a clone without ../shared (CI has them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scaffold.wsdl_packages import generate, prove
from tests.shared_data import needs_shared_data, shared_data

pytestmark = [
    pytest.mark.timeout(400),
    needs_shared_data("wsdl", "salesforce-partner-v58.wsdl"),
    needs_shared_data("wsdl", "netsuite-2023_2", "netsuite.wsdl"),
]


def test_salesforce_and_netsuite_generate_install_and_pass_conformance(tmp_path: Path) -> None:
    salesforce = generate("salesforce", shared_data("wsdl", "salesforce-partner-v58.wsdl"), tmp_path)
    netsuite = generate("netsuite", shared_data("wsdl", "netsuite-2023_2", "netsuite.wsdl"), tmp_path)
    assert (len(salesforce.package.actions), salesforce.package.skipped) == (63, [])
    assert (len(netsuite.package.actions), netsuite.package.skipped) == (42, [])
    sf_settings = {s.name: s for s in salesforce.package.connector.settings}
    assert sf_settings["session_header_session_id"].secret  # SessionHeader/sessionId, never an input
    assert sf_settings["login_password"].secret  # login's password is a setting too
    login = (salesforce.out / "salesforce_connector" / "models").glob("*.py")
    assert not any(
        "class LoginInput" in p.read_text()
        and "    password:" in p.read_text().split("class LoginInput", 1)[1].split("class ", 1)[0]
        for p in login
    )
    ns_settings = {s.name: s for s in netsuite.package.connector.settings}
    assert ns_settings["token_passport_token"].secret
    timings = prove([salesforce, netsuite], tmp_path)
    print(
        f"\nSalesforce: {salesforce.share} ops in {salesforce.seconds:.2f} s; NetSuite: {netsuite.share} ops in "
        f"{netsuite.seconds:.2f} s; " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
    )
