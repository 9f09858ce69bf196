"""Redaction of secrets and personal data before anything is stored, logged, summarised or sent
to a model.

Workflow-safe (stdlib, pydantic, `phonenumbers`, `python-stdnum`; no I/O): it runs inside
workflows as well as activities. Field names that say secret and `SecretStr` values become
`[REDACTED]`; inside any string, credentials (known key formats, private keys, JWTs, `name=value`
pairs, random-looking strings), e-mail addresses, IBANs, card numbers, national ids and phone
numbers become typed placeholders (`[API_KEY]`, `[JWT]`, `[EMAIL]`, `[IBAN]`, `[CARD]`,
`[NATIONAL_ID]`, `[PHONE]`, ...). Identifiers the agent works with (`INV-2024-0042`, `C-1006`,
`SO-10248`, dates, amounts, UUIDs, hex digests) survive.

Activities, the audit store and the CLI use `retrofit.redaction.boundary`, which adds the
`detect-secrets` plugins on top (they import an HTTP client, so workflows cannot).

    credentials   key formats, private keys, JWTs, secret pairs, entropy
    payment       IBAN and card numbers
    national_ids  SSN and other national identifiers
    phones        national and international phone numbers
    text          the free-text pipeline and its cheap pre-checks
    structured    values, models, summaries, extra patterns
    boundary      the same with detect-secrets, for activities, the audit store and the CLI
"""

from __future__ import annotations

from retrofit.redaction.placeholders import REDACTED
from retrofit.redaction.secret_names import _SECRET_KEY, is_secret_key
from retrofit.redaction.structured import check_patterns, redact, redact_using, redact_with, summarize
from retrofit.redaction.text import redact_text

__all__ = [
    "REDACTED",
    "_SECRET_KEY",
    "check_patterns",
    "is_secret_key",
    "redact",
    "redact_text",
    "redact_using",
    "redact_with",
    "summarize",
]
