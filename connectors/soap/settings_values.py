"""Credentials from settings into a call: SOAP headers and body elements a generated connector fills.

`retrofit connectors new --from-wsdl` never makes a credential an action input: a header the
WSDL declares (Bing's `DeveloperToken`, Salesforce's `SessionHeader/sessionId`) or a body element
holding a secret-named field (FedEx's `WebAuthenticationDetail/UserCredential/Key`) becomes a
setting, and the generated action passes a *template* naming those settings to these helpers.
Only settings that are set are sent; a `SecretStr` leaves its wrapper only here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no stubs
from pydantic import SecretStr

#: element name (Python name in a body, Clark name `{ns}Name` in a header) -> setting name, or
#: a nested template for a complex element.
Template = Mapping[str, "str | Template"]


def settings_values(settings: object, template: Template) -> dict[str, Any]:
    """The body elements of `template` filled from `settings` (unset settings are left out)."""
    out: dict[str, Any] = {}
    for element, source in template.items():
        if isinstance(source, Mapping):
            inner = settings_values(settings, source)
            if inner:
                out[element] = inner
            continue
        value = _setting(settings, source)
        if value is not None:
            out[element] = value
    return out


def soap_headers(settings: object, template: Template) -> list[Any] | None:
    """SOAP header elements for `template` (Clark names) from `settings`; None when none is set.

    Built as plain XML elements rather than through the WSDL's header message, so a header the
    system does not need (Bing's legacy `UserName`) can stay unset without a "missing element"
    from zeep.
    """
    headers = [
        h for h in (_element(name, source, settings) for name, source in template.items()) if h is not None
    ]
    return headers or None


def _element(name: str, source: str | Template, settings: object) -> Any:
    node = etree.Element(name)
    if isinstance(source, Mapping):
        children = [c for c in (_element(n, s, settings) for n, s in source.items()) if c is not None]
        if not children:
            return None
        node.extend(children)
        return node
    value = _setting(settings, source)
    if value is None:
        return None
    node.text = value if isinstance(value, str) else str(value)
    return node


def _setting(settings: object, name: str) -> Any:
    value = getattr(settings, name, None)
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return value
