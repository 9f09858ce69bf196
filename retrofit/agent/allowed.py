"""Which actions an agent may call: names or `connector.*` patterns, resolved against the catalog.

Checked in workflow code before anything else, whatever the model says: a tool call outside this
list never reaches validation, policy or a connector.
"""

from __future__ import annotations

from collections.abc import Sequence

from retrofit.gate import catalog
from retrofit.llm.tools import action_name
from retrofit.sdk.spec import ActionSpec


class AllowedActions:
    def __init__(self, patterns: Sequence[str]) -> None:
        self._patterns = list(patterns)

    def permits(self, action: str) -> bool:
        return any(_matches(p, action) for p in self._patterns)

    def specs(self) -> list[ActionSpec]:
        """The catalog's actions this agent may call, in name order."""
        return [spec for name in catalog.names() if self.permits(name) and (spec := catalog.lookup(name))]

    def unmatched(self) -> list[str]:
        """Patterns that match no action this worker serves (a typo, or a connector not deployed)."""
        names = catalog.names()
        return [p for p in self._patterns if not any(_matches(p, n) for n in names)]

    def resolve_tool(self, tool: str) -> str | None:
        """The permitted action a tool name stands for, or None (malformed, unknown or not allowed)."""
        try:
            action = action_name(tool)
        except ValueError:
            return None
        return action if self.permits(action) and catalog.lookup(action) is not None else None


def _matches(pattern: str, action: str) -> bool:
    """`erp.get_invoice` matches itself and `erp.*`."""
    return pattern == action or pattern == f"{action.partition('.')[0]}.*"
