"""The typed placeholders redaction leaves behind.

They keep the `[KIND]` form the trail, the agent's system prompt and the extra `LABEL -> regex`
patterns (`[LABEL]`) already use, so a reader (or the model) sees *what* was there, and so
redaction is idempotent: no finder matches a placeholder.
"""

from __future__ import annotations

import re

REDACTED = "[REDACTED]"  # a value whose field or `name=` says secret
API_KEY = "[API_KEY]"  # a key in a known vendor format
JWT = "[JWT]"
PRIVATE_KEY = "[PRIVATE_KEY]"
SECRET = "[SECRET]"  # a random-looking string, or what the secrets detector found
EMAIL = "[EMAIL]"
PHONE = "[PHONE]"
IBAN = "[IBAN]"
CARD = "[CARD]"
NATIONAL_ID = "[NATIONAL_ID]"

_PLACEHOLDER = re.compile(r"\[[A-Z][A-Z0-9_]{0,39}\]")


def is_placeholder(text: str) -> bool:
    return bool(_PLACEHOLDER.fullmatch(text.strip()))
