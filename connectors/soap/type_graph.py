"""The schema types an operation uses, as a graph codegen renders: one node per XSD type.

`signatures.FieldSpec` expands each message as a tree (fine for mapping values at runtime); for
source code a tree is wrong twice over — a type used in ten places would be written ten times
(the old `Address2`, `Address3` classes) and recursion has to be cut somewhere (the old depth
limit, below which everything was `Any`). Here every complex type is one `TypeNode`, found by
its qualified name, with its *own* fields and a link to the type it extends; references are by
key, so recursive types are just cycles in the graph.

Polymorphism: zeep records what a type extends (`_extension_types`), not what extends it; the
subtype index inverts that once per schema, so a field declared `BiddingScheme` can accept any
of its 16 subtypes (`xsi:type`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from zeep.xsd.elements import Any as XsdAny
from zeep.xsd.elements import Element as XsdElement
from zeep.xsd.elements.indicators import Choice, Group, OrderIndicator
from zeep.xsd.types import builtins as xsd_builtins
from zeep.xsd.types.collection import ListType
from zeep.xsd.types.complex import ComplexType
from zeep.xsd.types.simple import AnySimpleType

from connectors.soap.signatures import python_name
from connectors.soap.xsd_facets import Facets
from retrofit.redaction import is_secret_key

# Most specific first: zeep's Integer derives from its Decimal, Date/Time are not DateTimes.
_PRIMITIVES: tuple[tuple[type, str], ...] = (
    (xsd_builtins.Boolean, "bool"),
    (xsd_builtins.Integer, "int"),
    (xsd_builtins.Decimal, "Decimal"),
    (xsd_builtins.Float, "float"),
    (xsd_builtins.Double, "float"),
    (xsd_builtins.DateTime, "datetime"),
    (xsd_builtins.Date, "date"),
    (xsd_builtins.Time, "time"),
    (xsd_builtins.Base64Binary, "bytes"),
    (xsd_builtins.HexBinary, "bytes"),
)


def is_secret_name(xml_name: str, owner: str = "") -> bool:
    """`Password`, `sessionId`, `DeveloperToken`, `consumerKey`, a credential's `Key`: never shown.

    The capture's redaction rule (`retrofit.redaction.is_secret_key`), plus keys that are
    credentials by name (`consumerKey`, `accessKey`), and any `…Key` inside a credential type
    (FedEx `UserCredential/Key`, NetSuite `TokenPassport`) but not elsewhere (Bing
    `CustomParameter/Key`).
    """
    if _CURSOR.search(xml_name):
        return False  # a paging cursor (FedEx `PagingToken`), not a credential
    if is_secret_key(xml_name) or _KEY.search(xml_name):
        return True
    return xml_name.lower().endswith("key") and bool(_CREDENTIAL_OWNER.search(owner))


_KEY = re.compile(
    r"(consumer|access|secret|license|licence|developer|client|signing|encryption|master|auth)_?key$",
    re.IGNORECASE,
)
_CREDENTIAL_OWNER = re.compile(r"(credential|passport|auth|login|security)", re.IGNORECASE)
_CURSOR = re.compile(r"(paging|page|next|continuation|sync|cursor|resume)_?token", re.IGNORECASE)


FieldKind = Literal["simple", "complex", "any"]


@dataclass
class FieldDef:
    xml_name: str
    name: str  # python_name(xml_name): the runtime maps values by it
    kind: FieldKind
    required: bool
    repeated: bool
    nillable: bool = False
    primitive: str = "str"  # simple: str, int, bool, float, Decimal, datetime, date, time, bytes
    is_list: bool = False  # simple: an xsd:list (a Python list on zeep's side)
    enum: str | None = None  # simple: key of a named enumeration (TypeGraph.enums)
    literal: tuple[str, ...] = ()  # simple: an inline enumeration
    fixed: str | None = None
    secret: bool = False
    ref: str | None = None  # complex: the TypeNode key
    qname: str | None = None  # the element's Clark name (headers need it)
    soap_array: bool = False  # a soapenc:Array of this field's type (rpc/encoded services)


@dataclass
class TypeNode:
    key: str
    local: str
    namespace: str
    base: str | None = None  # key of the complex type this one extends
    fields: list[FieldDef] = field(default_factory=list)  # its own, not the inherited ones
    subtypes: list[str] = field(default_factory=list)  # direct subtypes (xsi:type)
    abstract: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def in_hierarchy(self) -> bool:
        return self.base is not None or bool(self.subtypes)


class TypeGraph:
    """Types reached from the messages added with `message_fields`, with their subtypes."""

    def __init__(self, document: Any, facets: Facets | None = None) -> None:
        self.document = document
        self.facets = facets or Facets()
        self.nodes: dict[str, TypeNode] = {}
        self.enums: dict[str, tuple[str, ...]] = {}  # enum key (Clark name) -> values
        self._subtypes: dict[str, list[Any]] | None = None

    # -- entry points ---------------------------------------------------------------------------

    def message_fields(self, xsd_type: Any, owner: str | None = None) -> list[FieldDef]:
        """The fields of a message body or header type (its nested types join the graph)."""
        if not isinstance(xsd_type, ComplexType):
            return []
        return self._fields(xsd_type, owner or _key(xsd_type) or "")

    def all_fields(self, key: str) -> list[FieldDef]:
        """A node's fields with the inherited ones first, as the wire has them."""
        chain: list[TypeNode] = []
        node: TypeNode | None = self.nodes[key]
        while node is not None and node not in chain:
            chain.append(node)
            node = self.nodes.get(node.base) if node.base else None
        return [f for n in reversed(chain) for f in n.fields]

    def variants(self, key: str) -> list[str]:
        """`key` and every type that extends it, directly or not (concrete ones only)."""
        found: list[str] = []
        stack = [key]
        while stack:
            current = stack.pop(0)
            if current in found:
                continue
            found.append(current)
            stack.extend(self.nodes[current].subtypes)
        return [k for k in found if not self.nodes[k].abstract]

    # -- building -------------------------------------------------------------------------------

    def complex(self, xsd_type: ComplexType, fallback_name: str) -> str:
        key = _key(xsd_type) or f"anonymous:{fallback_name}:{id(xsd_type)}"
        if key in self.nodes:
            return key
        qname = getattr(xsd_type, "qname", None)
        local = str(getattr(qname, "localname", "") or fallback_name)
        namespace = str(getattr(qname, "namespace", "") or "")
        node = TypeNode(key, local, namespace)
        self.nodes[key] = node  # before the fields: a type may contain itself
        base_type = _base_type(xsd_type)
        inherited: set[str] = set()
        if base_type is not None:
            node.base = self.complex(base_type, _local(base_type) or "Base")
            inherited = {f.xml_name for f in self.all_fields(node.base)}
        node.abstract = key in self.facets.abstract
        node.fields = [
            f
            for f in self._fields(xsd_type, key)
            if f.xml_name not in inherited and not (f.xml_name == "_value_1" and f.ref and f.ref == node.base)
        ]  # zeep gives an empty extension of an empty base a stand-in `_value_1` of the base type
        for subtype in self._subtype_index().get(key, []):
            sub_key = self.complex(subtype, _local(subtype) or "Subtype")
            if sub_key not in node.subtypes:
                node.subtypes.append(sub_key)
        return key

    def _fields(self, xsd_type: ComplexType, owner: str) -> list[FieldDef]:
        fields: list[FieldDef] = []
        seen: set[str] = set()
        element = getattr(xsd_type, "_element", None)
        members = list(_members(element, optional=False)) if element is not None else []
        for xml_name, member, optional in members:
            fields.append(self._element_field(xml_name, member, owner, optional))
        for xml_name, attribute in xsd_type.attributes:
            if not hasattr(attribute, "type"):  # xsd:anyAttribute
                continue
            spec = self._typed_field(xml_name, attribute.type, owner)
            spec.required = bool(getattr(attribute, "required", False)) and spec.fixed is None
            fields.append(spec)
        unique: list[FieldDef] = []
        for spec in fields:
            if spec.name in seen:
                continue  # `ID` and `Id`: one Python name; the first wins (the runtime does the same)
            seen.add(spec.name)
            unique.append(spec)
        return unique

    def _element_field(self, xml_name: str, member: Any, owner: str, optional: bool) -> FieldDef:
        repeated = bool(getattr(member, "accepts_multiple", False))
        nillable = bool(getattr(member, "nillable", False))
        if isinstance(member, XsdElement):
            spec = self._typed_field(xml_name, member.type, owner)
            qname = getattr(member, "qname", None)
            spec.qname = None if qname is None else str(getattr(qname, "text", qname))
        else:  # xsd:any
            spec = FieldDef(xml_name, python_name(xml_name), "any", False, repeated)
        spec.repeated = repeated or spec.soap_array
        spec.nillable = nillable
        spec.required = (
            not optional
            and not getattr(member, "is_optional", True)
            and not nillable
            and spec.fixed is None
            and spec.kind != "any"
        )
        return spec

    def _typed_field(self, xml_name: str, xsd_type: Any, owner: str) -> FieldDef:
        name = python_name(xml_name)
        item = soap_array_item(xsd_type)
        if item is not None:  # a SOAP-encoded array: zeep reads and writes it as a plain list
            spec = self._typed_field(xml_name, item, owner)
            spec.soap_array = True
            return spec
        if isinstance(xsd_type, ComplexType):
            ref = self.complex(xsd_type, xml_name)
            return FieldDef(xml_name, name, "complex", True, False, ref=ref)
        spec = FieldDef(xml_name, name, "simple", True, False, secret=is_secret_name(xml_name, owner))
        item = xsd_type.item_type if isinstance(xsd_type, ListType) else xsd_type
        spec.is_list = isinstance(xsd_type, ListType)
        spec.primitive = _primitive(item)
        local = self.facets.local_enums.get((owner, xml_name))
        named = _key(item)
        if local:
            spec.literal = local
        elif named and self.facets.enum_of(named):
            self.enums[named] = self.facets.enum_of(named)
            spec.enum = named
        fixed = self.facets.fixed.get((owner, xml_name))
        if fixed is not None and spec.primitive in ("str", "int") and not spec.is_list:
            spec.fixed = fixed
        if spec.enum or spec.literal or spec.fixed is not None:
            spec.secret = False  # a choice from a list is no secret
        if spec.secret and spec.primitive != "str":
            spec.secret = False
        return spec

    def _subtype_index(self) -> dict[str, list[Any]]:
        if self._subtypes is None:
            index: dict[str, list[Any]] = {}
            for xsd_type in _schema_types(self.document):
                base = _base_type(xsd_type)
                base_key = None if base is None else _key(base)
                if base_key:
                    index.setdefault(base_key, []).append(xsd_type)
            self._subtypes = index
        return self._subtypes


