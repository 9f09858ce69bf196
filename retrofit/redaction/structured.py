"""Structured values: fields whose *name* says secret (password, token, api_key, ...) and values
that are `pydantic.SecretStr`/`SecretBytes` become `[REDACTED]`; every other string goes through
the free-text finders (`retrofit.redaction.text`). Also the one-line summaries and the extra
`LABEL -> regex` patterns a task may add.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr

from retrofit.redaction import personal_fields
from retrofit.redaction.placeholders import REDACTED
from retrofit.redaction.secret_names import is_secret_key
from retrofit.redaction.text import redact_text

TextRedactor = Callable[[str], str]


def redact(value: Any) -> Any:
    """A JSON-safe copy of `value` with secrets and personal data replaced by placeholders."""
    return redact_using(value, redact_text)


def redact_using(value: Any, text: TextRedactor) -> Any:
    """`redact` with another free-text redactor (the boundary's adds a secrets detector)."""
    # The JSON types first, by exact type: this walks every audit record, and the ABC checks
    # below cost more than the redaction of a short string.
    kind = type(value)
    if kind is str:
        return text(value)
    if kind is dict:
        return {str(k): _field(str(k), v, text) for k, v in value.items()}
    if kind is list:
        return [redact_using(v, text) for v in value]
    if value is None or kind is int or kind is float or kind is bool:
        return value
    if isinstance(value, BaseModel):
        return _redact_model(value, text)
    if isinstance(value, SecretStr | SecretBytes):
        return REDACTED
    if isinstance(value, Mapping):
        return {str(k): _field(str(k), v, text) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_using(v, text) for v in value]
    if isinstance(value, str):
        return text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return text(str(value))


def _field(key: str, value: Any, text: TextRedactor) -> Any:
    """One field of a record: its name may say secret, or say what personal number it holds."""
    if value in (None, ""):
        return value
    if is_secret_key(key):
        return REDACTED
    if type(value) is str and (placeholder := personal_fields.placeholder_for(key, value)) is not None:
        return placeholder
    return redact_using(value, text)


def _redact_model(model: BaseModel, text: TextRedactor) -> Any:
    # Secret-typed fields first (their JSON dump would be "**********", which hides that they were set).
    out: dict[str, Any] = {}
    for name in type(model).model_fields:
        raw = getattr(model, name)
        if isinstance(raw, SecretStr | SecretBytes):
            out[name] = REDACTED
    dumped = model.model_dump(mode="json")
    for key, val in dumped.items():
        if key not in out:
            out[key] = _field(key, val, text)
    return out


@lru_cache(maxsize=256)
def _custom_pattern(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


def check_patterns(patterns: Mapping[str, str]) -> None:
    """Raise ValueError naming the first label that is not `[A-Z0-9_]+` or regex that does not compile."""
    for label, regex in patterns.items():
        if not re.fullmatch(r"[A-Z][A-Z0-9_]{0,39}", label):
            raise ValueError(f"redaction label {label!r} must be UPPER_SNAKE_CASE (it becomes [{label}])")
        try:
            _custom_pattern(regex)
        except re.error as exc:
            raise ValueError(f"redaction pattern {label}: {exc}") from None


def redact_with(value: Any, patterns: Mapping[str, str], text: TextRedactor = redact_text) -> Any:
    """`redact(value)`, then each extra `label -> regex` pattern replaced by `[label]` in every string:
    the configurable part of redaction (customer references, internal case numbers, ...)."""
    cleaned = redact_using(value, text)
    if not patterns:
        return cleaned
    return _apply(cleaned, [(f"[{label}]", _custom_pattern(regex)) for label, regex in patterns.items()])


def _apply(value: Any, rules: list[tuple[str, re.Pattern[str]]]) -> Any:
    if isinstance(value, str):
        for replacement, pattern in rules:
            value = pattern.sub(replacement, value)
        return value
    if isinstance(value, dict):
        return {key: _apply(item, rules) for key, item in value.items()}
    if isinstance(value, list):
        return [_apply(item, rules) for item in value]
    return value


def summarize(value: Any, limit: int = 120) -> str:
    """A one-line, redacted, truncated rendering for activity summaries and CLI tables."""
    text = json.dumps(redact(value), separators=(",", ":"), sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
