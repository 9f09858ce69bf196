"""Python identifiers from foreign names: operation ids, XML element names, column names."""

from __future__ import annotations

import builtins
import keyword
import re
import unicodedata

_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_WORD = re.compile(r"[^0-9A-Za-z]+")

# Names a generated class body or module must not rebind: pydantic's own members and the type
# names the generated annotations use (a field `date: date | None` would shadow the type).
RESERVED = frozenset(
    set(keyword.kwlist)
    | set(keyword.softkwlist)
    | set(dir(builtins))
    | {"date", "datetime", "time", "timedelta", "Decimal", "UUID", "Any", "Literal", "Field"}
    | {"model_config", "model_fields", "model_computed_fields", "model_extra", "model_fields_set"}
    | {"self", "req", "cls", "settings", "name", "Settings"}
)


def words(text: str) -> list[str]:
    """`getInvoiceByID`, `Get-Invoice_by id`, `HTTPServer` → lower-case words."""
    spaced = _WORD_BOUNDARY.sub(" ", text)
    return [w.lower() for w in _NOT_WORD.split(spaced) if w]


def snake(text: str, *, fallback: str = "value") -> str:
    """A safe snake_case identifier: never a keyword, builtin or reserved name, never starts with a digit."""
    name = "_".join(words(text)) or fallback
    if name[0].isdigit():
        name = f"n_{name}"
    if name in RESERVED or name.startswith("model_") or name.startswith("_"):
        name = f"{name}_"
    return name


def pascal(text: str, *, fallback: str = "Model") -> str:
    """A safe PascalCase class name."""
    name = "".join(w[:1].upper() + w[1:] for w in words(text)) or fallback
    if name[0].isdigit():
        name = f"N{name}"
    if name in RESERVED:
        name = f"{name}Model"
    return name


class Namespace:
    """Hands out names unique within one scope (a module's classes, a class's fields, a connector's actions)."""

    def __init__(self, taken: set[str] | None = None) -> None:
        self._taken: set[str] = set(taken or ())

    def claim(self, wanted: str) -> str:
        name, n = wanted, 2
        while name in self._taken:
            name, n = f"{wanted}_{n}" if wanted.islower() else f"{wanted}{n}", n + 1
        self._taken.add(name)
        return name

    def __contains__(self, name: object) -> bool:
        return name in self._taken


_UNPRINTABLE = ("Cc", "Cf", "Cs", "Zl", "Zp")


def printable_line(text: str) -> str:
    """`text` with every control, format or surrogate character a space; indentation kept."""
    return "".join(" " if unicodedata.category(c) in _UNPRINTABLE else c for c in text).rstrip()


def printable(text: str) -> str:
    """Foreign text made safe for a generated comment, docstring, TOML string or terminal line:
    one line, no control, format (bidi overrides: "trojan source") or surrogate characters,
    whitespace collapsed."""
    return " ".join(printable_line(text).split())
