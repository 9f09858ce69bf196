from __future__ import annotations

import sqlite3
from pathlib import Path

from pydantic import BaseModel, SecretStr

from legacy.crm import seed as crm_seed
from retrofit.agent.contracts import AgentTaskInput
from retrofit.redaction import REDACTED, boundary, redact, redact_text, summarize
from tests.unit.test_redaction_corpus import LOOKALIKES, SENSITIVE

NORTHWIND_SEED = Path(__file__).resolve().parents[2] / "legacy" / "sqldb" / "seed" / "northwind.sql"


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


# --- issue 12.4: what is really in legacy data ---------------------------------------------------

ISSUE_NOTE = (
    "Key sk-live-4f9a8b7c6d5e4f3a2b1c0d9e8f7a, AWS AKIAIOSFODNN7EXAMPLE, password=Hunter2Secret!, "
    "IBAN de89 3704 0044 0532 0130 00, card 4111.1111.1111.1111, call (030) 1234-5678 or "
    "555-867-5309, SSN 219-45-6789, about INV-2024-0042 for C-1006 (SO-10248, 10248) on 2024-03-01: 1,234.56"
)


def test_the_issues_note_is_redacted_and_its_ids_survive() -> None:
    out = redact_text(ISSUE_NOTE)
    for gone in (
        "sk-live",
        "AKIAIOSFODNN7EXAMPLE",
        "Hunter2Secret",
        "de89",
        "4111",
        "1234-5678",
        "867-5309",
        "219-45",
    ):
        assert gone not in out, gone
    for kept in ("INV-2024-0042", "C-1006", "SO-10248", "10248", "2024-03-01", "1,234.56"):
        assert kept in out, kept
    assert out.count("[PHONE]") == 2 and "[CARD]" in out and "[IBAN]" in out and "[NATIONAL_ID]" in out
    assert "password=[REDACTED]" in out and out.count("[API_KEY]") == 2


def test_redaction_is_idempotent_over_the_corpus() -> None:
    # The audit store redacts what writers already redacted: a second pass must change nothing.
    for sample in SENSITIVE + LOOKALIKES:
        once = boundary.redact_text(sample["text"])
        assert boundary.redact_text(once) == once == boundary.redact_text(redact_text(sample["text"]))


def test_placeholders_and_custom_labels_survive_every_finder() -> None:
    text = "[REDACTED] [API_KEY] [JWT] [PRIVATE_KEY] [SECRET] [EMAIL] [PHONE] [IBAN] [CARD] [NATIONAL_ID] [CASE_REF]"
    assert boundary.redact_text(text) == text
    assert redact_text("password: [REDACTED]") == "password: [REDACTED]"


def test_the_demo_systems_seed_data_keeps_everything_but_phones_and_emails() -> None:
    # Real records the agent works with: every id, date, amount and name survives redaction.
    records = [
        *(a.to_json() for a in crm_seed.SEED_ACCOUNTS),
        *(c.to_json() for c in crm_seed.SEED_CONTACTS),
        *(n.to_json() for n in crm_seed.SEED_NOTES),
    ]
    for record in records:
        out = boundary.redact(record)
        for key, value in record.items():
            if key in ("phone", "email", "owner_email", "created_by") and isinstance(value, str) and value:
                assert out[key] in ("[PHONE]", "[EMAIL]"), (key, value, out[key])
            else:
                assert out[key] == value, (key, value, out[key])


def test_config_snippets_keep_their_keys_and_lose_their_values() -> None:
    snippet = (
        "[database]\nhost = db.internal\nport = 5432\nuser = ledger\npassword = S3cure-Pa55\n"
        'api_key: "k3y-4f9a8b7c6d5e4f3a"\nmax_tokens = 500\n<add key="SmtpPassword" value="Winter2024!" />\n'
        "dsn = postgres://ledger:Tr0ub4dor@db.internal:5432/ledger\n"
    )
    out = redact_text(snippet)
    assert (
        "S3cure" not in out and "k3y-4f9a" not in out and "Winter2024" not in out and "Tr0ub4dor" not in out
    )
    for kept in (
        "host = db.internal",
        "port = 5432",
        "user = ledger",
        "max_tokens = 500",
        "postgres://ledger:",
    ):
        assert kept in out, kept


def test_prose_about_passwords_is_not_a_password() -> None:
    for text in ("The password is required.", "Reset the token before Friday.", "Basic information here"):
        assert redact_text(text) == text
    assert "Tr0ub4dor&3" not in redact_text("her password is Tr0ub4dor&3 since May")


