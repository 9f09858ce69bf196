"""`read_wsdl` on small and hostile WSDLs: one-sentence errors, never a fetch, credentials as
settings, safe names, effects for review. The real vendor WSDLs are `test_wsdl_package_*.py`."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from connectors.scaffold.errors import SourceError
from connectors.scaffold.selection import Selection
from connectors.scaffold.writer import write_package
from connectors.scaffold.wsdl import read_wsdl
from retrofit.sdk import Effect
from tests.integration.soap.codegen_support import vendored
from tests.scaffold.support import VENV_BIN, run

EVERYTHING = Selection(None)


def _wsdl(
    tmp_path: Path, operations: list[str], *, fields: str = "", schema_extra: str = "", prolog: str = ""
) -> Path:
    """A document/literal WSDL with one request element (holding `fields`) per operation."""
    elements = "".join(
        f'<xs:element name="{op}"><xs:complexType><xs:sequence>{fields}</xs:sequence></xs:complexType></xs:element>'
        f'<xs:element name="{op}Response"><xs:complexType><xs:sequence>'
        f'<xs:element name="Ok" type="xs:boolean" minOccurs="0"/></xs:sequence></xs:complexType></xs:element>'
        for op in operations
    )
    messages = "".join(
        f'<message name="{op}In"><part name="p" element="tns:{op}"/></message>'
        f'<message name="{op}Out"><part name="p" element="tns:{op}Response"/></message>'
        for op in operations
    )
    port_ops = "".join(
        f'<operation name="{op}"><input message="tns:{op}In"/><output message="tns:{op}Out"/></operation>'
        for op in operations
    )
    binding_ops = "".join(
        f'<operation name="{op}"><soap:operation soapAction="urn:t/{op}"/>'
        '<input><soap:body use="literal"/></input><output><soap:body use="literal"/></output></operation>'
        for op in operations
    )
    text = f"""<?xml version="1.0"?>{prolog}
<definitions name="T" targetNamespace="urn:t" xmlns="http://schemas.xmlsoap.org/wsdl/"
  xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:tns="urn:t" xmlns:xs="http://www.w3.org/2001/XMLSchema">
