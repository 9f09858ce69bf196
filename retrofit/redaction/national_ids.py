"""National identifiers: US SSN, German tax id (IdNr), French NIR, Spanish DNI/NIE, Italian codice
fiscale, Dutch BSN, Canadian SIN, Swedish personnummer.

`python-stdnum` decides each (area and group rules for an SSN, check digits for the others). A
number whose shape is common elsewhere (nine or eleven bare digits, an SSN without dashes) also
needs its label nearby ("SSN", "Steuer-ID", "BSN", ...): without one it is more likely an order
number, and ids must survive. The UK NINO has no check digit a library verifies, so it is left
to the extra patterns a task can set.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from stdnum import luhn
from stdnum.de import idnr
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.it import codicefiscale
from stdnum.nl import bsn
from stdnum.se import personnummer
from stdnum.us import ssn

from retrofit.redaction.placeholders import NATIONAL_ID
from retrofit.redaction.spans import glued, near, replace_spans


@dataclass(frozen=True)
class _Kind:
    candidate: re.Pattern[str]
    valid: Callable[[str], bool]
    # Label that must appear just before it; None: the shape and check digits are enough.
    label: re.Pattern[str] | None = None


def _label(words: str) -> re.Pattern[str]:
    return re.compile(words, re.IGNORECASE)


_SSN_LABEL = _label(r"\bSSN|social security|soc\.? ?sec")
_KINDS = (
    # stdnum reads dashes only: `219 45 6789` is checked as `219-45-6789`.
    _Kind(re.compile(r"(?<!\d)\d{3}([- ])\d{2}\1\d{4}(?!\d)"), lambda n: ssn.is_valid(n.replace(" ", "-"))),
    _Kind(re.compile(r"(?<!\d)\d{9}(?!\d)"), ssn.is_valid, _SSN_LABEL),
    _Kind(
        re.compile(r"(?<!\d)\d{2} ?\d{3} ?\d{3} ?\d{3}(?!\d)"),
        idnr.is_valid,
        _label(r"steuer|\bidnr|identifikationsnummer|\btax ?id|\bTIN\b"),
    ),
    _Kind(
        re.compile(r"(?<![\dA-Za-z])[12] ?\d\d ?\d\d ?(?:\d\d|2[AB]) ?\d{3} ?\d{3} ?\d\d(?!\d)"), nir.is_valid
    ),
    _Kind(
        re.compile(r"(?<![\dA-Za-z])\d{8}-?[A-Za-z](?![\dA-Za-z])"),
        dni.is_valid,
        _label(r"\bDNI|\bNIF|documento"),
    ),
    _Kind(re.compile(r"(?<![\dA-Za-z])[XYZxyz]-?\d{7}-?[A-Za-z](?![\dA-Za-z])"), nie.is_valid),
    _Kind(
        re.compile(r"(?<![\dA-Za-z])[A-Za-z]{6}\d\d[A-Za-z]\d\d[A-Za-z]\d{3}[A-Za-z](?![\dA-Za-z])"),
        codicefiscale.is_valid,
    ),
    _Kind(re.compile(r"(?<!\d)\d{9}(?!\d)"), bsn.is_valid, _label(r"\bBSN|burgerservice")),
    _Kind(
        re.compile(r"(?<!\d)\d{3}[ -]?\d{3}[ -]?\d{3}(?!\d)"),
        lambda n: luhn.is_valid(re.sub(r"\D", "", n)),
        _label(r"\bSIN\b|social insurance|NAS\b"),
    ),
    _Kind(
        re.compile(r"(?<!\d)(?:\d\d)?\d{6}[-+]?\d{4}(?!\d)"), personnummer.is_valid, _label(r"personnummer")
    ),
)

HINT = re.compile(r"\d{3}|[XYZxyz]-?\d{7}")


def _spans(text: str, kind: _Kind) -> list[tuple[int, int]]:
    found = []
    for match in kind.candidate.finditer(text):
        start, end = match.span()
        if glued(text, start, end) or (kind.label is not None and not near(text, start, kind.label)):
            continue
        if kind.valid(match.group(0)):
            found.append((start, end))
    return found


# Every label above, to skip the labelled kinds at once when none is in the text.
_ANY_LABEL = _label("|".join(kind.label.pattern for kind in _KINDS if kind.label is not None))


def redact_national_ids(text: str) -> str:
    if not HINT.search(text):
        return text
    labelled = bool(_ANY_LABEL.search(text))
    for kind in _KINDS:
        if kind.label is None or labelled:
            text = replace_spans(text, _spans(text, kind), NATIONAL_ID)
    return text
