"""Loading an OpenAPI 3.0/3.1 document (YAML or JSON) and resolving its `$ref`s.

References inside the document (`#/components/schemas/Invoice`, any JSON pointer) and to files
next to it (`common.yaml#/Money`) resolve; a reference to a URL does not (no network while
generating code), and neither does one that points nowhere: both are reported, never raised
past the reader.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from connectors.scaffold.errors import SourceError

# A description larger than this is not an API description a person reviews; refuse, don't hang.
MAX_BYTES = 50 * 1024 * 1024


def as_dict(value: Any) -> dict[str, Any]:
    """`value` if it is a mapping, else empty: a foreign document may put anything anywhere."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


class RefError(Exception):
    """A `$ref` that cannot be followed; the reader turns it into a Skipped or a loose type."""


def _parse(text: str, path: Path) -> Any:
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise SourceError(f"{path.name} is not valid JSON: {exc}") from None
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML is a dependency; say what to do if it is gone
        raise SourceError(f"{path.name} is YAML and PyYAML is not installed (pip install pyyaml)") from None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)  # a safe loader, never yaml.Loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise SourceError(f"{path.name} is not valid YAML{where}") from None


def _read(path: Path) -> tuple[bytes, Any]:
    try:
        if path.stat().st_size > MAX_BYTES:
            raise SourceError(f"{path.name} is over {MAX_BYTES // (1024 * 1024)} MB; not an API description")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SourceError(f"no such OpenAPI file: {path}") from None
    except IsADirectoryError:
        raise SourceError(f"{path} is a directory, not an OpenAPI file") from None
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SourceError(f"{path.name} is not UTF-8 text") from None
    return raw, _parse(text, path)


def _pointer(root: Any, pointer: str, ref: str) -> Any:
    node = root
    if pointer in ("", "/"):
        return node
    for part in pointer.lstrip("/").split("/"):
        key = unquote(part).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            raise RefError(f"$ref {ref!r} points nowhere")
    return node


@dataclass
class Document:
    """The parsed description, with the files its references reached."""

    path: Path
    root: dict[str, Any]
    digest: str
    version: str  # "3.0.x" or "3.1.x"
    _files: dict[Path, Any] = field(default_factory=dict)

    @property
    def is_31(self) -> bool:
        return self.version.startswith("3.1")

    def resolve(self, ref: str, *, base: Path | None = None) -> tuple[Any, Path]:
        """The node a `$ref` names, and the file it lives in (for the refs inside it)."""
        if not isinstance(ref, str):
            raise RefError("$ref is not a string")
        where, _, pointer = ref.partition("#")
        if not where:
            file = base or self.path
        elif "://" in where or where.startswith("//"):
            raise RefError(f"$ref {ref!r} is a URL; only local files are read")
        else:
            file = ((base or self.path).parent / unquote(where)).resolve()
        if file == self.path:
            root: Any = self.root
        else:
            if file not in self._files:
                try:
                    self._files[file] = _read(file)[1]
                except SourceError as exc:
                    raise RefError(f"$ref {ref!r}: {exc}") from None
            root = self._files[file]
        return _pointer(root, pointer, ref), file

    def deref(self, node: Any, *, base: Path | None = None, depth: int = 0) -> Any:
        """`node` with `$ref` chains followed (a parameter, response or request body object)."""
        seen = 0
        while isinstance(node, dict) and "$ref" in node:
            node, base = self.resolve(node["$ref"], base=base)
            seen += 1
            if seen > 32:
                raise RefError("a $ref chain loops")
        return node


def load_document(source: str) -> Document:
    path = Path(source).expanduser()
    raw, data = _read(path)
    if not isinstance(data, dict):
        raise SourceError(f"{path.name} is not an OpenAPI document (its top level is not a mapping)")
    version = data.get("openapi")
    if version is None and "swagger" in data:
        raise SourceError(f"{path.name} is Swagger {data['swagger']}; convert it to OpenAPI 3 first")
    if not isinstance(version, str) or not version.startswith(("3.0", "3.1")):
        raise SourceError(f"{path.name} is not OpenAPI 3.0 or 3.1 (openapi: {str(version)[:20]!r})")
    if not isinstance(data.get("paths"), dict) or not data["paths"]:
        raise SourceError(f"{path.name} describes no paths: nothing to generate")
    return Document(path=path.resolve(), root=data, digest=hashlib.sha256(raw).hexdigest(), version=version)