def soap_array_item(xsd_type: Any) -> Any:
    """The item type of a SOAP-encoded array (`soapenc:Array` with `wsdl:arrayType`), else None."""
    if not isinstance(xsd_type, ComplexType):
        return None
    try:
        attribute = xsd_type._array_type
    except (AttributeError, TypeError):
        return None
    item = getattr(attribute, "array_type", None)
    if item is not None and hasattr(item, "resolve"):
        item = item.resolve()
    return item if isinstance(item, ComplexType | AnySimpleType) else None


def message_owner(message: Any) -> str:
    """The facet owner of a message body: its global element (`xsd_facets` keys anonymous types so)."""
    qname = getattr(getattr(message, "body", None), "qname", None)
    return "" if qname is None else f"element:{getattr(qname, 'text', qname)}"


def _members(indicator: Any, *, optional: bool) -> Iterable[tuple[str, Any, bool]]:
    """(name, element, optional) of a content model; a choice makes each alternative optional."""
    if isinstance(indicator, XsdElement | XsdAny):
        yield getattr(indicator, "attr_name", None) or indicator.name or "_value_1", indicator, optional
        return
    if isinstance(indicator, Group):
        yield from _members(indicator.child, optional=optional)
        return
    if isinstance(indicator, OrderIndicator):
        inner_optional = (
            optional or isinstance(indicator, Choice) or bool(getattr(indicator, "is_optional", False))
        )
        for name, child in indicator.elements_nested:
            if isinstance(child, XsdElement | XsdAny):
                yield name, child, inner_optional
            else:
                yield from _members(child, optional=inner_optional)


def _schema_types(document: Any) -> Iterable[Any]:
    try:
        return [t for t in document.types.types if isinstance(t, ComplexType)]
    except (AttributeError, TypeError):
        return []


def _base_type(xsd_type: Any) -> ComplexType | None:
    """The complex type `xsd_type` extends (zeep keeps the base's value classes, nearest first)."""
    for value_class in getattr(xsd_type, "_extension_types", None) or ():
        base = getattr(value_class, "_xsd_type", None)
        if isinstance(base, ComplexType) and base is not xsd_type and _key(base) != _key(xsd_type):
            return base
    return None


def _key(xsd_type: Any) -> str | None:
    qname = getattr(xsd_type, "qname", None)
    return None if qname is None else str(getattr(qname, "text", qname))


def _local(xsd_type: Any) -> str | None:
    qname = getattr(xsd_type, "qname", None)
    return None if qname is None else str(getattr(qname, "localname", qname))


def _primitive(xsd_type: Any) -> str:
    if not isinstance(xsd_type, AnySimpleType):
        return "str"
    for zeep_type, name in _PRIMITIVES:
        if isinstance(xsd_type, zeep_type):
            return name
    return "str"  # strings, URIs, QNames, durations, g* dates and unions: text on the wire
