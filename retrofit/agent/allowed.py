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
        connector, _, _ = action.partition(".")
        return any(p == action or p == f"{connector}.*" for p in self._patterns)

    def specs(self) -> list[ActionSpec]:
        """The catalog's actions this agent may call, in name order."""
        found = [spec for name in catalog.names() if self.permits(name) and (spec := catalog.lookup(name))]
        return found

    def unmatched(self) -> list[str]:
        """Patterns that match no action this worker serves (a typo, or a connector not deployed)."""
        names = catalog.names()
        return [
            p
            for p in self._patterns
            if not any(n == p or (p.endswith(".*") and n.startswith(p[:-1])) for n in names)
        ]

    def resolve_tool(self, tool: str) -> str | None:
        """The permitted action a tool name stands for, or None (malformed, unknown or not allowed)."""
        try:
            action = action_name(tool)
        except ValueError:
            return None
        return action if self.permits(action) and catalog.lookup(action) is not None else None
