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
