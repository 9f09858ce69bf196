"""An operation's input and output as a tree of typed fields, and the bridge to pydantic models.

zeep describes a message with XSD objects (elements, complex types, builtins). `FieldSpec`
reduces that to what a typed action needs: a Python name, a Python type, required or not,
repeated or not, and child fields for complex content. From that tree this module

- builds pydantic models at runtime (`operation_models`), for exploring a WSDL or prototyping;
- converts an action's pydantic input into zeep call arguments (`to_soap_arguments`) and zeep's
  answer into plain data with Python names (`from_soap_value`);
- checks hand-written (or generated, see `codegen`) models against the WSDL (`model_mismatches`).

Names: XML `customerId` is Python `customer_id` everywhere (`python_name`), so integrators write
ordinary snake_case models and never aliases.
"""

from __future__ import annotations

import keyword
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, create_model
from zeep.helpers import serialize_object
from zeep.xsd.elements import Any as XsdAny
from zeep.xsd.elements import Element as XsdElement
from zeep.xsd.types import builtins as xsd_builtins
from zeep.xsd.types.collection import ListType
from zeep.xsd.types.complex import ComplexType
from zeep.xsd.types.simple import AnySimpleType
from zeep.xsd.valueobjects import CompoundValue

#: The runtime tree (`FieldSpec.children`) is expanded this deep; below it a field keeps its XSD
#: type (`FieldSpec.xsd_type`) and values are mapped from that on demand, so nothing is lost at
#: any depth. Generated models (codegen) have no depth limit at all: one class per XSD type.
MAX_DEPTH = 6

# Most specific first: zeep's Integer derives from its Decimal, Date/Time are not DateTimes.
_SIMPLE_TYPES: tuple[tuple[type, type], ...] = (
    (xsd_builtins.Boolean, bool),
    (xsd_builtins.Integer, int),
    (xsd_builtins.Decimal, Decimal),
    (xsd_builtins.Float, float),
    (xsd_builtins.Double, float),
    (xsd_builtins.DateTime, datetime),
    (xsd_builtins.Date, date),
    (xsd_builtins.Time, time),
    (xsd_builtins.Base64Binary, bytes),
    (xsd_builtins.HexBinary, bytes),
)


@dataclass(frozen=True)
class FieldSpec:
    """One element (or attribute) of a message, as a typed field."""

    xml_name: str
    name: str  # the Python name: python_name(xml_name)
    annotation: Any  # Python type of a simple field, or Any; ignored when `children` is set
    children: tuple[FieldSpec, ...] | None  # complex content; None for simple and xsd:any
    type_name: str  # the XSD type's local name (or the element's, for anonymous types)
    required: bool
    repeated: bool
    #: The zeep type of a complex field: maps values below MAX_DEPTH and finds `xsi:type` subtypes.
    xsd_type: Any = dataclass_field(default=None, compare=False, repr=False)
    #: The parsed schema (zeep `Schema`) the type belongs to, for `xsi:type` lookups.
    schema: Any = dataclass_field(default=None, compare=False, repr=False)


class ArgumentMismatch(ValueError):
    """An action passed a field the operation does not have: a connector bug, not a user error."""


def python_name(xml_name: str) -> str:
    """`customerId` -> `customer_id`, `XMLData` -> `xml_data`; safe as a pydantic field name."""
    name = xml_name.lstrip("_")  # zeep calls xsd:any content `_value_1`
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()
    name = re.sub(r"\W", "_", name)
    if not name or name[0].isdigit():
        name = f"f_{name}"
    # Keywords, BaseModel's own attributes and pydantic's protected `model_` prefix get a suffix.
    if keyword.iskeyword(name) or hasattr(BaseModel, name) or name.startswith("model_"):
        name = f"{name}_"
    return name


def input_fields(operation: Any) -> tuple[FieldSpec, ...]:
    """The arguments of a zeep operation: the fields of its input body."""
    return _message_fields(operation.input)


def output_fields(operation: Any) -> tuple[FieldSpec, ...]:
    """The fields of a zeep operation's output body (before any unwrapping)."""
    return _message_fields(operation.output)


def _message_fields(message: Any) -> tuple[FieldSpec, ...]:
    body = getattr(message, "body", None)
    body_type = getattr(body, "type", None)
    if not isinstance(body_type, ComplexType):
        return ()
    schema = getattr(getattr(message, "wsdl", None), "types", None)
    return _complex_fields(body_type, depth=0, seen=frozenset(), schema=schema)


