"""Real FedEx Web Services WSDLs (Track v16, Rate v24, Ship v23; vendored from the BSD-licensed
`fedex` package, see tests/data/wsdl/SOURCES.md) through `retrofit connectors new --from-wsdl`:
every operation generated, mypy --strict clean, installed, listed, conformance passing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.integration.soap.codegen_support import vendored
from tests.scaffold.wsdl_packages import generate, largest_file_lines, prove

pytestmark = pytest.mark.timeout(300)
SERVICES = {
    "fedex_track": "TrackService_v16",
    "fedex_rate": "RateService_v24",
    "fedex_ship": "ShipService_v23",
}


def test_fedex_track_rate_and_ship_generate_install_and_pass_conformance(tmp_path: Path) -> None:
    generated = [
        generate(name, vendored(f"fedex-{f}.wsdl.gz", tmp_path), tmp_path) for name, f in SERVICES.items()
    ]
    for g in generated:
        assert g.package.skipped == [], g.package.skipped
        settings = {s.name: s for s in g.package.connector.settings}
        # Credentials are settings, never inputs: WebAuthenticationDetail leaves the input models.
        assert settings["user_credential_password"].secret and settings["user_credential_key"].secret
        models_dir = g.out / f"{g.name}_connector" / "models"
        models = "\n".join(p.read_text() for p in sorted(models_dir.glob("*.py")))
        operations = (models_dir / f"{g.name.removeprefix('fedex_')}.py").read_text()
        assert "web_authentication_detail" not in operations and "client_detail" in operations
        assert not re.search(r"^\s+\w+: (list\[)?Any\b", models, re.M)  # Ship had 16 `Any` fields
        assert "class Address2(" not in models and "class Contact2(" not in models  # and duplicate …2 classes
        assert largest_file_lines(g) < 1500
    track_models = (generated[0].out / "fedex_track_connector" / "models" / "types.py").read_text()
    assert "    major: Literal[16] = 16" in track_models  # VersionId's fixed values, filled in
    timings = prove(generated, tmp_path)
    figures = ", ".join(f"{g.name} {g.share} ops in {g.seconds:.2f} s" for g in generated)
    print(f"\nFedEx: {figures}; " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
