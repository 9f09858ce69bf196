"""Credentials become settings, never action inputs: SOAP headers and secret-holding body elements.

- Every header the WSDL declares for an operation's input: a simple one (Bing's
  `DeveloperToken`, `CustomerId`) is one setting `header_<name>`; a complex one becomes a setting
  per simple child, but only when one of its children is secret-named (Salesforce's
  `SessionHeader/sessionId`); other complex headers (options such as `CallOptions`) are left to
  the integrator and listed for review.
- A top-level body element whose content holds a secret-named field (FedEx's
  `WebAuthenticationDetail/UserCredential/Key`, NetSuite's `passport/password`) leaves the input
  model; each of its simple fields becomes a setting. A secret-named simple argument
  (Salesforce's `login/password`) becomes a setting `<operation>_<name>`.

The generated action hands the resulting templates to `connectors.soap.settings_values`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from connectors.scaffold.naming import Namespace, snake
from connectors.scaffold.package import SettingField
from connectors.soap.settings import SoapSettings
from connectors.soap.type_graph import FieldDef, TypeGraph

#: How deep a credential element is searched for secret-named fields (FedEx: 2 levels).
_SEARCH_DEPTH = 3


@dataclass
class SettingsRegistry:
    """The connector's extra settings, one per credential source, with names unique among all."""

    fields: dict[str, SettingField] = field(default_factory=dict)
    templates: dict[str, str] = field(default_factory=dict)  # template source -> constant name
    _by_source: dict[str, str] = field(default_factory=dict)
    _names: Namespace = field(default_factory=lambda: Namespace(set(SoapSettings.model_fields) | {"name"}))

    def setting(self, source: str, wanted: str, *, secret: bool, description: str) -> str:
        if source in self._by_source:
            return self._by_source[source]
        name = self._names.claim(snake(wanted))
        self._by_source[source] = name
        annotation = "SecretStr | None" if secret else "str | None"
        self.fields[name] = SettingField(name, annotation, "None", description, secret=secret)
        return name

    def constant(self, kind: str, template: dict[str, Any]) -> str:
        """A module-level name for `template` in `models/soap_credentials.py` (shared when equal)."""
        source = json.dumps(template, sort_keys=True)
        if source not in self.templates:
            self.templates[source] = (
                f"{kind}_{sum(1 for n in self.templates.values() if n.startswith(kind)) + 1}"
            )
        return self.templates[source]

    def module_source(self) -> str:
        lines = [
            '"""Which settings fill which SOAP headers and body elements; see connectors.soap.settings_values."""',
            "",
            "from __future__ import annotations",
            "",
            "from connectors.soap.settings_values import Template",
        ]
        for source, name in self.templates.items():
            lines += ["", f"{name}: Template = {json.dumps(json.loads(source), indent=4)}"]
        return "\n".join(lines) + "\n"


def header_template(
    graph: TypeGraph, header_type: Any, registry: SettingsRegistry
) -> tuple[dict[str, Any], list[str]]:
    """(Clark name -> setting or nested template, headers left out) for an operation's input headers."""
    template: dict[str, Any] = {}
    left_out: list[str] = []
    for spec in graph.message_fields(header_type, owner="soap-header"):
        qname = spec.qname or spec.xml_name
        if spec.kind == "simple":
            template[qname] = registry.setting(
                f"header:{qname}",
                f"header_{spec.xml_name}",
                secret=spec.secret,
                description=f"SOAP header {spec.xml_name}, sent with every call when set",
            )
            continue
        children = graph.all_fields(spec.ref) if spec.kind == "complex" and spec.ref else []
        simple = [c for c in children if c.kind == "simple"]
        if not any(c.secret for c in simple):
            left_out.append(spec.xml_name)
            continue
        template[qname] = {
            (c.qname or c.xml_name): registry.setting(
                f"header:{qname}/{c.xml_name}",
                f"{spec.xml_name}_{c.xml_name}",
                secret=c.secret,
                description=f"SOAP header {spec.xml_name}/{c.xml_name}",
            )
            for c in simple
        }
    return template, left_out


def body_credentials(
    graph: TypeGraph, operation: str, fields: list[FieldDef], registry: SettingsRegistry
) -> tuple[list[FieldDef], dict[str, Any]]:
    """(the input fields left for the action, the body template filled from settings)."""
    kept: list[FieldDef] = []
    template: dict[str, Any] = {}
    for spec in fields:
        if spec.kind == "simple" and spec.secret:
            template[spec.name] = registry.setting(
                f"body:{operation}/{spec.xml_name}",
                f"{operation}_{spec.xml_name}",
                secret=True,
                description=f"{spec.xml_name} of {operation} (a credential, never an action input)",
            )
            continue
        if spec.kind == "complex" and spec.ref and _is_credential(graph, spec):
            template[spec.name] = _element_template(graph, spec, registry, _SEARCH_DEPTH, spec.xml_name)
            continue
        kept.append(spec)
    return kept, template


def _is_credential(graph: TypeGraph, spec: FieldDef) -> bool:
    """A credential container (`WebAuthenticationDetail`, `passport`) holding a secret, or an
    element with a secret field of its own: not a shipment that merely has a `SignatureName`."""
    ref = spec.ref or ""
    if any(c.kind == "simple" and c.secret for c in graph.all_fields(ref)):
        return True
    named = _CONTAINER.search(spec.xml_name) or _CONTAINER.search(graph.nodes[ref].local)
    return bool(named) and _holds_secret(graph, ref, _SEARCH_DEPTH)


_CONTAINER = re.compile(r"(auth|credential|passport|login|security|identity)", re.IGNORECASE)


def _holds_secret(graph: TypeGraph, key: str, depth: int) -> bool:
    if depth <= 0:
        return False
    for child in graph.all_fields(key):
        if child.kind == "simple" and child.secret:
            return True
        if child.kind == "complex" and child.ref and _holds_secret(graph, child.ref, depth - 1):
            return True
    return False


def _element_template(
    graph: TypeGraph, spec: FieldDef, registry: SettingsRegistry, depth: int, path: str
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for child in graph.all_fields(spec.ref or ""):
        if child.kind == "simple" and child.fixed is None:
            out[child.name] = registry.setting(
                f"body:{path}/{child.xml_name}",
                f"{spec.xml_name}_{child.xml_name}",
                secret=child.secret,
                description=f"{spec.xml_name}/{child.xml_name}, sent in the body",
            )
        elif child.kind == "complex" and child.ref and depth > 1:
            inner = _element_template(graph, child, registry, depth - 1, f"{path}/{child.xml_name}")
            if inner:
                out[child.name] = inner
    return out
