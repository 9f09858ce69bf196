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

# `name = value` / `name: value` / `"name": "value"` / `name is value`: any identifier holding a
# secret-ish word is a candidate; `secret_identifier` decides (`max_tokens: 500` is not a secret).
_PAIR = re.compile(
    r"(?P<name>[\"']?\b[A-Za-z0-9_.\-]*(?:pass|pwd|secret|key|token|credential|auth|contrase|passwort)"
    r"[A-Za-z0-9_\-]*[\"']?)"
    r"(?P<sep>\s*(?:=>|:=|=|:)\s*|\s+(?:is|was|ist|lautet|est)\s*:?\s+)"
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

# One C-level search that every finder above needs to succeed: most texts fail it and pay nothing more.
HINT = re.compile(
    r"sk-|sk_|rk_|whsec_|AKIA|ASIA|A[BCGINPR][A-Z]A[A-Z0-9]{16}|gh[pousr]_|github_pat_|gl[a-z]{1,5}-|xox|xapp-"
    r"|AIza|SG\.|npm_|pypi-|hooks\.slack|-----BEGIN|eyJ|Bearer|Basic|Digest|Token|Bot\s|://[^\s/@]+:[^\s@]+@"
    r"|pass|pwd|secret|key|token|credential|contrase|mot.de.passe"
    r"|[A-Za-z0-9+/]{24}",
    re.IGNORECASE,
)


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


def _pair_value(match: re.Match[str]) -> str:
    value = match.group("value")
    inner = value[1:-1] if value[:1] in "\"'" and len(value) >= 2 else value
    if not secret_identifier(match.group("name")):
        return match.group(0)
    if (
        not inner.strip()
        or is_placeholder(inner)
        or _AUTH_SCHEME_WORD.fullmatch(inner)
        or set(inner) <= {"*", "x", "X", "•", "."}
    ):
        return match.group(0)
    prose = not any(c in match.group("sep") for c in "=:>")
    # Prose ("the password is ..."): only a value that is not an ordinary word.
    if prose and (_WORDISH.fullmatch(inner) or len(inner) < 6):
        return match.group(0)
    quote = value[0] if value[:1] in "\"'" and len(value) >= 2 else ""
    return f"{match.group('name')}{match.group('sep')}{quote}{REDACTED}{quote}"


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


def redact_credentials(text: str) -> str:
    if not HINT.search(text):
        return text
    if "-----BEGIN" in text:
        text = _PRIVATE_KEY.sub(PRIVATE_KEY, text)
    if "eyJ" in text:
        text = _JWT.sub(lambda m: JWT if _is_jwt(m.group(0)) else m.group(0), text)
    text = _KEY_FORMATS.sub(API_KEY, text)
    if "hooks.slack" in text:
        text = _SLACK_WEBHOOK.sub(API_KEY, text)
    if "://" in text:
        text = _URL_CREDENTIALS.sub(lambda m: f"{m.group('head')}{REDACTED}", text)
    text = _AUTH_SCHEME.sub(_auth_value, text)
    text = _PAIR.sub(_pair_value, text)
    if "value" in text:
        text = _XML_SETTING.sub(_xml_value, text)
    return _LONG_TOKEN.sub(_long_token, text)
