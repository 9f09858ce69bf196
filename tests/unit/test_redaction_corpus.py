"""The labelled corpus (tests/unit/redaction_corpus, written by its generate.py): recall on secrets
and personal data, and not one identifier, date, amount or hash destroyed.

Recall counts samples: a sample is caught when none of its values is left, neither as written nor
as any 8-character stretch of its letters and digits (a phone number reformatted, half a key).
Run with `-s` to see the figures per kind.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from retrofit.redaction import boundary, redact_text

CORPUS = Path(__file__).resolve().parent / "redaction_corpus"
WINDOW = 8


def _load(name: str) -> list[dict[str, Any]]:
    lines = (CORPUS / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


SENSITIVE = _load("secrets.jsonl") + _load("personal.jsonl")
LOOKALIKES = _load("lookalikes.jsonl")


def _compact(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", text)


def leaked(value: str, output: str) -> bool:
    if value in output:
        return True
    core, out = _compact(value), _compact(output)
    return any(core[i : i + WINDOW] in out for i in range(max(1, len(core) - WINDOW + 1)))


def _caught(sample: dict[str, Any], redactor: Callable[[str], str]) -> tuple[bool, list[str]]:
    output = redactor(sample["text"])
    destroyed = [keep for keep in sample["keep"] if keep not in output]
    return not any(leaked(v, output) for v in sample["leaks"]), destroyed


def _figures(
    redactor: Callable[[str], str], samples: list[dict[str, Any]]
) -> tuple[float, Counter[str], list[str]]:
    missed: Counter[str] = Counter()
    destroyed: list[str] = []
    for sample in samples:
        caught, lost = _caught(sample, redactor)
        if not caught:
            missed[sample["kind"]] += 1
        destroyed += [f"{sample['kind']}: {keep!r} in {sample['text']!r}" for keep in lost]
    return 1 - sum(missed.values()) / len(samples), missed, destroyed


def test_the_corpus_is_large_and_labelled() -> None:
    assert len(SENSITIVE) >= 300 and len(LOOKALIKES) >= 100
    kinds = {s["kind"].split("_")[0] for s in SENSITIVE}
    assert {"openai", "aws", "jwt", "password", "phone", "iban", "card", "us", "private"} <= kinds
    assert all(s["leaks"] for s in SENSITIVE) and all(s["keep"] and not s["leaks"] for s in LOOKALIKES)


@pytest.mark.parametrize(
    ("tier", "redactor", "samples"),
    [
        ("workflow-safe", redact_text, [s for s in SENSITIVE if s["tier"] == "all"]),
        ("boundary", boundary.redact_text, SENSITIVE),
    ],
)
def test_recall_is_at_least_99_percent(
    tier: str, redactor: Callable[[str], str], samples: list[dict[str, Any]]
) -> None:
    recall, missed, destroyed = _figures(redactor, samples)
    print(f"\n{tier}: recall {recall:.2%} over {len(samples)} samples; missed by kind: {dict(missed)}")
    assert recall >= 0.99, f"{tier} recall {recall:.2%}; missed {dict(missed)}"
    # Ids in the same sentence as a secret survive too (the agent still needs "C-1006").
    assert destroyed == []


@pytest.mark.parametrize(
    ("tier", "redactor"), [("workflow-safe", redact_text), ("boundary", boundary.redact_text)]
)
def test_no_lookalike_is_destroyed(tier: str, redactor: Callable[[str], str]) -> None:
    changed = [s for s in LOOKALIKES if redactor(s["text"]) != s["text"]]
    _, _, destroyed = _figures(redactor, LOOKALIKES)
    rate = len(changed) / len(LOOKALIKES)
    print(f"\n{tier}: false positives {len(changed)}/{len(LOOKALIKES)} look-alike samples ({rate:.2%})")
    assert destroyed == []
    assert changed == []


def test_the_leak_check_would_notice_a_leak() -> None:
    # The measure itself: a reformatted number or half a key still counts as leaked.
    assert leaked("(030) 1234-5678", "call 030 12345678")
    assert leaked("sk-live-4f9a8b7c6d5e4f3a2b1c", "key sk-live-4f9a8b7c…")
    assert not leaked("(030) 1234-5678", "call [PHONE]")
    recall, missed, _ = _figures(lambda text: text, SENSITIVE[:50])
    assert recall == 0 and sum(missed.values()) == 50
