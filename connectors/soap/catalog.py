"""The offline schema catalog: well-known W3C/OASIS schema URLs answered from local copies.

Real WSDLs import standard schemas by URL (SOAP encoding, xml.xsd, XML Signature, WS-Security), and
zeep even imports some on its own (it adds `http://schemas.xmlsoap.org/soap/encoding/` when a
WSDL mentions `soapenc:Array`, and `https://www.w3.org/2001/xml.xsd` for `xml:lang`). A worker
must not depend on w3.org being reachable, so those URLs resolve to the small schemas shipped
in `catalog/`. Integrators add their own vendor schemas with `SoapSettings.schema_locations`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from urllib.parse import urlsplit

CATALOG_DIR = Path(__file__).with_name("catalog")

_WSS = "http://docs.oasis-open.org/wss/2004/01/"

#: URL as WSDLs spell it -> file in `CATALOG_DIR`. Lookups ignore http/https and a trailing slash.
WELL_KNOWN_SCHEMAS: Mapping[str, str] = MappingProxyType(
    {
        "http://schemas.xmlsoap.org/soap/encoding/": "soap-encoding.xsd",
        "http://schemas.xmlsoap.org/soap/envelope/": "soap-envelope.xsd",
        "http://www.w3.org/2001/xml.xsd": "xml.xsd",
        # Some WSDLs give the namespace itself as the schemaLocation.
        "http://www.w3.org/XML/1998/namespace": "xml.xsd",
        "http://www.w3.org/2000/09/xmldsig#": "xmldsig-core-schema.xsd",
        "http://www.w3.org/TR/xmldsig-core/xmldsig-core-schema.xsd": "xmldsig-core-schema.xsd",
        "http://www.w3.org/TR/2002/REC-xmldsig-core-20020212/xmldsig-core-schema.xsd": (
            "xmldsig-core-schema.xsd"
        ),
        _WSS + "oasis-200401-wss-wssecurity-secext-1.0.xsd": "oasis-wss-wssecurity-secext-1.0.xsd",
        _WSS + "oasis-200401-wss-wssecurity-utility-1.0.xsd": "oasis-wss-wssecurity-utility-1.0.xsd",
        "http://www.w3.org/2005/08/addressing": "ws-addressing.xsd",
        "http://www.w3.org/2006/03/addressing/ws-addr.xsd": "ws-addressing.xsd",
    }
)


def catalog_key(url: str) -> str:
    """The spelling-insensitive form of a schema URL: scheme-less, host lowercased, no trailing '/'."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/")
    query = f"?{parts.query}" if parts.query else ""
    fragment = f"#{parts.fragment}" if parts.fragment else ""
    return f"//{parts.netloc.lower()}{path}{query}{fragment}"


class SchemaCatalog:
    """Maps schema URLs to local files: the shipped well-known schemas plus `extra` entries."""

    def __init__(self, extra: Mapping[str, Path] | None = None) -> None:
        entries: dict[str, Path] = {
            catalog_key(url): CATALOG_DIR / name for url, name in WELL_KNOWN_SCHEMAS.items()
        }
        for url, path in (extra or {}).items():
            entries[catalog_key(url)] = Path(path).expanduser().resolve()
        self._entries = entries

    def lookup(self, url: str) -> Path | None:
        return self._entries.get(catalog_key(url))

    def fingerprint(self) -> tuple[tuple[str, str], ...]:
        """What identifies this catalog in cache keys: two catalogs that differ parse differently."""
        return tuple(sorted((key, str(path)) for key, path in self._entries.items()))
