"""Helpers the number finders share: where a candidate sits in its text decides as much as its digits.

A run of digits glued to a word (`INV-2024-0042`, `SO-10248`, `C-1006`, a UUID's last group) is
part of an identifier the agent works with, never a phone number, card or national id on its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_GLUE = "-./_:#"


def glued(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] continues a neighbouring word (`X-123`, `123-X`, `ab123`, `v1.2`)."""
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    if before.isalnum() or before == "_" or after.isalnum() or after == "_":
        return True
    if before and before in _GLUE and start > 1 and text[start - 2].isalnum():
        return True
    return bool(after and after in _GLUE and end + 1 < len(text) and text[end + 1].isalnum())


def near(text: str, start: int, words: re.Pattern[str], window: int = 40) -> bool:
    """Whether one of `words` appears in the `window` characters before `start` (a label like `SSN:`)."""
    return bool(words.search(text, max(0, start - window), start))


def replace_spans(text: str, spans: list[tuple[int, int]], placeholder: str) -> str:
    if not spans:
        return text
    parts: list[str] = []
    done = 0
    for start, end in sorted(spans):
        if start < done:
            continue
        parts += [text[done:start], placeholder]
        done = end
    parts.append(text[done:])
    return "".join(parts)


def sub_checked(
    pattern: re.Pattern[str], text: str, placeholder: str, accept: Callable[[str, re.Match[str]], bool]
) -> str:
    """Replace each match of `pattern` that `accept(text, match)` says is the real thing."""
    spans = [m.span() for m in pattern.finditer(text) if accept(text, m)]
    return replace_spans(text, spans, placeholder)
