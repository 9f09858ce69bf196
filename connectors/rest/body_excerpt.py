"""Short, redacted renderings of HTTP bodies for error details and the audit trail.

JSON and form bodies are parsed and passed through `retrofit.redaction.redact` (secret-named
fields are replaced); other text is scrubbed for `name=value` / `"name": "value"` pairs with a
secret name and for `Bearer`/`Basic` credentials. Everything is cut to a short excerpt: audit
records and error messages are summaries, not archives.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

import httpx

from retrofit.redaction import REDACTED, is_secret_key, redact

EXCERPT_LIMIT = 300

# A name, then `=` or `:` with optional quotes; the value is matched separately (see _scrub_pairs).
_NAME_AND_SEPARATOR = re.compile(r"""(?P<key>[A-Za-z0-9_.-]+)["']?\s*[:=]\s*(?P<quote>["']?)""")
_BARE_VALUE = re.compile(r"""[^"'&\s,;}<]+""")
_QUOTED_VALUE = {'"': re.compile(r'[^"]*'), "'": re.compile(r"[^']*")}
_CREDENTIAL = re.compile(r"\b(?P<scheme>Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)


def truncate(text: str, limit: int = EXCERPT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def excerpt_payload(value: Any, limit: int = EXCERPT_LIMIT) -> str:
    """A structured payload (what we send as JSON or form data) as redacted compact JSON."""
    # Field names first, then the text rules over the result: a free-text field can still quote
    # a credential ("message": "retry with token=...").
    return truncate(redact_text(json.dumps(redact(value), separators=(",", ":"), default=str)), limit)


def redact_text(text: str) -> str:
    """Scrub credentials out of unstructured text (HTML error pages, `key=value` dumps)."""
    text = _CREDENTIAL.sub(lambda m: f"{m.group('scheme')} {REDACTED}", text)
    return _scrub_pairs(text)


def _scrub_pairs(text: str) -> str:
    # Names are matched without their values, so a harmless name cannot swallow a secret pair
    # quoted inside its value (`"hint": "token=..."`); only a secret name's value is consumed.
    parts: list[str] = []
    done = 0
    for name in _NAME_AND_SEPARATOR.finditer(text):
        if name.start() < done or not is_secret_key(name.group("key")):
            continue
        value = _QUOTED_VALUE.get(name.group("quote"), _BARE_VALUE).match(text, name.end())
        if value is None or not value.group(0):
            continue
        parts += [text[done : name.end()], REDACTED]
        done = value.end()
    parts.append(text[done:])
    return "".join(parts)


def excerpt_content(content: bytes, content_type: str, limit: int = EXCERPT_LIMIT) -> str:
    """A body we hold as bytes (a response, or a request built by httpx), rendered by its type."""
    if not content:
        return ""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        try:
            return excerpt_payload(json.loads(content), limit)
        except ValueError:
            pass  # announced as JSON but is not: fall through to the text rules
    if media_type == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(content.decode(), keep_blank_values=True)
        except UnicodeDecodeError:
            pairs = []
        if pairs:
            return excerpt_payload(dict(pairs), limit)
    if media_type.startswith("text/") or media_type in ("application/xml", "application/problem+xml", ""):
        try:
            text = content.decode()
        except UnicodeDecodeError:
            return f"({len(content)} bytes of undecodable {media_type or 'content'})"
        # Redact before cutting, so a cut cannot split a secret out of reach of the patterns.
        return truncate(" ".join(redact_text(text).split()), limit)
    return f"({len(content)} bytes of {media_type})"


def excerpt_response(response: httpx.Response, limit: int = EXCERPT_LIMIT) -> str:
    """The response body as a short, redacted excerpt; `(empty body)` when there is none."""
    return (
        excerpt_content(response.content, response.headers.get("content-type", ""), limit) or "(empty body)"
    )
