"""Which catalog actions `retrofit mcp serve` offers: the operator's choice, READ-only by default.

Patterns are action names (`ledger.get_customer`, or the tool spelling `ledger__get_customer`)
and whole connectors (`ledger.*`); `*` is every action. A pattern that matches nothing stops
the server: a typo must not quietly serve less (or, worse, the operator believe it serves less).
Pure code: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from retrofit.sdk.effect import Effect
from retrofit.sdk.spec import ActionSpec

#: The environment variable the operator lists served actions in (comma or space separated).
ACTIONS_ENV = "RETROFIT_MCP_ACTIONS"


class SelectionError(ValueError):
    """A pattern names no action of the catalog."""


def split_patterns(values: Iterable[str]) -> list[str]:
    """`--actions a,b --actions c` and `RETROFIT_MCP_ACTIONS="a b,c"` alike."""
    return [p for value in values for p in value.replace(",", " ").split() if p]


def select_actions(specs: Sequence[ActionSpec], patterns: Sequence[str]) -> list[ActionSpec]:
    """The served actions, in catalog order. No patterns: every READ action (nothing that
    changes data is offered unless the operator names it)."""
    if not patterns:
        return [s for s in specs if s.effect is Effect.READ]
    chosen: set[str] = set()
    for pattern in patterns:
        name = pattern.replace("__", ".", 1) if "." not in pattern else pattern
        if name == "*":
            hits = [s.name for s in specs]
        elif name.endswith(".*"):
            hits = [s.name for s in specs if s.connector == name[:-2]]
        else:
            hits = [s.name for s in specs if s.name == name]
        if not hits:
            known = ", ".join(sorted({s.connector for s in specs})) or "none"
            raise SelectionError(
                f"--actions {pattern!r} matches no action (connectors: {known}; "
                "see `retrofit connectors list`)"
            )
        chosen.update(hits)
    return [s for s in specs if s.name in chosen]
