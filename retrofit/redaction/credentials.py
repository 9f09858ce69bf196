"""Credentials in free text: known key formats, private key blocks, JWTs, `name=value` pairs whose
name says secret, credentials in URLs and headers, and long random-looking strings.

Workflow-safe (stdlib only): it runs inside workflows, where a secrets detector that imports an
HTTP client may not (`retrofit.redaction.boundary` adds `detect-secrets` on the activity side).
Each finder is a small candidate pattern plus a check that decides (a JWT's header must decode to
JSON naming an algorithm; a random string must have the entropy and the character mix of one).
Hex digests (32, 40, 64 or 128 hex digits) and UUIDs survive on purpose: the audit trail's own
argument and record hashes are made of them, and they name records rather than grant access.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections import Counter

from retrofit.redaction.placeholders import API_KEY, JWT, PRIVATE_KEY, REDACTED, SECRET, is_placeholder
from retrofit.redaction.secret_names import is_token_count

# Known key formats, each anchored on its vendor prefix (the prefix is what makes them findable).
_KEY_FORMATS = re.compile(
    r"(?<![\w-])(?:"
    r"sk-(?:ant-(?:api|admin)\d\d-|proj-|svcacct-|live-|test-)?[A-Za-z0-9_\-]{20,}"  # OpenAI, Anthropic
    r"|(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe secret / restricted keys
    r"|whsec_[A-Za-z0-9]{24,}"  # Stripe webhook secret
    r"|(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA)[A-Z0-9]{16}"  # AWS access key ids
    r"|gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,}"  # GitHub
    r"|gl(?:pat|dt|ptt|rt|soat|cbt|imt|ft|agent)-[A-Za-z0-9_\-]{20,}"  # GitLab
    r"|xox[abposre]-[A-Za-z0-9\-]{10,}|xapp-\d-[A-Za-z0-9\-]{10,}"  # Slack
    r"|AIza[A-Za-z0-9_\-]{35}"  # Google API keys
    r"|SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}"  # SendGrid
    r"|npm_[A-Za-z0-9]{36}|pypi-[A-Za-z0-9_\-]{50,}"  # package registries
    r"|\d{8,10}:AA[A-Za-z0-9_\-]{33}"  # Telegram bot tokens
    r")(?![\w-])"
)
_SLACK_WEBHOOK = re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/]+")

# A truncated block (no END line) is still a key: everything after BEGIN goes.
_PRIVATE_KEY = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\Z)",
    re.DOTALL,
)

# Header and payload of a JWT both start with `eyJ` (base64 of `{"`).
_JWT = re.compile(r"(?<![\w-])eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*")

# `Authorization: Bearer x`, `Basic x`, `token x` as schemes; the scheme stays, the credential goes.
_AUTH_SCHEME = re.compile(
    r"\b(?P<scheme>Bearer|Basic|Digest|Token|Bot)\s+(?P<value>[A-Za-z0-9._~+/\-]{8,}=*)"
)
# `scheme://user:password@host`: the password goes.
_URL_CREDENTIALS = re.compile(r"(?P<head>\b[a-z][a-z0-9+.\-]*://[^\s:/@]+:)(?P<value>[^\s@/]+)(?=@)")

# `name = value` / `name: value` / `"name": "value"` / `name is value`: found from the secret-ish
# word outward (a pattern that starts anywhere would try every position of every word), then
# `secret_identifier` decides on the whole name (`max_tokens: 500` is not a secret).
_PAIR_WORDS = ("pass", "pwd", "secret", "key", "token", "credential", "auth", "contrase")
_PAIR_WORD = re.compile("|".join(_PAIR_WORDS))
_PAIR_WORD_ANY_CASE = re.compile("|".join(_PAIR_WORDS), re.IGNORECASE)
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_PAIR_REST = re.compile(
    r"(?P<sep>[\"']?\s*(?:=>|:=|=|:)\s*|\s+(?:is|was|ist|lautet|est)\s*:?\s+)"
    r"(?P<value>\[[A-Z][A-Z0-9_]*\]|\"[^\"\n]*\"|'[^'\n]*'|[^\s,;&\"'<>)\]}]+)",
    re.IGNORECASE,
)
# .NET and Java config files: `<add key="SmtpPassword" value="..."/>`, `<entry name=".." value=".."/>`.
_XML_SETTING = re.compile(
    r"(?P<name>\b(?:key|name)\s*=\s*(?P<q>[\"'])(?P<setting>[^\"'\n]{1,80})(?P=q)\s+value\s*=\s*)"
    r"(?P<value>\"[^\"\n]*\"|'[^'\n]*')",
    re.IGNORECASE,
)
_SECRET_WORD = re.compile(
    r"(?<![a-z])(?:pass|pwd|auth)(?![a-z])|password|passwd|passphrase|passcode|passwort|secret|token"
    r"|credential|authorization|contrase|mot_de_passe|(?:api|access|auth|private|client|signing|encryption"
    r"|master|secret|account|service)_?key|apikey"
)
_AUTH_SCHEME_WORD = re.compile(r"Bearer|Basic|Digest|Token|Bot", re.IGNORECASE)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORDISH = re.compile(r"[A-Za-zäöüéèàñß]+")


def secret_identifier(name: str) -> bool:
    """Whether `name` (as written in text: `apiKey`, `DB_PASSWORD`, `client-secret`) names a secret."""
    words = _CAMEL.sub("_", name.strip("\"'")).lower().replace("-", "_").replace(".", "_")
    return not is_token_count(words) and bool(_SECRET_WORD.search(words))


# Random-looking strings: long runs of base64 characters with upper, lower and digits mixed in.
_LONG_TOKEN = re.compile(r"(?<![A-Za-z0-9+/=_\-])[A-Za-z0-9+/]{24,}={0,2}(?![A-Za-z0-9+/=_\-])")
_HEX_DIGEST = re.compile(r"(?:[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}|[0-9a-f]{128})", re.IGNORECASE)
_ENTROPY_BITS = 4.0

# Cheap necessary conditions, so that most texts pay for a few substring tests and nothing more
# (`in` on a string is a C-level search; one pattern of many alternatives would not be).
# Vendor prefixes end in `-` or `_` (tested for first: one `in` each); AWS and Google keys start
# with a literal `A`, which the engine finds fast.
_PREFIX_GATE = re.compile(r"(?:sk|rk|whsec|gh[pousr]|github_pat|gl[a-z]{2,6}|xox[a-z]|xapp|npm|pypi)[-_]")
_CAPITAL_A_GATE = re.compile(r"A(?:Iza|[A-Z]{3}[A-Z0-9]{16})")
_PAIR_GATE = _PAIR_WORDS
_SCHEME_GATE = ("bearer", "authoriz", "basic ")


def _may_hold_key_format(text: str) -> bool:
    if ("-" in text or "_" in text) and _PREFIX_GATE.search(text):
        return True
    return "SG." in text or ":AA" in text or bool(_CAPITAL_A_GATE.search(text))


def shannon_bits(text: str) -> float:
    counts = Counter(text)
    size = len(text)
    return -sum(n / size * math.log2(n / size) for n in counts.values())


def looks_random(token: str) -> bool:
    """A credential-like random string: not a digest, mixed classes, and the entropy of random base64."""
    body = token.rstrip("=")
    if _HEX_DIGEST.fullmatch(body) or body.isdigit() or body.isalpha():
        return False
    has_upper = any(c.isupper() for c in body)
    has_lower = any(c.islower() for c in body)
    has_digit = any(c.isdigit() for c in body)
    if not (has_upper and has_lower and has_digit):
        return False
    return shannon_bits(body) >= _ENTROPY_BITS


def _is_jwt(token: str) -> bool:
    header = token.split(".", 1)[0]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return False
    return isinstance(decoded, dict) and ("alg" in decoded or "typ" in decoded)


def _pair_value(name: str, rest: re.Match[str]) -> str | None:
    """The replacement for a pair's value, or None when it is not a secret."""
    value = rest.group("value")
    inner = value[1:-1] if value[:1] in "\"'" and len(value) >= 2 else value
    if not secret_identifier(name):
        return None
    if not inner.strip() or is_placeholder(inner) or _AUTH_SCHEME_WORD.fullmatch(inner):
        return None
    if set(inner) <= {"*", "x", "X", "•", "."}:
        return None
    prose = not any(c in rest.group("sep") for c in "=:>")
    # Prose ("the password is ..."): only a value that is not an ordinary word (a sentence's full
    # stop or comma after it is not part of it).
    if prose and (_WORDISH.fullmatch(inner.rstrip(".,")) or len(inner) < 6):
        return None
    quote = value[0] if value[:1] in "\"'" and len(value) >= 2 else ""
    return f"{quote}{REDACTED}{quote}"


