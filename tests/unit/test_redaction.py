from __future__ import annotations

from pydantic import BaseModel, SecretStr

from retrofit.redaction import REDACTED, redact, summarize


class Login(BaseModel):
    user: str
    secret_value: SecretStr
    api_key: str | None = None
    nested: dict[str, str] = {}


def test_secret_fields_and_secret_named_keys_are_redacted() -> None:
    out = redact(
        Login(user="ops", secret_value=SecretStr("hunter2"), api_key="k-1", nested={"Password": "p"})
    )
    assert out == {
        "user": "ops",
        "secret_value": REDACTED,
        "api_key": REDACTED,
        "nested": {"Password": REDACTED},
    }


def test_plain_values_pass_and_lists_are_walked() -> None:
    data = {"customer_id": "C-1", "items": [{"token": "t"}, {"qty": 2}], "n": 1.5, "ok": True}
    assert redact(data) == {
        "customer_id": "C-1",
        "items": [{"token": REDACTED}, {"qty": 2}],
        "n": 1.5,
        "ok": True,
    }


def test_summary_is_redacted_and_bounded() -> None:
    text = summarize({"authorization": "Bearer abc", "note": "x" * 500}, limit=60)
    assert "Bearer" not in text and REDACTED in text
    assert len(text) == 60 and text.endswith("…")


def test_pii_inside_text_is_replaced() -> None:
    note = (
        "Call Anna Becker on +49 40 3190 2210 or anna.becker@nordwind.example; "
        "IBAN DE89 3704 0044 0532 0130 00, card 4111 1111 1111 1111."
    )
    out = redact({"body": note})["body"]
    assert "[EMAIL]" in out and "nordwind.example" not in out
    assert "[PHONE]" in out and "3190" not in out
    assert "[IBAN]" in out and "3704" not in out
    assert "[CARD]" in out and "4111" not in out


def test_amounts_dates_and_ids_survive() -> None:
    text = "Credit limit raised from 120000.00 to 144000.00 USD on 2026-11-28 for C-1003, order 10248."
    assert redact({"note": text}) == {"note": text}
    # A 16-digit number that fails the Luhn check is not a card.
    assert redact("ref 1234 5678 9012 3456") == "ref 1234 5678 9012 3456"
