"""Phone numbers in national and international formats.

`phonenumbers` decides. The pattern here finds candidates (digits in groups, with `+`, `00` or
parentheses allowed); a candidate is a phone number when it is written internationally (`+49 ...`,
`0044 ...`) and possible for its country, or when it is a valid number of one of `REGIONS` in that
country's national format (`(030) 1234-5678`, `020 7946 0958`, `06 12 34 56 78`), or possible in
North America and written like one (`555-867-5309`). Dates, amounts, and digits glued to an
identifier (`INV-2024-0042`, `SO-10248`) are never candidates; a bare run of digits with no
separator counts only after a label such as "tel" or "phone", since ids are far more often bare.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata

from retrofit.redaction.placeholders import PHONE
from retrofit.redaction.spans import glued, near, replace_spans

# The default region first: a national number is tried in each, in this order.
DEFAULT_REGION = "US"
REGIONS = ("US", "DE", "GB", "FR", "IT", "ES", "NL", "BE", "AT", "CH", "SE", "IE", "AU", "JP")

# A digit, then digits, parentheses and short separators (`/`, ` - `), ending on a digit; an
# extension (`ext. 12`, `x204`) may follow. Deliberately loose: `_is_phone` and phonenumbers decide.
_CANDIDATE = re.compile(
    r"(?<![\w+])\+?\(?\d(?:\d|[ \u00a0.\-/]{1,3}(?=[\d(])|\((?=\d)|\)){4,30}"
    r"(?:[ \u00a0]?(?:ext\.?|x)[ \u00a0]?\d{1,5})?"
)
_EXTENSION = re.compile(r"[ \u00a0]?(?:ext\.?|x)[ \u00a0]?\d{1,5}$")
_DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}")
# Postal codes written like short numbers: Brazil's CEP (`05432-043`), US ZIP+4 (`94105-1804`).
_POSTAL = re.compile(r"\d{5}-\d{3,4}")
_AMOUNT = re.compile(r"\d{1,3}(?:[.,']\d{3})+(?:[.,]\d{1,2})?|\d+[.,]\d{1,2}")
_NANP = re.compile(r"(?:\+?1[ .\-]?)?\(?\d{3}\)?[ .\-]?\d{3}[ .\-]\d{4}")
_LABEL = re.compile(r"\b(?:tel|phone|fon|mobil|mobile|cell|fax|call|ring|handy|telefon|téléphone|☎|📞)", re.I)

# Load every country's metadata now: phonenumbers imports it lazily, and a workflow may not import.
PhoneMetadata.load_all()

HINT = re.compile(r"\d[\d \u00a0.\-/()]{5,}\d|\+\d")


def _is_phone(text: str, start: int, end: int) -> bool:
    raw = text[start:end]
    digits = re.sub(r"\D", "", _EXTENSION.sub("", raw))
    if not 7 <= len(digits) <= 15 or glued(text, start, end):
        return False
    if _DATE.fullmatch(raw) or _AMOUNT.fullmatch(raw) or _POSTAL.fullmatch(raw):
        return False
    international = raw.startswith(("+", "00"))
    if raw.isdigit() and not international and not near(text, start, _LABEL, 25):
        return False
    return library_says_phone(raw, len(digits))


# The same numbers come by again and again (a contact's phone in the tool result, its audit record
# and the next model request): the library's verdict on a candidate is kept. Pure and bounded.
@lru_cache(maxsize=8192)
def library_says_phone(raw: str, digits: int) -> bool:
    """phonenumbers' verdict on one candidate, written as it stands in the text."""
    international = raw.startswith(("+", "00"))
    if international:
        try:
            number = phonenumbers.parse("+" + raw.removeprefix("+").removeprefix("00"), None)
        except NumberParseException:
            return False
        return phonenumbers.is_possible_number(number)
    for region in REGIONS:
        try:
            number = phonenumbers.parse(raw, region)
        except NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return True
    # Fictional and new ranges (555-01xx, 07700 900xxx) are not "valid" but are phone numbers.
    if _NANP.fullmatch(raw):
        return _possible(raw, "US")
    return raw.startswith(("0", "(0")) and digits >= 10 and any(_possible(raw, r) for r in ("GB", "DE", "FR"))


def _possible(raw: str, region: str) -> bool:
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse(raw, region))
    except NumberParseException:
        return False


def redact_phones(text: str) -> str:
    if not HINT.search(text):
        return text
    spans = []
    for match in _CANDIDATE.finditer(text):
        for start, end in _pieces(text, *match.span()):
            if _is_phone(text, start, end):
                spans.append((start, end))
    return replace_spans(text, spans, PHONE)


def _pieces(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The candidate without the dates it ran into (`2024-03-01 10248`), each piece trimmed to digits."""
    cuts = [(m.start() + start, m.end() + start) for m in _DATE.finditer(text[start:end])]
    # Bounds pair up as the stretches between the dates: (start, date 1 start), (date 1 end, ...), ...
    bounds = [start, *(edge for cut in cuts for edge in cut), end]
    pieces = []
    for piece_start, piece_end in zip(bounds[::2], bounds[1::2], strict=True):
        # The pattern may take a trailing separator or parenthesis: trim to the last digit.
        while piece_start < piece_end and not (text[piece_start].isdigit() or text[piece_start] in "+("):
            piece_start += 1
        while piece_end > piece_start and not text[piece_end - 1].isdigit():
            piece_end -= 1
        if piece_end > piece_start:
            pieces.append((piece_start, piece_end))
    return pieces