def _xml_value(match: re.Match[str]) -> str:
    value = match.group("value")
    if not secret_identifier(match.group("setting")) or len(value) <= 2 or is_placeholder(value[1:-1]):
        return match.group(0)
    return f"{match.group('name')}{value[0]}{REDACTED}{value[0]}"


def _auth_value(match: re.Match[str]) -> str:
    value = match.group("value")
    # "Basic information", "Token refresh": a word after the scheme is prose, not a credential.
    if is_placeholder(value) or _WORDISH.fullmatch(value):
        return match.group(0)
    return f"{match.group('scheme')} {REDACTED}"


def _long_token(match: re.Match[str]) -> str:
    return SECRET if looks_random(match.group(0)) else match.group(0)


def redact_credentials(text: str, *, has_digits: bool = True) -> str:
    """Credentials in `text` replaced; `has_digits=False` (the caller counted) skips what needs one."""
    lowered = text.lower()
    if "-----BEGIN" in text:
        text = _PRIVATE_KEY.sub(PRIVATE_KEY, text)
    if "eyJ" in text:
        text = _JWT.sub(lambda m: JWT if _is_jwt(m.group(0)) else m.group(0), text)
    if _may_hold_key_format(text):
        text = _KEY_FORMATS.sub(API_KEY, text)
        if "hooks.slack" in text:
            text = _SLACK_WEBHOOK.sub(API_KEY, text)
    if "://" in text:
        text = _URL_CREDENTIALS.sub(lambda m: f"{m.group('head')}{REDACTED}", text)
    if any(word in lowered for word in _SCHEME_GATE):
        text = _AUTH_SCHEME.sub(_auth_value, text)
    if any(word in lowered for word in _PAIR_GATE):
        text = _redact_pairs(text)
        if "value" in lowered:
            text = _XML_SETTING.sub(_xml_value, text)
    if has_digits and len(text) >= 24:
        text = _LONG_TOKEN.sub(_long_token, text)
    return text


def _redact_pairs(text: str) -> str:
    parts: list[str] = []
    done = 0
    lowered = text.lower()
    # Lower-casing keeps positions except for a few letters (`İ`): then search the text itself.
    words = _PAIR_WORD.finditer(lowered) if len(lowered) == len(text) else _PAIR_WORD_ANY_CASE.finditer(text)
    for word in words:
        start, end = word.span()
        if start < done:
            continue
        while start > done and text[start - 1] in _NAME_CHARS:
            start -= 1
        while end < len(text) and text[end] in _NAME_CHARS:
            end += 1
        rest = _PAIR_REST.match(text, end)
        if rest is None:
            continue
        quote = text[start - 1] if start > done and text[start - 1] in "\"'" else ""
        replaced = _pair_value(quote + text[start:end], rest)
        if replaced is None:
            continue
        parts += [text[done : rest.start("value")], replaced]
        done = rest.end("value")
    parts.append(text[done:])
    return "".join(parts)
