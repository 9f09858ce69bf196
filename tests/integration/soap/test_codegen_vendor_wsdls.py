"""`python -m connectors.soap.codegen` on the real vendor WSDLs issue 13 names: FedEx Track/Rate/Ship
models import (a field `date` no longer shadows its type), Ship keeps every type typed (it had 16
`Any` fields and duplicate `…2` classes), Bing's BiddingScheme and Setting are unions of their 16
and 24 subtypes. Packages from the same WSDLs are proven in tests/scaffold/test_wsdl_package_*.py."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from connectors.soap import list_operations, load_wsdl
from connectors.soap.codegen import models_source
from tests.integration.soap.codegen_support import vendored


def _load(source: str, path: Path) -> ModuleType:
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


@pytest.mark.parametrize("service", ["TrackService_v16", "RateService_v24", "ShipService_v23"])
def test_fedex_models_import_and_stay_typed(service: str, tmp_path: Path) -> None:
    document = load_wsdl(str(vendored(f"fedex-{service}.wsdl.gz", tmp_path)))
    operations = [op.name for op in list_operations(document)]
    source = models_source(document, operations)
    module = _load(source, tmp_path / f"fedex_{service.lower()}.py")
    assert "    date: _dt.date | None = None" in source
    assert not re.search(r"^\s+\w+: (list\[)?Any\b", source, re.M)
    classes = re.findall(r"^class (\w+)\(", source, re.M)
    assert len(classes) == len(set(classes))
    assert not [c for c in classes if re.fullmatch(r"\w*[A-Za-z]2", c)]  # no `Address2`, `Contact2`
    for operation in operations:
        assert getattr(module, f"{operation[:1].upper()}{operation[1:]}Input").model_json_schema()


def test_bing_subtypes_are_unions_of_every_subtype(tmp_path: Path) -> None:
    document = load_wsdl(str(vendored("bingads-v13-campaignmanagement.wsdl.gz", tmp_path)))
    source = models_source(document, ["AddCampaigns", "GetCampaignsByAccountId"])
    module = _load(source, tmp_path / "bing_campaigns.py")
    for base, subtypes in (("BiddingScheme", 16), ("Setting", 24)):
        union = source.split(f"{base}Variants: TypeAlias = Annotated[", 1)[1].split("xsi_type(", 1)[0]
        assert union.count("Tag(") == subtypes + 1
    campaign = module.Campaign.model_validate(
        {"bidding_scheme": {"xsi_type": "MaxClicksBiddingScheme", "max_cpc": {"amount": 1.25}}}
    )
    assert type(campaign.bidding_scheme).__name__ == "MaxClicksBiddingScheme"
    assert campaign.model_dump()["bidding_scheme"]["xsi_type"] == "MaxClicksBiddingScheme"
