"""Short, redacted renderings of HTTP bodies for error details and the audit trail.

Two rules, applied to every body: fields with a secret *name* are replaced (structurally, by
`retrofit.redaction.redact`, at any depth), and the text rules scrub `name=value` /
`"name": "value"` pairs with a secret name and `Bearer`/`Basic`/`Token` credentials out of free
text (an HTML error page, or a JSON message such as "retry with token=..."). Everything is cut to
a short excerpt: audit records and error messages are summaries, not archives.

This runs on every captured exchange, so the common case is kept cheap: a JSON body whose text
contains no fragment of a secret name or credential scheme at all (see `_SECRET_FRAGMENTS`) is
quoted as it is, after one regex scan and without being parsed; only the others are parsed and
checked field by field. Secret-name checks are memoised (field names repeat from call to call).
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any
from urllib.parse import parse_qsl

import httpx

from retrofit import redaction
from retrofit.redaction import REDACTED, is_secret_key, redact
from retrofit.redaction import redact_text as redact_pii

EXCERPT_LIMIT = 300
# Larger bodies are described, not parsed: redacting a megabyte to keep 300 characters of it would
# cost more than the call it describes.
PARSE_LIMIT = 256 * 1024

# A name, then `=` or `:` with optional quotes; the value is matched separately (see _scrub_pairs).
# The lookbehind starts names only where a run of name characters starts: without it the engine
# retries from every character of a long word, which is quadratic.
_NAME_AND_SEPARATOR = re.compile(
    r"""(?<![A-Za-z0-9_.-])(?P<key>[A-Za-z0-9_.-]+)["']?\s*[:=]\s*(?P<quote>["']?)"""
)
_NAMES = re.compile(r"""(?<![A-Za-z0-9_.-])([A-Za-z0-9_.-]+)["']?\s*[:=]""")
_BARE_VALUE = re.compile(r"""[^"'&\s,;}<]+""")
_QUOTED_VALUE = {'"': re.compile(r'[^"]*'), "'": re.compile(r"[^']*")}
_CREDENTIAL = re.compile(r"\b(?P<scheme>Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)

# Every word `redaction.is_secret_key` looks for contains one of these (`api_key` and `private-key`
# contain "key", `authorization` and the whole word `auth` contain "auth"), and so does every
# credential scheme `_CREDENTIAL` matches. A text in which none occurs, with no escape sequence
# that could spell one, has no secret-named field at any depth and nothing the text rules would
# change: it can be quoted without being parsed. False alarms ("keyboard", "passenger") only send
# a body down the exact path. Matched on the lower-cased text (a case-insensitive regex costs ten
# times as much), grouped by first letter so the regex engine can skip most positions at once.
_SECRET_FRAGMENTS = re.compile(
    r"auth|b(?:asic|earer)|c(?:ookie|redential)|key|pass|s(?:ecret|ession|ignature)|token"
)
# The only characters outside ASCII that IGNORECASE patterns (as `is_secret_key`'s) equate with an
# ASCII letter: İ and ı with i, ſ with s, the Kelvin sign with k. `str.lower` does not map them all
# to those letters, so a text holding one takes the exact path.
_LETTER_LOOKALIKES = "\u0130\u0131\u017f\u212a"
# The is_secret_key pattern the list above was written against. If it changes, the shortcut turns
# itself off (every body takes the exact path) until someone checks the list and updates this.
_SCREENED_SECRET_KEY_PATTERN = (
    r"(pass(word|wd)?|secret|token|api[_-]?key|apikey|authorization|credential|"
    r"private[_-]?key|session[_-]?id|cookie|signature)"
    r"|(^|[_\-.])auth($|[_\-.])"
)
_SCREEN_IS_SOUND = redaction._SECRET_KEY.pattern == _SCREENED_SECRET_KEY_PATTERN


def truncate(text: str, limit: int = EXCERPT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@functools.lru_cache(maxsize=4096)
def _secret_name(name: str) -> bool:
    return is_secret_key(name)


def redact_text(text: str) -> str:
    """Scrub credentials out of unstructured text (HTML error pages, `key=value` dumps)."""
    # The membership tests are exact shortcuts: neither pattern can match without what they look for.
    lowered = text.lower()
    if "bearer" in lowered or "basic" in lowered or "token" in lowered:
        text = _CREDENTIAL.sub(lambda m: f"{m.group('scheme')} {REDACTED}", text)
    if "=" in text or ":" in text:
        text = _scrub_pairs(text)
    return text


def _scrub_pairs(text: str) -> str:
    # Most texts name nothing secret: find that out with one C-level pass before walking matches.
    if not any(map(_secret_name, _NAMES.findall(text))):
        return text
    # Names are matched without their values, so a harmless name cannot swallow a secret pair
    # quoted inside its value (`"hint": "token=..."`); only a secret name's value is consumed.
    parts: list[str] = []
    done = 0
    for name in _NAME_AND_SEPARATOR.finditer(text):
        if name.start() < done or not _secret_name(name.group("key")):
            continue
        value = _QUOTED_VALUE.get(name.group("quote"), _BARE_VALUE).match(text, name.end())
        if value is None or not value.group(0):
            continue
        parts += [text[done : name.end()], REDACTED]
        done = value.end()
    parts.append(text[done:])
    return "".join(parts)


def excerpt_payload(value: Any, limit: int = EXCERPT_LIMIT) -> str:
    """A parsed JSON or form payload as redacted compact JSON."""
    if _has_secret_name(value):
        value = redact(value)
    # Redact before cutting, so a cut cannot split a secret out of reach of the text rules.
    return truncate(
        redact_text(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)), limit
    )


def _has_secret_name(value: Any) -> bool:
    if isinstance(value, dict):
        return any(map(_secret_name, map(str, value))) or any(
            _has_secret_name(v) for v in value.values() if isinstance(v, dict | list)
        )
    if isinstance(value, list):
        return any(_has_secret_name(v) for v in value if isinstance(v, dict | list))
    return False


def _excerpt_json(content: bytes, limit: int) -> str | None:
    """The JSON body's excerpt, or None when it is not JSON after all."""
    clean = _clean_text(content)
    if clean is not None:
        # No secret-named field can be in it, so parsing it (a malformed or duplicate-keyed body
        # included) could not change what is shown: quote it, with PII in the text still replaced.
        return truncate(redact_pii(" ".join(clean.split())), limit)
    try:
        value = json.loads(content, object_pairs_hook=_refuse_duplicate_keys)
    except _DuplicateKeys:
        # Parsing keeps the last of duplicate keys, so the text would show values the checks below
        # never saw: describe such a body instead of quoting it.
        return f"({len(content)} bytes of JSON with duplicate keys)"
    except ValueError:
        return None
    # The body's own text is the excerpt when nothing in it needs redacting: no secret-named field
    # at any depth, and no string value the text rules would change. Checking that on the parsed
    # body is much cheaper than scanning the whole text; `\u` escapes (which could spell a secret
    # name) and non-UTF-8 encodings take the structural path.
    if _has_secret_name(value) or _text_rules_apply(value) or b"\\u" in content:
        return excerpt_payload(value, limit)
    try:
        text = content.decode()
    except UnicodeDecodeError:  # UTF-16/32 JSON, rare but legal
        return excerpt_payload(value, limit)
    return truncate(" ".join(text.split()), limit)


def _clean_text(content: bytes) -> str | None:
    """The body as text if it holds no fragment of a secret name or credential, else None."""
    if not _SCREEN_IS_SOUND or b"\\" in content:  # an escape (`\u0074oken`) could spell a name
        return None
    try:
        text = content.decode()
    except UnicodeDecodeError:
        return None
    if not text.isascii() and any(char in text for char in _LETTER_LOOKALIKES):
        return None
    return None if _SECRET_FRAGMENTS.search(text.lower()) else text


class _DuplicateKeys(ValueError):
    pass


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    parsed = dict(pairs)
    if len(parsed) != len(pairs):
        raise _DuplicateKeys
    return parsed


def _text_rules_apply(value: Any) -> bool:
    if isinstance(value, str):
        return redact_text(value) != value
    if isinstance(value, dict):
        return any(_text_rules_apply(v) for v in value.values() if isinstance(v, str | dict | list))
    if isinstance(value, list):
        return any(_text_rules_apply(v) for v in value if isinstance(v, str | dict | list))
    return False


def excerpt_content(content: bytes, content_type: str, limit: int = EXCERPT_LIMIT) -> str:
    """A body we hold as bytes (a response, or a request built by httpx), rendered by its type."""
    if not content:
        return ""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if len(content) > PARSE_LIMIT:
        return f"({len(content)} bytes of {media_type or 'content'})"
    if media_type == "application/json" or media_type.endswith("+json"):
        excerpt = _excerpt_json(content, limit)
        if excerpt is not None:
            return excerpt
        # Announced as JSON but is not: the text rules below still apply.
    if media_type == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(content.decode(), keep_blank_values=True)
        except UnicodeDecodeError:
            pairs = []
        if pairs:
            return excerpt_payload(dict(pairs), limit)
    if media_type.startswith("text/") or media_type in ("application/json", "application/xml", ""):
        try:
            text = content.decode()
        except UnicodeDecodeError:
            return f"({len(content)} bytes of undecodable {media_type or 'content'})"
        return truncate(" ".join(redact_text(text).split()), limit)
    return f"({len(content)} bytes of {media_type})"


def excerpt_response(response: httpx.Response, limit: int = EXCERPT_LIMIT) -> str:
    """The response body as a short, redacted excerpt; `(empty body)` when there is none."""
    return (
        excerpt_content(response.content, response.headers.get("content-type", ""), limit) or "(empty body)"
    )
