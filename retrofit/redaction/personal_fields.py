"""Field names that say what their value is (`Phone`, `fax`, `mobile_number`, `iban`, `ssn`).

In a structured record the name is the best evidence there is: legacy systems hold numbers in
formats too old or too local for the text finders to be sure of (Northwind's French `88.60.15.31`,
an 8-digit Australian `43844108`). A value under such a name is replaced when it loosely fits:
digits and the characters numbers are written with, and enough digits to be one. Other values
under those names (`"phone_type": "mobile"`, a count, a flag) are left alone.
"""

from __future__ import annotations

import re
from functools import lru_cache

from retrofit.redaction.placeholders import CARD, IBAN, NATIONAL_ID, PHONE

# Whole words of the (snake-cased) name, so `cancellation_fee` is not a `cell` and
# `passport_expiry` is not a passport number.
_END = r"(?=$|_|number|num|no|nr)"
_KINDS = (
    (
        re.compile(
            rf"(?:^|_)(?:phone|fax|mobile|cell|tel|telephone|telefon|telefono|handy){_END}|phone{_END}"
        ),
        PHONE,
        6,
    ),
    (re.compile(r"(?:^|_)iban(?:$|_)"), IBAN, 12),
    (re.compile(rf"(?:^|_)(?:card|cc|credit_card){_END}|(?:^|_)pan(?:$|_)"), CARD, 12),
    (
        re.compile(
            rf"(?:^|_)(?:ssn|social_security(?:_number)?|national_id|tax_id|steuer_id|nino|bsn|passport{_END})(?:$|_)"
        ),
        NATIONAL_ID,
        6,
    ),
)
_NUMBER_CHARS = re.compile(r"[+(]?[\dA-Za-z][\dA-Za-z \u00a0().\-/]*(?:\s*(?:ext\.?|x)\s*\d{1,5})?")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@lru_cache(maxsize=2048)
def _kind_of(key: str) -> tuple[str, int] | None:
    words = _CAMEL.sub("_", key).lower().replace("-", "_")
    for pattern, placeholder, fewest_digits in _KINDS:
        if pattern.search(words):
            return placeholder, fewest_digits
    return None


def placeholder_for(key: str, value: str) -> str | None:
    """The placeholder for `value` under field `key`, or None when the name or the value says otherwise."""
    kind = _kind_of(key)
    if kind is None:
        return None
    placeholder, fewest_digits = kind
    if placeholder == PHONE and any(c.isalpha() for c in value.replace("ext", "").replace("x", "")):
        return None
    if sum(c.isdigit() for c in value) < fewest_digits or not _NUMBER_CHARS.fullmatch(value.strip()):
        return None
    return placeholder
