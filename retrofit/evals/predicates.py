"""Named argument predicates for trajectory checks: `{ action = "crm.add_note", predicate =
"matches", params = { field = "body", pattern = "INV-\\d+" } }`.

A predicate gets the call's arguments (as the gate validated them) and the step's `params`, and
says whether they are right. The built-in ones cover what a TOML file cannot say with equality;
an operator registers more with `register_predicate` in a module `retrofit eval --predicates
MODULE` imports. An unknown name is the scenario file's fault, reported when it loads.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Predicate = Callable[[Mapping[str, Any], Mapping[str, Any]], bool]

_PREDICATES: dict[str, Predicate] = {}


def register_predicate(name: str) -> Callable[[Predicate], Predicate]:
    """Register `fn(arguments, params) -> bool` under `name` (a later registration replaces it)."""

    def register(fn: Predicate) -> Predicate:
        _PREDICATES[name] = fn
        return fn

    return register


def predicate(name: str) -> Predicate | None:
    return _PREDICATES.get(name)


def predicate_names() -> list[str]:
    return sorted(_PREDICATES)


def _field(arguments: Mapping[str, Any], params: Mapping[str, Any]) -> Any:
    name = params.get("field")
    if not isinstance(name, str):
        raise ValueError("this predicate needs params.field (an argument name)")
    return arguments.get(name)


@register_predicate("matches")
def _matches(arguments: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
    """params.field's text matches the regular expression params.pattern (anywhere in it)."""
    value = _field(arguments, params)
    pattern = params.get("pattern")
    if not isinstance(pattern, str):
        raise ValueError("'matches' needs params.pattern (a regular expression)")
    return isinstance(value, str) and re.search(pattern, value) is not None


@register_predicate("one_of")
def _one_of(arguments: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
    """params.field equals one of params.values."""
    values = params.get("values")
    if not isinstance(values, list):
        raise ValueError("'one_of' needs params.values (a list)")
    return _field(arguments, params) in values


@register_predicate("between")
def _between(arguments: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
    """params.field is a number within [params.min, params.max] (either bound optional)."""
    value = _field(arguments, params)
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:
            value = float(str(value))
        except ValueError:
            return False
    low, high = params.get("min"), params.get("max")
    return (low is None or value >= low) and (high is None or value <= high)


@register_predicate("present")
def _present(arguments: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
    """params.field is given and not empty (None, "", [] and {} are empty)."""
    return _field(arguments, params) not in (None, "", [], {})
