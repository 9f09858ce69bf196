"""Parse each WSDL once per worker process, and keep the parse on disk for the next cold start.

Two layers, both keyed by the WSDL location and the settings that change how it parses:

- an in-process memo of the parsed zeep `Document`. Documents are read-only once parsed and
  hold no client state (clients bring their own transport, plugins and headers), so every
  connector instance of a worker shares one;
- optionally, a directory of pickled Documents (`pickled_wsdl`). An entry records a digest of
  every document the parse read; it is used only while all of them still read the same, so a
  changed WSDL or XSD is re-parsed. Measured on NetSuite 2023_2 (47 files, 2.6 MB): reading and
  hashing the sources costs a few milliseconds, unpickling a few hundred, parsing about three
  times that — caching fetched bytes alone (zeep's `SqliteCache`) would save only the reads.

Parsing is synchronous (zeep loads documents with blocking I/O); connectors call `load_wsdl`
in a thread so the worker's event loop keeps running.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import logging
import os
import stat
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from zeep.settings import Settings
from zeep.wsdl import Document

from connectors.soap.catalog import SchemaCatalog
from connectors.soap.loader import OfflineSchemaLoader, SchemaFetchRefused, WsdlFetchError
from connectors.soap.pickled_wsdl import dump_document, load_document

log = logging.getLogger(__name__)

_MAGIC = b"retrofit-wsdl-cache 1\n"


@dataclass
class WsdlCacheStats:
    """How WSDL loads were served in this process (for tests, benchmarks and `retrofit` diagnostics)."""

    parsed: int = 0  # full parses
    memo_hits: int = 0  # answered by the in-process memo
    disk_hits: int = 0  # answered by the persistent cache
    disk_writes: int = 0


@dataclass(frozen=True)
class _Key:
    location: str
    strict: bool
    xml_huge_tree: bool
    catalog: tuple[tuple[str, str], ...]

    def digest(self) -> str:
        material = json.dumps(
            [self.location, self.strict, self.xml_huge_tree, self.catalog, _library_versions()]
        )
        return hashlib.sha256(material.encode()).hexdigest()[:40]


_memo: dict[_Key, Any] = {}
_key_locks: dict[_Key, threading.Lock] = {}
_lock = threading.Lock()
_stats = WsdlCacheStats()


def load_wsdl(
    location: str,
    *,
    strict: bool = True,
    xml_huge_tree: bool = False,
    schema_locations: Mapping[str, Path] | None = None,
    cache_dir: Path | None = None,
    timeout: float = 30.0,
    http_transport: httpx.BaseTransport | None = None,
) -> Any:
    """The parsed zeep `Document` for `location` (a URL or a path), parsed at most once per process.

    Imports resolve offline (see `loader.OfflineSchemaLoader`); `cache_dir` enables the
    persistent cache. Raises `SchemaFetchRefused` or `WsdlFetchError` from the loader, and zeep's
    own errors for a WSDL it cannot parse.
    """
    location = normalize_location(location)
    catalog = SchemaCatalog(schema_locations)
    key = _Key(location, strict, xml_huge_tree, catalog.fingerprint())
    with _lock:
        key_lock = _key_locks.setdefault(key, threading.Lock())
    # One parse per key even when several connectors open at once; other keys proceed in parallel.
    with key_lock:
        with _lock:
            if key in _memo:
                _stats.memo_hits += 1
                return _memo[key]
        settings = Settings(strict=strict, xml_huge_tree=xml_huge_tree)
        loader = OfflineSchemaLoader(location, catalog, timeout=timeout, http_transport=http_transport)
        try:
            with _gc_paused():
                document = _from_disk(cache_dir, key, loader, settings) if cache_dir else None
                if document is None:
                    document = Document(location, loader, settings=settings)  # type: ignore[arg-type]
                    with _lock:
                        _stats.parsed += 1
                    if cache_dir is not None:
                        _to_disk(cache_dir, key, document, loader)
        finally:
            loader.close()  # the HTTP client, if any; later lookups use the catalog and local files
        with _lock:
            _memo[key] = document
        return document


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Parsing or unpickling a big WSDL creates a few hundred thousand objects that live as long as
    the process; pausing the cyclic collector meanwhile saves it from scanning them again and
    again (measured: up to 2x on NetSuite). Reference counting still frees garbage as usual."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def wsdl_cache_stats() -> WsdlCacheStats:
    with _lock:
        return replace(_stats)


def clear_wsdl_memo() -> None:
    """Forget every parsed WSDL of this process (the persistent cache stays)."""
    with _lock:
        _memo.clear()


def normalize_location(location: str) -> str:
    """URLs as given; paths (and file: URLs) made absolute, so one file has one cache key."""
    scheme = urlsplit(location).scheme
    if scheme in ("http", "https"):
        return location
    if scheme == "file":
        return location
    return str(Path(location).expanduser().resolve())


# -- the persistent layer ---------------------------------------------------------------------


def _entry_path(cache_dir: Path, key: _Key) -> Path:
    return cache_dir / f"{key.digest()}.wsdl.pickle"


def _from_disk(cache_dir: Path, key: _Key, loader: OfflineSchemaLoader, settings: Settings) -> Any:
    path = _entry_path(cache_dir, key)
    if not path.exists():
        return None
    try:
        if not (_trusted(cache_dir) and _trusted(path)):
            log.warning("ignoring the WSDL cache entry %s: other users can write to it", path)
            return None
        with path.open("rb") as file:
            if file.readline() != _MAGIC:
                return None
            header = json.loads(file.readline())
            if header.get("location") != key.location or header.get("versions") != list(_library_versions()):
                return None
            # Re-read every source through the same rules: a changed file means a fresh parse.
            for url, digest in header["sources"].items():
                if hashlib.sha256(loader.load(url)).hexdigest() != digest:
                    log.info("WSDL cache entry for %s is stale: %s changed", key.location, url)
                    return None
            document = load_document(file, loader=loader, settings=settings)
    except (SchemaFetchRefused, WsdlFetchError):
        raise  # the same failure a fresh parse would meet
    except Exception as exc:  # a corrupt or foreign entry can fail in many ways; the cache is optional
        log.warning("ignoring an unreadable WSDL cache entry %s (%s: %s)", path, type(exc).__name__, exc)
        return None
    with _lock:
        _stats.disk_hits += 1
    return document


def _to_disk(cache_dir: Path, key: _Key, document: Any, loader: OfflineSchemaLoader) -> None:
    path = _entry_path(cache_dir, key)
    partial = path.with_suffix(f".{os.getpid()}.partial")
    try:
        cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        header = {"location": key.location, "versions": list(_library_versions()), "sources": loader.sources}
        with partial.open("wb") as file:
            file.write(_MAGIC)
            file.write(json.dumps(header).encode() + b"\n")
            dump_document(document, file, loader=loader)
        os.replace(partial, path)  # readers see the old entry or the whole new one, never half
    except Exception as exc:  # a Document we cannot pickle still works; the cache is an optimisation
        partial.unlink(missing_ok=True)
        log.warning("could not write the WSDL cache entry %s (%s: %s)", path, type(exc).__name__, exc)
        return
    with _lock:
        _stats.disk_writes += 1


def _trusted(path: Path) -> bool:
    """Unpickling runs code named in the file: only trust files this user owns and alone can write."""
    info = path.stat()
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return False
    getuid = getattr(os, "getuid", None)
    return getuid is None or info.st_uid == getuid()


@functools.cache
def _library_versions() -> tuple[str, ...]:
    # A pickle is only valid for the code that wrote it.
    return (sys.version.split()[0], version("zeep"), version("lxml"))
