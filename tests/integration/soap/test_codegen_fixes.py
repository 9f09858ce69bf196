"""The SOAP codegen fixes real vendor WSDLs need, each tested on `tests/data/wsdl/shapes.wsdl`
(a WSDL written to hold every case) and the values sent to and read from a real SOAP server on
loopback: no mocks of zeep or HTTP.
"""

from __future__ import annotations

import copy
import importlib.util
import re
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import date, time
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from lxml import etree  # type: ignore[import-untyped]  # lxml ships no stubs
from pydantic import SecretStr, ValidationError

from connectors.soap import SoapConnector, SoapSettings, clear_wsdl_memo, load_wsdl
from connectors.soap.codegen import models_source
from connectors.soap.signatures import ArgumentMismatch
from retrofit.sdk import NonRetryableError
from tests.integration.soap.codegen_support import XSI, SoapServer, vendored
from tests.scaffold.support import mypy_strict

pytestmark = pytest.mark.timeout(120)
NS = "urn:shapes"


@pytest.fixture(scope="module")
def wsdl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return vendored("shapes.wsdl", tmp_path_factory.mktemp("shapes"))


@pytest.fixture(scope="module")
def source(wsdl: Path) -> str:
    return models_source(load_wsdl(str(wsdl)), ["PutShapes"])


@pytest.fixture(scope="module")
def models(source: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    path = tmp_path_factory.mktemp("models") / "shapes_models.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("shapes_models", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves postponed annotations through the module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def _echo(body: Any, header: Any) -> Any:
    """PutShapesResponse with the request's shapes, tags, tree and deep chain, xsi:type kept."""
    answer = etree.Element(f"{{{NS}}}PutShapesResponse")
    for name in ("Shapes", "Tags", "Tree", "Deep"):
        for element in body.findall(f"{{{NS}}}{name}"):
            answer.append(copy.deepcopy(element))
    tags = answer.find(f"{{{NS}}}Tags")
    if tags is not None:  # an item the system sends as nil
        etree.SubElement(tags, f"{{{NS}}}string").set(f"{{{XSI}}}nil", "true")
    return answer


@pytest.fixture(scope="module")
def server() -> Iterator[SoapServer]:
    with SoapServer({"PutShapes": _echo}) as running:
        yield running


@pytest.fixture
async def connector(wsdl: Path, server: SoapServer) -> AsyncIterator[SoapConnector]:
    class Shapes(SoapConnector):
        """Shapes (test)."""

        name = "shapes"

    clear_wsdl_memo()
    instance = Shapes(SoapSettings(wsdl=str(wsdl), endpoint=server.endpoint))
    await instance.open()
    try:
        yield instance
    finally:
        await instance.close()


def _chain(leaf: dict[str, Any]) -> dict[str, Any]:
    """L1 -> L2 -> ... -> L9 holding `leaf`: nine levels, deeper than the old limit of six."""
    value = leaf
    for _ in range(8):
        value = {"next": value}
    return value


def test_the_generated_module_passes_mypy_strict(source: str, tmp_path: Path) -> None:
    (tmp_path / "shapes_models.py").write_text(source)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.mypy]\nstrict = true\nplugins = ["pydantic.mypy"]\nfiles = ["shapes_models.py"]\n'
    )
    checked = mypy_strict(tmp_path)
    assert checked.returncode == 0, checked.stdout


def test_a_field_named_like_its_type_does_not_shadow_it(source: str, models: ModuleType) -> None:
    assert "    date: _dt.date | None = None" in source  # FedEx: `date: date | None` failed to import
    assert "    time: _dt.time | None = None" in source and "    str: _b.str | None = None" in source
    shape = models.Shape(date="2024-02-29")
    assert shape.date == date(2024, 2, 29)
    arguments = models.PutShapesInput(shapes=[], api_password="x", mode="fast", str="s", time="10:30:00")
    assert (arguments.str, arguments.time) == ("s", time(10, 30))


def test_deep_and_recursive_types_stay_typed_with_one_class_each(source: str, models: ModuleType) -> None:
    assert "Any" not in source.split("def xsi_type", 1)[1].split("return Discriminator", 1)[1]
    assert len(re.findall(r"^class Address\(", source, re.M)) == 1
    classes = re.findall(r"^class (\w+)\(", source, re.M)
    assert [c for c in classes if re.fullmatch(r"(?!L\d$)\w+\d", c)] == []  # no `Address2` copies
    assert "    children: list[Node] = []" in source
    deep = models.L1.model_validate(_chain({"where": {"city": "Gent"}}))
    assert deep.next.next.next.next.next.next.next.next.where.city == "Gent"  # 9 levels, typed
    with pytest.raises(ValidationError):  # typed all the way down: a wrong leaf is refused
        models.L1.model_validate(_chain({"where": {}}))


