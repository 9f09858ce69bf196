"""IBANs (any case, with or without spaces) and payment card numbers (any separators).

`python-stdnum` decides: an IBAN must have its country's length and a valid mod-97 check, a card
number must pass Luhn and start like a card brand does. The patterns here only find candidates.
"""

from __future__ import annotations

import re

from stdnum import iban as stdnum_iban
from stdnum import luhn

from retrofit.redaction.placeholders import CARD, IBAN
from retrofit.redaction.spans import glued, replace_spans, sub_checked

# Country, check digits, then up to 30 letters or digits in groups of any size and spacing.
_IBAN_CANDIDATE = re.compile(r"\b[A-Za-z]{2}\d\d(?:[ \-]?[A-Za-z0-9]){11,30}\b")
# 13 to 19 digits with single spaces, dots, dashes or slashes between any of them.
_CARD_CANDIDATE = re.compile(r"(?<![\d\w])\d(?:[ .\-/]?\d){12,18}(?![\d\w])")
# Prefixes of the brands in use (Visa, Mastercard, Amex, Discover, Diners, JCB, UnionPay, Maestro,
# Mir): a Luhn-valid 16-digit record number is far less often one of these.
_CARD_BRAND = re.compile(r"4|5[1-5]|2[2-7]|3[47]|3[068]|35|6011|64[4-9]|65|62|5[06-9]|6[0-9]|220[0-4]")

HINT_IBAN = re.compile(r"[A-Za-z]{2}\d\d")

# Load the IBAN registry now: stdnum reads it from a file on first use, and a workflow may not.
stdnum_iban.is_valid("DE89370400440532013000")


def _iban_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in _IBAN_CANDIDATE.finditer(text):
        raw = match.group(0)
        # The candidate may run on into the next word ("... 0130 00 BIC"): try it shortened.
        positions = [i + 1 for i, c in enumerate(raw) if c.isalnum()]
        for cut in reversed(positions):
            if cut < 15:
                break
            if (cut == len(raw) or not raw[cut].isalnum()) and stdnum_iban.is_valid(raw[:cut]):
                spans.append((match.start(), match.start() + cut))
                break
    return spans


def _is_card(text: str, match: re.Match[str]) -> bool:
    digits = re.sub(r"\D", "", match.group(0))
    if not 13 <= len(digits) <= 19 or not _CARD_BRAND.match(digits) or glued(text, *match.span()):
        return False
    return luhn.is_valid(digits)


def redact_iban(text: str) -> str:
    if not HINT_IBAN.search(text):
        return text
    return replace_spans(text, _iban_spans(text), IBAN)


def redact_cards(text: str) -> str:
    return sub_checked(_CARD_CANDIDATE, text, CARD, _is_card)
