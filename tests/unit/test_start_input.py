"""What `retrofit start` refuses before anything is sent: each a sentence, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrofit.cli.start_input import (
    MAX_DEPTH,
    MAX_INPUT_BYTES,
    StartInputError,
    check_workflow_id,
    parse_input,
    read_input_argument,
)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{", "is not valid JSON"),
        ('{"threshold": NaN}', "NaN is not a JSON number"),
        ('{"threshold": -Infinity}', "-Infinity is not a JSON number"),
        ('{"threshold": 1e999}', "out of range"),
        ('{"goal": "\\ud800"}', "lone surrogate (U+D800)"),
        ('{"\\udfff": 1}', "(a key) is not valid Unicode"),
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), f"deeper than {MAX_DEPTH} levels"),
        ("[" * 100_000 + "]" * 100_000, "nested too deep"),
        ('{"n": ' + "9" * 5000 + "}", "not valid JSON for Temporal"),
    ],
)
def test_refused(text: str, says: str) -> None:
    with pytest.raises(StartInputError) as caught:
        parse_input(text)
    assert says in str(caught.value)
    assert "\n" not in str(caught.value)


def test_too_big_says_the_size_and_what_to_do() -> None:
    with pytest.raises(StartInputError) as caught:
        parse_input(json.dumps({"goal": "x" * (MAX_INPUT_BYTES + 1)}))
    assert "over 2.0 MB" in str(caught.value) and "pass a reference" in str(caught.value)


def test_accepted_input_comes_back_as_json() -> None:
    nested: object = "leaf"
    for _ in range(MAX_DEPTH - 2):
        nested = [nested]
    assert parse_input(json.dumps({"deep": nested, "n": 1.5, "s": "ünïcode"}))["n"] == 1.5


@pytest.mark.parametrize(
    ("workflow_id", "says"),
    [
        (" ", "empty"),
        ("a" * 1001, "at most 1000"),
        ("a\nb", "control characters"),
        ("\udc80", "lone surrogate"),
    ],
)
def test_bad_workflow_ids(workflow_id: str, says: str) -> None:
    with pytest.raises(StartInputError, match=says):
        check_workflow_id(workflow_id)


def test_a_file_over_the_limit_is_too_big_even_cut_inside_a_character(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_bytes("é".encode() * MAX_INPUT_BYTES)  # the read stops one byte into a character
    with pytest.raises(StartInputError, match=r"over 2\.0 MB"):
        read_input_argument(f"@{big}")
