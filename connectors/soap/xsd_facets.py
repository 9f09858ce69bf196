"""What zeep drops from a schema and generated models need: enumerations and `fixed` values.

zeep keeps an `xsd:simpleType` restriction as its base type (an enumeration becomes a plain
string) and ignores `fixed=`. Codegen wants both (`Literal[...]` for enumerations, a `Literal`
with its default for a fixed value), so this module reads the schema XML itself, following
`xsd:import`/`xsd:include`/`wsdl:import` to local files only (the same folder rule as the
offline loader: nothing outside the WSDL's own folder, never the network).

Keys are Clark names: `enums["{ns}CampaignStatus"]` for named simple types; `local_enums` and
`fixed` by (owner, element or attribute name), the owner being a named complex type or, for an
anonymous one, `element:{ns}name` of the global element that holds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no stubs

XSD = "http://www.w3.org/2001/XMLSchema"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, load_dtd=False)


@dataclass
class Facets:
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)
    local_enums: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    fixed: dict[tuple[str, str], str] = field(default_factory=dict)
    abstract: set[str] = field(default_factory=set)  # complex types declared abstract="true"
    #: named simple type -> its base (another named simple type), to inherit enumerations
    _bases: dict[str, str] = field(default_factory=dict)

    def enum_of(self, type_qname: str | None) -> tuple[str, ...]:
        seen: set[str] = set()
        while type_qname and type_qname not in seen:
            seen.add(type_qname)
            if type_qname in self.enums:
                return self.enums[type_qname]
            type_qname = self._bases.get(type_qname)
        return ()


def read_facets(wsdl_path: str) -> Facets:
    """Enumerations and fixed values of every schema the (local) WSDL reaches; empty for a URL."""
    facets = Facets()
    if urlsplit(wsdl_path).scheme in ("http", "https"):
        return facets
    start = Path(wsdl_path).expanduser().resolve()
    root = start.parent
    pending, done = [start], set[Path]()
    while pending:
        path = pending.pop()
        if path in done or not path.is_relative_to(root) or not path.is_file():
            continue
        done.add(path)
        try:
            tree = etree.parse(str(path), _PARSER)
        except (etree.XMLSyntaxError, OSError):
            continue  # zeep reports unreadable documents; facets are a refinement
        document = tree.getroot()
        for schema in document.iter(f"{{{XSD}}}schema"):
            _read_schema(schema, facets)
        for tag, attribute in (
            (f"{{{XSD}}}import", "schemaLocation"),
            (f"{{{XSD}}}include", "schemaLocation"),
        ):
            for node in document.iter(tag):
                _queue(node.get(attribute), path, pending)
        for node in document.iter(f"{{{WSDL}}}import"):
            _queue(node.get("location"), path, pending)
    return facets


def _queue(location: str | None, here: Path, pending: list[Path]) -> None:
    if location and urlsplit(location).scheme in ("", "file"):
        pending.append((here.parent / urlsplit(location).path).resolve())


def _read_schema(schema: etree._Element, facets: Facets) -> None:
    tns = schema.get("targetNamespace", "")
    for child in schema:
        name = child.get("name")
        if not name:
            continue
        if child.tag == f"{{{XSD}}}simpleType":
            qname = f"{{{tns}}}{name}"
            values = _enumeration(child)
            if values:
                facets.enums[qname] = values
            base = _restriction_base(child)
            if base:
                facets._bases[qname] = base
        elif child.tag == f"{{{XSD}}}complexType":
            _read_members(child, f"{{{tns}}}{name}", facets)
            if child.get("abstract") in ("true", "1"):
                facets.abstract.add(f"{{{tns}}}{name}")
        elif child.tag == f"{{{XSD}}}element":
            for anonymous in child.findall(f"{{{XSD}}}complexType"):
                _read_members(anonymous, f"element:{{{tns}}}{name}", facets)


def _read_members(complex_type: etree._Element, owner: str, facets: Facets) -> None:
    for member in complex_type.iter(f"{{{XSD}}}element", f"{{{XSD}}}attribute"):
        name = member.get("name")
        if not name or _nested_owner(member, complex_type):
            continue
        fixed = member.get("fixed")
        if fixed is not None:
            facets.fixed[(owner, name)] = fixed
        inline = member.find(f"{{{XSD}}}simpleType")
        if inline is not None:
            values = _enumeration(inline)
            if values:
                facets.local_enums[(owner, name)] = values


def _nested_owner(member: etree._Element, owner: etree._Element) -> bool:
    """True when `member` sits in an anonymous complex type nested below `owner`'s own members."""
    parent = member.getparent()
    while parent is not None and parent is not owner:
        if parent.tag == f"{{{XSD}}}complexType":
            return True
        parent = parent.getparent()
    return False


def _enumeration(simple_type: etree._Element) -> tuple[str, ...]:
    # Directly in the restriction, or in the item type of an xsd:list.
    for restriction in simple_type.iter(f"{{{XSD}}}restriction"):
        values = tuple(
            str(e.get("value"))
            for e in restriction.findall(f"{{{XSD}}}enumeration")
            if e.get("value") is not None
        )
        if values:
            return tuple(dict.fromkeys(values))
    return ()


def _restriction_base(simple_type: etree._Element) -> str | None:
    restriction = simple_type.find(f"{{{XSD}}}restriction")
    base = None if restriction is None else restriction.get("base")
    if not base or ":" not in base:
        return None
    prefix, local = base.split(":", 1)
    namespace = restriction.nsmap.get(prefix) if restriction is not None else None
    return None if namespace is None or namespace == XSD else f"{{{namespace}}}{local}"