def test_enumerations_are_literals_and_fixed_values_are_enforced(source: str, models: ModuleType) -> None:
    assert 'Colour: TypeAlias = Literal["Red", "Green"]' in source
    assert '    mode: Literal["fast", "safe"]' in source  # an inline enumeration
    assert models.Shape().label == "v1"  # the fixed value is filled in
    with pytest.raises(ValidationError):
        models.Shape(label="v2")
    with pytest.raises(ValidationError):
        models.Shape(colour="Blue")
    with pytest.raises(ValidationError):
        models.PutShapesInput(shapes=[], api_password="x", mode="reckless")


def test_secret_named_fields_are_secretstr(source: str, models: ModuleType) -> None:
    assert "    api_password: SecretStr" in source
    arguments = models.PutShapesInput(shapes=[], api_password="hunter2", mode="safe")
    assert isinstance(arguments.api_password, SecretStr) and "hunter2" not in repr(arguments)


def test_nillable_list_items_are_optional(source: str, models: ModuleType) -> None:
    assert "    string: list[str | None] = []" in source
    assert models.ArrayOfString(string=["a", None]).string == ["a", None]


def test_subtypes_are_a_typed_union(models: ModuleType) -> None:
    parsed = models.PutShapesOutput.model_validate(
        {
            "shapes": [
                {"xsi_type": "Circle", "radius": "1.5"},
                {"xsi_type": "Square", "side": 2},
                {"colour": "Red"},
            ]
        }
    )
    assert [type(s).__name__ for s in parsed.shapes] == ["Circle", "Square", "Shape"]
    with pytest.raises(ValidationError):  # a type that is not a subtype
        models.PutShapesOutput.model_validate({"shapes": [{"xsi_type": "Triangle"}]})
    with pytest.raises(ValidationError):  # a Square's field on a Circle
        models.PutShapesOutput.model_validate({"shapes": [{"xsi_type": "Circle", "radius": 1, "side": 2}]})


async def test_subtypes_travel_with_xsi_type_both_ways(
    models: ModuleType, connector: SoapConnector, server: SoapServer
) -> None:
    arguments = models.PutShapesInput(
        shapes=[
            models.Circle(radius=Decimal("1.5"), colour="Red", date=date(2024, 1, 2)),
            models.Square(side=3, destination={"city": "Leuven"}),
            models.Shape(colour="Green"),
        ],
        api_password="hunter2",
        mode="fast",
        tags={"string": ["a", "b"]},
        tree={"name": "root", "children": [{"name": "leaf", "children": [{"name": "deeper"}]}]},
        deep=_chain({"where": {"city": "Gent"}}),
    )
    answer = await connector.call("PutShapes", arguments, returns=models.PutShapesOutput)
    sent = server.requests[-1].body
    shapes = sent.findall(f"{{{NS}}}Shapes")
    assert [s.get(f"{{{XSI}}}type", "").split(":")[-1] for s in shapes] == ["Circle", "Square", ""]
    assert shapes[0].findtext(f"{{{NS}}}Radius") == "1.5" and shapes[1].findtext(f"{{{NS}}}Side") == "3"
    assert sent.findtext(f"{{{NS}}}ApiPassword") == "hunter2"  # the secret leaves its SecretStr only here
    assert all(s.findtext(f"{{{NS}}}Label") == "v1" for s in shapes)  # fixed value sent
    deep_city = sent.find(".//{urn:shapes}Where/{urn:shapes}City")  # below the old depth limit
    assert deep_city is not None and deep_city.text == "Gent"
    assert [type(s).__name__ for s in answer.shapes] == ["Circle", "Square", "Shape"]
    circle, square, _ = answer.shapes
    assert (circle.radius, circle.colour, circle.date) == (Decimal("1.5"), "Red", date(2024, 1, 2))
    assert square.destination is not None and square.destination.city == "Leuven"
    assert answer.tags is not None and answer.tags.string == ["a", "b", None]  # the nil item
    assert answer.tree is not None and answer.tree.children[0].children[0].name == "deeper"
    assert (
        answer.deep is not None and answer.deep.next.next.next.next.next.next.next.next.where.city == "Gent"
    )


async def test_a_hostile_xsi_type_is_refused_before_anything_is_sent(
    connector: SoapConnector, server: SoapServer
) -> None:
    before = len(server.requests)
    for bogus in ("Address", "Node", "Triangle", "{urn:shapes}Circle"):
        arguments = {"shapes": [{"xsi_type": bogus, "radius": 1}], "api_password": "x", "mode": "fast"}
        with pytest.raises(NonRetryableError) as info:
            await connector.call("PutShapes", arguments, returns=models_placeholder())
        assert isinstance(info.value.__cause__, ArgumentMismatch), bogus
    assert len(server.requests) == before


def models_placeholder() -> Any:
    from pydantic import BaseModel

    class Anything(BaseModel):
        pass

    return Anything