def test_a_raw_start_of_agent_task_is_redacted_by_the_input_model() -> None:
    task = AgentTaskInput.model_validate(
        {"goal": "Call 555-867-5309 about C-1006, password=Hunter2Secret!", "allowed_actions": ["crm.*"]}
    )
    assert task.goal == "Call [PHONE] about C-1006, password=[REDACTED]"
    # The CLI's `start` path: only AgentTask's goal, only free text.
    raw = {"goal": "key AKIAIOSFODNN7EXAMPLE for C-1006", "allowed_actions": ["crm.*"]}
    assert boundary.redact_start_input("AgentTask", raw)["goal"] == "key [API_KEY] for C-1006"
    assert boundary.redact_start_input("CreditLimitReview", {"customer_id": "C-1006"}) == {
        "customer_id": "C-1006"
    }


def test_the_boundary_adds_formats_only_detect_secrets_knows() -> None:
    square = "sq0csp-" + "Xb3k_9fQ2-Lm8pT4vW1zYc" + "a-_7Qz3kR9sT2uV5wX8yZ1b"
    text = f"sms gateway uses '{square}'"
    assert square in redact_text(text)  # the workflow-safe finders do not know Square OAuth secrets
    assert square not in boundary.redact_text(text)
    # ... and keep the trail's own hashes: a 64-hex args hash is no secret.
    digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    assert boundary.redact_text(f'{{"args_hash": "{digest}"}}') == f'{{"args_hash": "{digest}"}}'


def test_hostile_input_sizes_finish() -> None:
    # Long runs of what the patterns look for: they must not backtrack without end (no timing
    # asserted here; bench/redaction.py measures speed). Each is a shape a note could hold.
    for text in (
        "1-" * 20_000,
        "+" + "1 " * 20_000,
        "a" * 100_000,
        "password=" * 5_000,
        "eyJ" * 10_000,
        "AKIA" * 10_000,
    ):
        assert isinstance(boundary.redact_text(text), str)


def test_northwind_legacy_phones_go_and_nothing_else_changes() -> None:
    # Real legacy data (the Northwind seed the SQL demo serves): 1990s phone formats that no
    # longer validate (`88.60.15.31`, `(5) 555-4729`) are caught by their field names, while
    # every id, date, amount and postal code (`05432-043` is a CEP, not a phone) survives.
    db = sqlite3.connect(":memory:")
    db.executescript(NORTHWIND_SEED.read_text(encoding="utf-8"))
    phones = changed = 0
    for table in ("Customers", "Suppliers", "Employees", "Shippers", "Orders", "Products", "Order Details"):
        cursor = db.execute(f'SELECT * FROM "{table}"')
        columns = [d[0] for d in cursor.description]
        for row in cursor:
            record = {k: v for k, v in zip(columns, row, strict=True) if not isinstance(v, bytes)}
            # The boundary's: the workflow-safe rules and then detect-secrets, so both are held to it.
            out = boundary.redact(record)
            for key, value in record.items():
                if key in ("Phone", "Fax", "HomePhone") and value:
                    phones += 1
                    assert out[key] == "[PHONE]", (table, key, value)
                elif out[key] != value:
                    changed += 1
                    raise AssertionError((table, key, value, out[key]))
    assert phones > 200 and changed == 0


def test_field_names_that_say_personal_number_decide_loosely_and_only_for_numbers() -> None:
    record = {
        "Phone": "88.60.15.31",
        "mobileNumber": "0171 1234567",
        "fax": "(5) 555-3745",
        "phone_type": "mobile",
        "phone_verified": True,
        "iban": "DE89 3704 0044 0532 0130 00",
        "ssn": "219456789",
        "PostalCode": "05432-043",
        "order_id": "10248",
    }
    assert redact(record) == {
        "Phone": "[PHONE]",
        "mobileNumber": "[PHONE]",
        "fax": "[PHONE]",
        "phone_type": "mobile",
        "phone_verified": True,
        "iban": "[IBAN]",
        "ssn": "[NATIONAL_ID]",
        "PostalCode": "05432-043",
        "order_id": "10248",
    }


def test_a_secret_across_the_boundarys_piece_edge_is_found() -> None:
    # Long lines go to detect-secrets in overlapping pieces; one that straddles an edge is not lost.
    square = "sq0csp-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v"
    for offset in (2000, 2040, 2046, 3800):
        text = "x " * (offset // 2) + f"'{square}' " + "y " * 2000
        assert square not in boundary.redact_text(text), offset