def _complex_fields(
    xsd_type: ComplexType, *, depth: int, seen: frozenset[str], schema: Any = None
) -> tuple[FieldSpec, ...]:
    fields: list[FieldSpec] = []
    for xml_name, element in xsd_type.elements:
        fields.append(_element_field(xml_name, element, depth=depth, seen=seen, schema=schema))
    for xml_name, attribute in xsd_type.attributes:
        if not hasattr(attribute, "type"):  # xsd:anyAttribute
            continue
        spec = _type_field(xml_name, attribute.type, depth=depth, seen=seen, schema=schema)
        fields.append(_with(spec, required=bool(attribute.required), repeated=False))
    return tuple(fields)


def _element_field(
    xml_name: str, element: Any, *, depth: int, seen: frozenset[str], schema: Any
) -> FieldSpec:
    required = not element.is_optional and not getattr(element, "nillable", False)
    repeated = bool(element.accepts_multiple)
    if isinstance(element, XsdElement):
        spec = _type_field(xml_name, element.type, depth=depth, seen=seen, schema=schema)
    else:  # xsd:any, or a choice/sequence indicator zeep keeps as one unnamed slot
        spec = _any_field(xml_name)
        required = required and isinstance(element, XsdAny)
    return _with(spec, required=required, repeated=repeated)


def _type_field(
    xml_name: str, xsd_type: Any, *, depth: int, seen: frozenset[str], schema: Any = None
) -> FieldSpec:
    type_name = _local_name(xsd_type) or xml_name
    if isinstance(xsd_type, ComplexType):
        key = _qualified_name(xsd_type) or f"anonymous:{id(xsd_type)}"
        if depth >= MAX_DEPTH or key in seen:  # too deep, or recursive: mapped lazily from xsd_type
            return FieldSpec(
                xml_name, python_name(xml_name), Any, None, type_name, False, False, xsd_type, schema
            )
        children = _complex_fields(xsd_type, depth=depth + 1, seen=seen | {key}, schema=schema)
        return FieldSpec(
            xml_name, python_name(xml_name), Any, children, type_name, True, False, xsd_type, schema
        )
    return FieldSpec(
        xml_name, python_name(xml_name), _simple_annotation(xsd_type), None, type_name, True, False
    )


def _any_field(xml_name: str) -> FieldSpec:
    return FieldSpec(xml_name, python_name(xml_name), Any, None, "Any", False, False)


def _simple_annotation(xsd_type: Any) -> Any:
    if isinstance(xsd_type, ListType):
        return list[_simple_annotation(xsd_type.item_type)]  # type: ignore[misc]
    if not isinstance(xsd_type, AnySimpleType):
        return Any
    for zeep_type, python_type in _SIMPLE_TYPES:
        if isinstance(xsd_type, zeep_type):
            return python_type
    return str  # strings, URIs, QNames, durations, g* dates and unions: text on the wire


def _with(spec: FieldSpec, *, required: bool, repeated: bool) -> FieldSpec:
    return FieldSpec(
        spec.xml_name,
        spec.name,
        spec.annotation,
        spec.children,
        spec.type_name,
        required,
        repeated,
        spec.xsd_type,
        spec.schema,
    )


def _qualified_name(xsd_type: Any) -> str | None:
    qname = getattr(xsd_type, "qname", None)
    return None if qname is None else str(getattr(qname, "text", qname))


def _local_name(xsd_type: Any) -> str | None:
    qname = getattr(xsd_type, "qname", None)
    return None if qname is None else str(getattr(qname, "localname", qname))


# -- pydantic models at runtime -----------------------------------------------------------------


def operation_models(operation: Any) -> tuple[type[BaseModel], type[BaseModel]]:
    """Pydantic models for an operation's input and output body, built from the WSDL at runtime.

    Names follow the operation (`GetCustomerInput`, `GetCustomerOutput`); nested complex types
    become nested models named after their XSD type. For typed, reviewable code, generate the
    same models as source with `python -m connectors.soap.codegen` instead.
    """
    name = _class_name(operation.name)
    return (
        build_model(f"{name}Input", input_fields(operation)),
        build_model(f"{name}Output", output_fields(operation)),
    )


def build_model(name: str, fields: Sequence[FieldSpec]) -> type[BaseModel]:
    definitions: dict[str, Any] = {}
    for spec in fields:
        annotation = field_annotation(
            spec, nested=lambda child: build_model(_class_name(child.type_name), child.children or ())
        )
        if spec.required:
            definitions[spec.name] = (annotation, ...)
        elif spec.repeated:
            definitions[spec.name] = (annotation, Field(default_factory=list))
        else:
            definitions[spec.name] = (annotation | None, None)
    model: type[BaseModel] = create_model(name, __config__=ConfigDict(extra="ignore"), **definitions)
    return model


def field_annotation(spec: FieldSpec, *, nested: typing.Callable[[FieldSpec], Any]) -> Any:
    """The Python type of one field: `nested(spec)` supplies the model for complex content."""
    inner = nested(spec) if spec.children is not None else spec.annotation
    return list[inner] if spec.repeated else inner  # type: ignore[valid-type]


