"""The real Bing Ads v13 CampaignManagement WSDL (195 operations, vendored from the MIT-licensed
`bingads` package) through `retrofit connectors new --from-wsdl`: every operation generated,
split into groups, mypy --strict clean, installed, listed, conformance passing. The READ action
through the gate is `tests/integration/soap/test_codegen_gate.py`."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrofit.sdk import Effect
from tests.integration.soap.codegen_support import vendored
from tests.scaffold.wsdl_packages import generate, largest_file_lines, prove

pytestmark = pytest.mark.timeout(300)


def test_bing_campaign_management_generates_installs_and_passes_conformance(tmp_path: Path) -> None:
    g = generate("bing", vendored("bingads-v13-campaignmanagement.wsdl.gz", tmp_path), tmp_path)
    package = g.package
    assert (len(package.actions), package.skipped) == (195, [])
    assert all(len(actions) <= 20 for actions in package.groups.values()) and len(package.groups) == 10
    assert largest_file_lines(g) < 1500
    effects = {a.method: a.effect.effect for a in package.actions}
    assert effects["get_campaigns_by_account_id"] is Effect.READ
    assert effects["delete_campaigns"] is Effect.DESTRUCTIVE and effects["add_campaigns"] is Effect.WRITE
    settings = {s.name: s for s in package.connector.settings}
    for secret in ("header_developer_token", "header_authentication_token", "header_password"):
        assert settings[secret].secret and settings[secret].annotation == "SecretStr | None"
    assert not settings["header_customer_id"].secret
    types = "\n".join(p.read_text() for p in (g.out / "bing_connector" / "models").glob("types_*.py"))
    for base, subtypes in (("BiddingScheme", 16), ("Setting", 24)):
        union = types.split(f"{base}Variants: TypeAlias = Annotated[", 1)[1].split("xsi_type(", 1)[0]
        assert union.count("Tag(") == subtypes + 1, base  # the base itself and every subtype
    timings = prove([g], tmp_path)
    print(
        f"\nBing: {g.share} ops in {g.seconds:.2f} s; "
        + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
    )
