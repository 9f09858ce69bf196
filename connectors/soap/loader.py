"""Reads a WSDL and the schemas it imports without ever reaching an unknown host.

zeep reads documents through an object with a `load(url) -> bytes` method (it calls it a
transport). `OfflineSchemaLoader` is that object while a WSDL is parsed. It answers:

1. well-known schema URLs from the local catalog (`catalog.py`);
2. files inside the WSDL's own folder (and its subfolders), when the WSDL is a local file;
3. the WSDL URL itself and URLs under its folder on the same origin, when the WSDL is
   published over HTTP (a service's `?wsdl` page and its `?xsd=` imports);

and refuses everything else with `SchemaFetchRefused`, naming the URL. That keeps cold starts
independent of w3.org and closes the SSRF door a hostile WSDL import would open.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpx

from connectors.soap.catalog import CATALOG_DIR, SchemaCatalog


class SchemaFetchRefused(RuntimeError):
    """A WSDL or schema import points somewhere the offline loader will not go."""

    def __init__(self, url: str, wsdl: str) -> None:
        super().__init__(
            f"refusing to fetch {url!r} while loading the WSDL {wsdl!r}: it is not in the offline schema "
            f"catalog ({CATALOG_DIR}) and not under the WSDL's own location. Map it to a local copy "
            "with the connector setting `schema_locations` ({url: path})."
        )
        self.url = url
        self.wsdl = wsdl


class WsdlFetchError(RuntimeError):
    """Fetching an allowed WSDL or schema over HTTP failed.

    `transient` is true for network errors, timeouts, 429 and 5xx: the service may be restarting,
    so the connector retries later instead of failing the worker for good.
    """

    def __init__(self, url: str, problem: str, *, transient: bool) -> None:
        super().__init__(f"could not fetch {url!r}: {problem}")
        self.url = url
        self.transient = transient


class OfflineSchemaLoader:
    """The document source zeep parses a WSDL through; see the module docstring for the rules.

    `sources` records every document read (location -> sha256 of its bytes): the persistent WSDL
    cache uses it to tell whether a cached parse is still current.
    """

    #: zeep's transports carry a byte cache here; ours is the parsed-WSDL cache in `wsdl_cache`.
    cache = None

    def __init__(
        self,
        wsdl: str,
        catalog: SchemaCatalog,
        *,
        timeout: float = 30.0,
        http_transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.wsdl = wsdl
        self._catalog = catalog
        self._timeout = timeout
        self._http_transport = http_transport
        self._http: httpx.Client | None = None
        self.sources: dict[str, str] = {}
        if _is_http(wsdl):
            parts = urlsplit(wsdl)
            self._origin: tuple[str, str] | None = (parts.scheme, parts.netloc.lower())
            self._http_folder = parts.path.rsplit("/", 1)[0] + "/"
            self._local_root: Path | None = None
        else:
            self._origin = None
            self._http_folder = ""
            self._local_root = _local_path(wsdl).resolve().parent

    def load(self, url: str) -> bytes:
        content = self._read(url)
        self.sources[url] = hashlib.sha256(content).hexdigest()
        return content

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def _read(self, url: str) -> bytes:
        local = self._catalog.lookup(url)
        if local is not None:
            return local.read_bytes()
        if _is_http(url):
            if not self._within_wsdl_origin(url):
                raise SchemaFetchRefused(url, self.wsdl)
            return self._fetch(url)
        path = _local_path(url).resolve()
        if self._local_root is None or not path.is_relative_to(self._local_root):
            raise SchemaFetchRefused(url, self.wsdl)
        return path.read_bytes()

    def _within_wsdl_origin(self, url: str) -> bool:
        if url == self.wsdl:
            return True
        if self._origin is None:  # a local WSDL may not send us to the network at all
            return False
        parts = urlsplit(url)
        return (parts.scheme, parts.netloc.lower()) == self._origin and parts.path.startswith(
            self._http_folder
        )

    def _fetch(self, url: str) -> bytes:
        if self._http is None:
            # Redirects stay off: following one could leave the allowed origin behind.
            self._http = httpx.Client(
                timeout=self._timeout, follow_redirects=False, transport=self._http_transport
            )
        try:
            response = self._http.get(url)
        except httpx.TransportError as exc:
            raise WsdlFetchError(url, f"{type(exc).__name__}: {exc}", transient=True) from exc
        status = response.status_code
        if status != 200:
            transient = status in (408, 429) or status >= 500
            raise WsdlFetchError(url, f"HTTP {status}", transient=transient)
        return response.content


def _is_http(location: str) -> bool:
    return urlsplit(location).scheme in ("http", "https")


def _local_path(location: str) -> Path:
    parts = urlsplit(location)
    if parts.scheme == "file":
        return Path(url2pathname(parts.path))
    return Path(os.path.expanduser(location))