def _class_name(name: str) -> str:
    cleaned = re.sub(r"\W", "_", name)
    return cleaned[:1].upper() + cleaned[1:] if cleaned else "Model"


# -- calling with models --------------------------------------------------------------------------


def to_soap_arguments(data: Mapping[str, Any], fields: Sequence[FieldSpec]) -> dict[str, Any]:
    """Python-named data (e.g. `model.model_dump()`) as zeep keyword arguments with XML names.

    `None` leaves an optional element out; nested mappings and models follow the child fields.
    """
    by_name = {spec.name: spec for spec in fields} | {spec.xml_name: spec for spec in fields}
    arguments: dict[str, Any] = {}
    for key, value in data.items():
        spec = by_name.get(key)
        if spec is None:
            expected = ", ".join(sorted(s.name for s in fields)) or "nothing"
            raise ArgumentMismatch(f"{key!r} is not part of the message (expected: {expected})")
        if value is not None:
            arguments[spec.xml_name] = _to_soap_value(value, spec)
    return arguments


def _to_soap_value(value: Any, spec: FieldSpec) -> Any:
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if spec.repeated and isinstance(value, list | tuple):
        single = _with(spec, required=spec.required, repeated=False)
        return [_to_soap_value(item, single) for item in value]
    if isinstance(value, list | tuple) and isinstance(spec.xsd_type, ComplexType):
        return _soap_array(value, spec)
    if isinstance(value, Mapping):
        if "xsi_type" in value:
            return _subtype_value(value, spec)
        if spec.children is not None:
            return to_soap_arguments(value, spec.children)
        if isinstance(spec.xsd_type, ComplexType):  # below MAX_DEPTH: expand from the type now
            return to_soap_arguments(
                value, _complex_fields(spec.xsd_type, depth=0, seen=frozenset(), schema=spec.schema)
            )
    if isinstance(value, SecretStr):
        return value.get_secret_value()  # generated models type secret-named fields SecretStr
    if isinstance(value, Enum):
        return value.value
    return value


def _soap_array(value: Sequence[Any], spec: FieldSpec) -> Any:
    """A SOAP-encoded array (rpc/encoded): zeep takes a list of items of the array's item type."""
    from connectors.soap.type_graph import soap_array_item  # type_graph builds on this module

    item = soap_array_item(spec.xsd_type)
    if not isinstance(item, ComplexType):
        return list(value)
    fields = _complex_fields(item, depth=0, seen=frozenset(), schema=spec.schema)
    return [to_soap_arguments(v, fields) if isinstance(v, Mapping) else v for v in value]


def _subtype_value(value: Mapping[str, Any], spec: FieldSpec) -> Any:
    """A value of the declared type or of a subtype (`xsi_type`, see codegen's unions).

    A subtype is sent as a zeep object of that type, which zeep renders with `xsi:type`; only
    types that really extend the declared one are accepted.
    """
    data = dict(value)
    wanted = str(data.pop("xsi_type"))
    declared = spec.xsd_type
    if not isinstance(declared, ComplexType):
        raise ArgumentMismatch(f"{spec.xml_name!r} does not take an xsi_type")
    if wanted == _local_name(declared):
        return _to_soap_value(data, spec)
    subtype = _find_subtype(spec.schema, declared, wanted)
    if subtype is None:
        raise ArgumentMismatch(f"{wanted!r} is not a type that extends {_local_name(declared)!r}")
    fields = _complex_fields(subtype, depth=0, seen=frozenset(), schema=spec.schema)
    return subtype(**to_soap_arguments(data, fields))


def _find_subtype(schema: Any, declared: ComplexType, local_name: str) -> ComplexType | None:
    declared_class = getattr(declared, "_value_class", None)
    candidates: list[ComplexType] = []
    for xsd_type in getattr(schema, "types", None) or ():
        if not isinstance(xsd_type, ComplexType) or _local_name(xsd_type) != local_name:
            continue
        if declared_class in (getattr(xsd_type, "_extension_types", None) or ()):
            candidates.append(xsd_type)
    namespace = getattr(getattr(declared, "qname", None), "namespace", None)
    same = [t for t in candidates if getattr(t.qname, "namespace", None) == namespace]
    found = same or candidates
    return found[0] if len(found) == 1 or same else None


def from_soap_value(value: Any) -> Any:
    """zeep's answer (value objects, lists, builtins) as plain dicts and lists with Python names.

    A value of a type that extends another (it came with `xsi:type`, or is declared so) carries
    `xsi_type`: its type's name, which tells generated unions which member it is.
    """
    return _rename(_plain(value))


def _extends_complex(xsd_type: Any) -> bool:
    """True for a complexContent extension (not a simpleContent one, which extends a builtin)."""
    bases = getattr(xsd_type, "_extension_types", None) or ()
    return any(isinstance(getattr(base, "_xsd_type", None), ComplexType) for base in bases)


