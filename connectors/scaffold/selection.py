"""`--operations` / `--tables`: shell-style globs, matched case-insensitively, comma-separated."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase


class Selection:
    def __init__(self, patterns: Sequence[str] | None) -> None:
        self._patterns = [p.strip().lower() for p in patterns or () if p.strip()]

    @classmethod
    def parse(cls, text: str | None) -> Selection:
        return cls(text.split(",") if text else None)

    @property
    def everything(self) -> bool:
        return not self._patterns

    def matches(self, *names: str) -> bool:
        """True when any of an item's names (operation id, path, tag, table) matches any pattern."""
        if self.everything:
            return True
        return any(fnmatchcase(n.lower(), p) for n in names for p in self._patterns)

    def unmatched_notes(self, option: str, names: Iterable[str], what: str) -> list[str]:
        """`--operations 'Invoces*' matched no operation (check the spelling)`, per unmatched pattern."""
        return [f"{option} {p!r} matched no {what} (check the spelling)" for p in self.unmatched(names)]

    def unmatched(self, names: Iterable[str]) -> list[str]:
        """Patterns that matched nothing: a typo the integrator should hear about."""
        lowered = [n.lower() for n in names]
        return [p for p in self._patterns if not any(fnmatchcase(n, p) for n in lowered)]
