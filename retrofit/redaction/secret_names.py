"""Which field names say secret (`password`, `api_key`, `Authorization`, ...): their values are
replaced whole, whatever they hold."""

from __future__ import annotations

import re
from functools import lru_cache

# `connectors/rest/body_excerpt.py` screens bodies with a copy of this pattern and checks the copy
# against `_SECRET_KEY.pattern`: change both together.
_SECRET_KEY = re.compile(
    r"(pass(word|wd)?|secret|token|api[_-]?key|apikey|authorization|credential|"
    r"private[_-]?key|session[_-]?id|cookie|signature)"
    # "auth" only as a whole word: `auth`, `basic_auth`, not `author`.
    r"|(^|[_\-.])auth($|[_\-.])",
    re.IGNORECASE,
)

# Counts of model tokens (`prompt_tokens`, `max_tokens`, ...), not credentials. Named one by one:
# `api_tokens` or `session_tokens` may well hold secrets.
_TOKEN_COUNT = re.compile(
    r"^((prompt|completion|total|max|input|output|cached|reasoning)_)?tokens$", re.IGNORECASE
)


def is_token_count(key: str) -> bool:
    return bool(_TOKEN_COUNT.search(key))


@lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    # Cached: the same few field names come by on every captured exchange.
    return bool(_SECRET_KEY.search(key)) and not _TOKEN_COUNT.search(key)