def _plain(value: Any) -> Any:
    if isinstance(value, CompoundValue):
        data = {key: _plain(value[key]) for key in value}
        xsd_type = getattr(value, "_xsd_type", None)
        if _extends_complex(xsd_type) and _local_name(xsd_type):
            data["xsi_type"] = _local_name(xsd_type)
        return data
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return serialize_object(value, dict)  # type: ignore[no-untyped-call]


def _rename(value: Any) -> Any:
    if isinstance(value, dict):
        return {python_name(str(key)): _rename(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_rename(item) for item in value]
    return value


def response_content(operation: Any, result: Any) -> Any:
    """zeep's answer with zeep's own unwrapping undone: the content of the response element.

    zeep returns the whole envelope when the output declares SOAP headers, and otherwise strips
    a response element with a single child (and that child's wrapper too, when it has a single
    element and no attributes). Undoing that gives every caller one shape to work from:
    `{"invoice": {...}}` for `VoidInvoiceResponse/invoice`, whatever zeep decided.
    """
    output = operation.output
    header = getattr(output, "header", None)
    if header is not None and getattr(header.type, "_element", None):
        return None if result is None else result.body
    body_type = getattr(getattr(output, "body", None), "type", None)
    if not isinstance(body_type, ComplexType) or len(body_type.elements) + len(body_type.attributes) != 1:
        return result
    if not body_type.elements:
        return result  # a lone attribute: zeep leaves that wrapper alone
    only_name, only_element = body_type.elements[0]
    only_type = getattr(only_element, "type", None)
    if (
        result is not None
        and isinstance(only_type, ComplexType)
        and len(only_type.elements) == 1
        and not only_type.attributes
    ):
        result = {only_type.elements[0][0]: result}
    return {only_name: result}


def shape_for(model: type[BaseModel], data: Any) -> Any:
    """Fit a converted answer to the model an action returns.

    A response wrapper with a single element the model does not name is unwrapped
    (`GetCustomerResponse/customer` -> the customer), as often as needed; a bare value or
    list becomes the model's only field. zeep already unwraps some of this itself; doing it by
    the model makes the result independent of zeep's rules.
    """
    names = set(model.model_fields)
    while isinstance(data, dict) and len(data) == 1:
        ((key, inner),) = data.items()
        if key in names:
            break
        data = inner
    if not isinstance(data, dict) and len(names) == 1:
        return {next(iter(names)): data}
    return data


# -- checking models against the WSDL ----------------------------------------------------------


def model_mismatches(
    operation: Any, input_model: type[BaseModel] | None, output_model: type[BaseModel] | None
) -> list[str]:
    """What keeps these models from working with `operation`; empty when they fit.

    Input: every model field must be an element, and every required element a field (elements a
    connector adds itself, such as an idempotency key, are optional in the WSDL). Output: every
    required model field must come back from the operation.
    """
    problems: list[str] = []
    if input_model is not None:
        problems += _input_problems(input_model, input_fields(operation), operation.name)
    if output_model is not None:
        fields = output_fields(operation)
        names = set(output_model.model_fields)
        while len(fields) == 1 and fields[0].name not in names and fields[0].children is not None:
            fields = fields[0].children  # the same unwrapping `shape_for` does
        problems += _output_problems(output_model, fields, operation.name)
    return problems


def _input_problems(model: type[BaseModel], fields: Sequence[FieldSpec], where: str) -> list[str]:
    by_name = {spec.name: spec for spec in fields}
    problems = [
        f"{where}: input field {name!r} of {model.__name__} is not an element of the message"
        for name in model.model_fields
        if name not in by_name
    ]
    for spec in fields:
        field = model.model_fields.get(spec.name)
        if field is None:
            if spec.required:
                problems.append(
                    f"{where}: required element {spec.xml_name!r} has no field in {model.__name__}"
                )
            continue
        nested = _nested_model(field.annotation)
        if nested is not None and spec.children is not None:
            problems += _input_problems(nested, spec.children, f"{where}.{spec.xml_name}")
    return problems


def _output_problems(model: type[BaseModel], fields: Sequence[FieldSpec], where: str) -> list[str]:
    by_name = {spec.name: spec for spec in fields}
    problems: list[str] = []
    for name, field in model.model_fields.items():
        spec = by_name.get(name)
        if spec is None:
            if field.is_required():
                problems.append(f"{where}: output field {name!r} of {model.__name__} never comes back")
            continue
        nested = _nested_model(field.annotation)
        if nested is not None and spec.children is not None:
            problems += _output_problems(nested, spec.children, f"{where}.{spec.xml_name}")
    return problems


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model inside `X`, `X | None` or `list[X]`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (list, typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _nested_model(arg)
            if found is not None:
                return found
    return None
