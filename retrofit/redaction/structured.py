"""Redaction of secrets and PII before anything is stored, logged, summarised or sent to a model.

Pure (stdlib + pydantic): it runs inside workflows as well as activities. Three rules:
fields whose *name* says secret (password, token, api_key, ...) and values that are
`pydantic.SecretStr`/`SecretBytes` become `[REDACTED]`; inside any string, e-mail addresses,
international phone numbers, IBANs and card numbers (Luhn-checked) become `[EMAIL]`, `[PHONE]`,
`[IBAN]`, `[CARD]`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr

REDACTED = "[REDACTED]"

# The lookbehind stops the engine re-trying from every character of a word: same matches, 2x faster.
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# International form only (leading +): bare digit runs are far more often amounts and ids.
_PHONE = re.compile(r"\+\d{1,3}(?:[\s.-]?\(?\d{1,4}\)?){2,6}\d")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,4})?\b")
_CARD = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")
# Cheap necessary conditions, checked first: this runs on every captured body and audit string.
_IBAN_HINT = re.compile(r"[A-Z]{2}\d\d")
_CARD_HINT = re.compile(r"\d[\d -]{11,}\d")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group(0))
    return "[CARD]" if _luhn_ok(digits) else match.group(0)


def redact_text(text: str) -> str:
    """Replace PII inside free text (notes, names of fields do not matter here)."""
    if len(text) < 6:
        return text
    if "@" in text:
        text = _EMAIL.sub("[EMAIL]", text)
    if _IBAN_HINT.search(text):
        text = _IBAN.sub("[IBAN]", text)
    if _CARD_HINT.search(text):
        text = _CARD.sub(_card, text)
    if "+" in text:
        text = _PHONE.sub("[PHONE]", text)
    return text


_SECRET_KEY = re.compile(
    r"(pass(word|wd)?|secret|token|api[_-]?key|apikey|authorization|credential|"
    r"private[_-]?key|session[_-]?id|cookie|signature)"
    # "auth" only as a whole word: `auth`, `basic_auth`, not `author`.
    r"|(^|[_\-.])auth($|[_\-.])",
    re.IGNORECASE,
)


@lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    # Cached: the same few field names come by on every captured exchange.
    return bool(_SECRET_KEY.search(key)) and not _TOKEN_COUNT.search(key)


# Counts of model tokens (`prompt_tokens`, `max_tokens`, ...), not credentials. Named one by one:
# `api_tokens` or `session_tokens` may well hold secrets.
_TOKEN_COUNT = re.compile(
    r"^((prompt|completion|total|max|input|output|cached|reasoning)_)?tokens$", re.IGNORECASE
)


def redact(value: Any) -> Any:
    """A JSON-safe copy of `value` with secrets replaced by `[REDACTED]`."""
    if isinstance(value, BaseModel):
        return _redact_model(value)
    if isinstance(value, SecretStr | SecretBytes):
        return REDACTED
    if isinstance(value, Mapping):
        return {
            str(k): (REDACTED if is_secret_key(str(k)) and v not in (None, "") else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact_text(str(value))


def _redact_model(model: BaseModel) -> Any:
    # Secret-typed fields first (their JSON dump would be "**********", which hides that they were set).
    out: dict[str, Any] = {}
    for name in type(model).model_fields:
        raw = getattr(model, name)
        if isinstance(raw, SecretStr | SecretBytes):
            out[name] = REDACTED
    dumped = model.model_dump(mode="json")
    for key, val in dumped.items():
        if key not in out:
            out[key] = REDACTED if is_secret_key(key) and val not in (None, "") else redact(val)
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


def redact_with(value: Any, patterns: Mapping[str, str]) -> Any:
    """`redact(value)`, then each extra `label -> regex` pattern replaced by `[label]` in every string:
    the configurable part of redaction (customer references, internal case numbers, ...)."""
    cleaned = redact(value)
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