<types><xs:schema targetNamespace="urn:t" elementFormDefault="qualified">{schema_extra}{elements}</xs:schema></types>
{messages}<portType name="P">{port_ops}</portType>
<binding name="B" type="tns:P"><soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
{binding_ops}</binding>
<service name="S"><port name="SP" binding="tns:B"><soap:address location="http://127.0.0.1:9/s"/></port></service>
</definitions>"""
    path = tmp_path / "service" / "t.wsdl"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def test_a_url_is_refused_without_fetching() -> None:
    with pytest.raises(SourceError, match="local file"):
        read_wsdl("t", "http://169.254.169.254/latest/meta-data?wsdl", EVERYTHING)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "there is no WSDL file"),
        ("not xml at all", "cannot be read"),
        ("<definitions xmlns='http://schemas.xmlsoap.org/wsdl/'/>", "declares no SOAP operation"),
        ("\x00\xff" * 100, "cannot be read"),
    ],
)
def test_unreadable_wsdls_are_one_sentence(tmp_path: Path, content: str | None, expected: str) -> None:
    path = tmp_path / "x.wsdl"
    if content is not None:
        path.write_text(content, encoding="latin-1")
    with pytest.raises(SourceError, match=expected) as info:
        read_wsdl("t", str(path), EVERYTHING)
    assert "\n" not in str(info.value)


def test_an_import_outside_the_wsdl_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.xsd").write_text('<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"/>')
    for location in ("../secret.xsd", "http://schemas.example.invalid/x.xsd", "/etc/passwd"):
        extra = f'<xs:import namespace="urn:x" schemaLocation="{location}"/>'
        path = _wsdl(tmp_path, ["GetThing"], schema_extra=extra)
        with pytest.raises(SourceError, match="refusing to fetch"):
            read_wsdl("t", str(path), EVERYTHING)


def test_an_external_entity_never_reaches_the_package(tmp_path: Path) -> None:
    (tmp_path / "service").mkdir()
    (tmp_path / "service" / "canary.txt").write_text("CANARY-7731")
    prolog = '<!DOCTYPE definitions [<!ENTITY x SYSTEM "canary.txt">]>'
    path = _wsdl(
        tmp_path, ["GetThing"], fields='<xs:element name="A" type="xs:string" default="&x;"/>', prolog=prolog
    )
    try:
        package = read_wsdl("t", str(path), EVERYTHING)
    except SourceError:
        return  # refused outright: fine
    written = write_package(package, tmp_path / "out")
    assert not any("CANARY-7731" in p.read_text() for p in written)


def test_names_that_are_keywords_or_base_members_stay_safe(tmp_path: Path) -> None:
    fields = (
        "".join(
            f'<xs:element name="{n}" type="xs:string" minOccurs="0"/>'
            for n in ("class", "self", "model_config", "schema", "list", "int", "date", "xsi_type")
        )
        + '<xs:element name="def" type="xs:date" minOccurs="0"/>'
    )
    path = _wsdl(tmp_path, ["open", "call", "class", "Delete-Thing", "getThing"], fields=fields)
    package = read_wsdl("t", str(path), EVERYTHING)
    methods = {a.method: a for a in package.actions}
    assert set(methods) == {"open_", "call_", "class_", "delete_thing", "get_thing"}
    assert methods["delete_thing"].effect.effect is Effect.DESTRUCTIVE
    assert (
        methods["get_thing"].effect.effect is Effect.READ and methods["open_"].effect.effect is Effect.WRITE
    )
    out = tmp_path / "out"
    write_package(package, out)
    models = out / "t_connector" / "models"
    sys.path.insert(0, str(out))
    try:
        for module in sorted(models.glob("*.py")):
            compile(module.read_text(), str(module), "exec")
        connector = importlib.import_module("t_connector.connector")
        get = importlib.import_module("t_connector.models.s").GetThingInput
        assert set(get.model_fields) == {
            "class_",
            "self",
            "model_config_",
            "schema_",
            "list",
            "int",
            "date",
            "xsi_type",
            "def_",
        }
        value = get(class_="c", self="s", list="l", int="i", date="d", def_="2024-01-01", model_config_="m")
        assert value.model_dump()["def_"].isoformat() == "2024-01-01"
        assert connector.TConnector.name == "t"
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m.startswith("t_connector")]:
            del sys.modules[name]


def test_selection_narrows_and_reports_patterns_that_matched_nothing(tmp_path: Path) -> None:
    path = _wsdl(tmp_path, ["GetA", "GetB", "ListC", "VoidD"])
    package = read_wsdl("t", str(path), Selection.parse("Get*,S.ListC,Nope*"))
    assert sorted(a.method for a in package.actions) == ["get_a", "get_b", "list_c"]
    assert package.unmatched == ["--operations 'nope*' matched no operation (check the spelling)"]
    with pytest.raises(SourceError, match="matches --operations"):
        read_wsdl("t", str(path), Selection.parse("Nothing*"))


def test_a_secret_argument_is_a_setting_not_an_input(tmp_path: Path) -> None:
    wsdl = vendored("shapes.wsdl", tmp_path)
    package = read_wsdl("shapes", str(wsdl), EVERYTHING)
    settings = {s.name: s for s in package.connector.settings}
    assert settings["put_shapes_api_password"].secret
    assert settings["put_shapes_api_password"].annotation == "SecretStr | None"
    source = package.model_modules["shapes"]
    inputs = source.split("class PutShapesInput", 1)[1].split("\nclass ", 1)[0]
    assert "api_password" not in inputs and "    shapes: _b.list[ShapeVariants]" in inputs
    (action,) = package.actions
    assert "settings_values(self.settings, BODY_1)" in action.body[0]
    assert '"api_password": "put_shapes_api_password"' in package.model_modules["soap_credentials"]


def test_bing_headers_become_settings_and_groups_stay_small(tmp_path: Path) -> None:
    package = read_wsdl("bing", str(vendored("bingads-v13-campaignmanagement.wsdl.gz", tmp_path)), EVERYTHING)
    headers = {s.name for s in package.connector.settings if s.name.startswith("header_")}
    assert headers == {
        "header_application_token",
        "header_authentication_token",
        "header_customer_account_id",
        "header_customer_id",
        "header_developer_token",
        "header_password",
        "header_user_name",
    }
    inputs = [src for name, src in package.model_modules.items() if name.startswith("campaign_management")]
    assert not any("developer_token" in src or "authentication_token" in src for src in inputs)
    assert all(len(actions) <= 20 for actions in package.groups.values())
    assert all(len(src.splitlines()) < 1500 for src in package.model_modules.values())
    assert all(a.effect.reason for a in package.actions)


def test_type_names_never_shadow_what_the_modules_use(tmp_path: Path) -> None:
    names = ("Tag", "Union", "SoapModel", "Literal", "ShapeFields", "Shape")
    extra = "".join(
        f'<xs:complexType name="{n}"><xs:sequence><xs:element name="V" type="xs:string" minOccurs="0"/>'
        "</xs:sequence></xs:complexType>"
        for n in names
    ) + (
        '<xs:complexType name="Circle"><xs:complexContent><xs:extension base="tns:Shape"><xs:sequence>'
        '<xs:element name="R" type="xs:int"/></xs:sequence></xs:extension></xs:complexContent></xs:complexType>'
    )
    fields = "".join(f'<xs:element name="F{n}" type="tns:{n}" minOccurs="0"/>' for n in names)
    package = read_wsdl(
        "names", str(_wsdl(tmp_path, ["GetThing"], fields=fields, schema_extra=extra)), EVERYTHING
    )
    out = tmp_path / "out"
    write_package(package, out)
    sys.path.insert(0, str(out))
    try:
        models = importlib.import_module("names_connector.models.s")
        value = models.GetThingInput.model_validate(
            {"f_tag": {"v": "a"}, "f_union": {"v": "b"}, "f_shape": {"xsi_type": "Circle", "r": 3}}
        )
        assert type(value.f_shape).__name__ == "Circle" and value.f_tag.v == "a"
        assert type(value.f_tag).__name__ != "Tag" and type(value.f_union).__name__ != "Union"
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m.startswith("names_connector")]:
            del sys.modules[name]


def test_the_cli_writes_a_package_from_a_wsdl_and_refuses_a_url(tmp_path: Path) -> None:
    wsdl = vendored("fedex-TrackService_v16.wsdl.gz", tmp_path)
    out = tmp_path / "fedex-track"
    done = run(VENV_BIN / "retrofit", "connectors", "new", "fxtrack", "--from-wsdl", wsdl, "--out", out)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (out / "fxtrack_connector" / "actions" / "track.py").is_file() and "REVIEW" in (
        out / "fxtrack_connector" / "actions" / "track.py"
    ).read_text()
    assert "RETROFIT_FXTRACK_USER_CREDENTIAL_PASSWORD" in (out / "README.md").read_text()
    refused = run(
        VENV_BIN / "retrofit",
        "connectors",
        "new",
        "x",
        "--from-wsdl",
        "http://127.0.0.1:9/x?wsdl",
        "--out",
        tmp_path / "x",
    )
    assert refused.returncode != 0 and "Traceback" not in refused.stdout + refused.stderr
    assert "local file" in refused.stdout + refused.stderr
