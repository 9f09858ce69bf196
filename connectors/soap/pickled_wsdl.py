"""Pickling a parsed zeep WSDL `Document`, for the persistent cache of cold starts.

A parsed Document is plain Python objects except for a few things pickle refuses; each gets a
reducer here, and nothing else is special-cased:

- the loader and zeep `Settings` it was parsed with (the latter holds a `threading.local`)
  travel as persistent ids and are supplied fresh on load;
- `lxml.etree.QName` is rebuilt from its text;
- classes zeep creates at parse time (`zeep.xsd.dynamic_types.*` for derived simple types,
  `zeep.objects.*` value classes) are not importable, so they are recreated with `type()`;
- dict value views (zeep keeps one for merged attribute lists) become lists; they are only
  iterated, and the dicts behind them never change after parsing.

Loading is restricted to an allowlist of modules, so a tampered file cannot name arbitrary
callables; the cache directory's ownership checks in `wsdl_cache` are the first line of defence.
"""

from __future__ import annotations

import builtins
import pickle
from collections import OrderedDict
from collections.abc import Iterable
from typing import IO, Any, cast

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no stubs
from zeep.settings import Settings

_VALUE_VIEWS: tuple[type, ...] = (type({}.values()), type(OrderedDict().values()))
_DYNAMIC_MODULES = ("zeep.xsd.dynamic_types", "zeep.objects")

_LOADER_ID = "loader"
_SETTINGS_ID = "settings"

# Everything a pickled Document refers to by name. Builtins are limited to plain constructors.
_ALLOWED_MODULE_PREFIXES = ("zeep.", "lxml.etree")
_ALLOWED_GLOBALS = {
    ("builtins", name)
    for name in ("type", "list", "dict", "set", "frozenset", "tuple", "object", "str", "bytes", "int")
} | {
    ("collections", "OrderedDict"),
    ("copyreg", "_reconstructor"),
    ("copyreg", "__newobj__"),
    ("decimal", "Decimal"),
    ("datetime", "date"),
    ("datetime", "datetime"),
}


class _DocumentPickler(pickle.Pickler):
    def __init__(self, file: IO[bytes], loader: object) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._loader = loader

    def persistent_id(self, obj: Any) -> str | None:
        if obj is self._loader:
            return _LOADER_ID
        if isinstance(obj, Settings):
            return _SETTINGS_ID
        return None

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, etree.QName):
            return etree.QName, (obj.text,)
        if isinstance(obj, type) and obj.__module__ in _DYNAMIC_MODULES:
            namespace = {"__module__": obj.__module__}
            if "_xsd_type" in obj.__dict__:  # value classes point back at their XSD type
                namespace["_xsd_type"] = obj.__dict__["_xsd_type"]
            return type, (obj.__name__, obj.__bases__, namespace)
        if isinstance(obj, _VALUE_VIEWS):
            return list, (list(cast(Iterable[Any], obj)),)
        return NotImplemented


class _DocumentUnpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes], loader: object, settings: Settings) -> None:
        super().__init__(file)
        self._loader = loader
        self._settings = settings

    def persistent_load(self, pid: Any) -> object:
        if pid == _LOADER_ID:
            return self._loader
        if pid == _SETTINGS_ID:
            return self._settings
        raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return getattr(builtins, name) if module == "builtins" else super().find_class(module, name)
        if module.startswith(_ALLOWED_MODULE_PREFIXES):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"a cached WSDL may not refer to {module}.{name}")


def dump_document(document: Any, file: IO[bytes], *, loader: object) -> None:
    """Write `document` (a zeep `Document` parsed through `loader`) to `file`."""
    _DocumentPickler(file, loader).dump(document)


def load_document(file: IO[bytes], *, loader: object, settings: Settings) -> Any:
    """Read a Document written by `dump_document`, attached to `loader` and `settings`."""
    return _DocumentUnpickler(file, loader, settings).load()
