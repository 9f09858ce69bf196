"""Writes the labelled redaction corpus (deterministic: a fixed seed; commit the output).

    .venv/bin/python tests/unit/redaction_corpus/generate.py

Three files, one JSON object a line:
- secrets.jsonl    credentials and tokens in their real shapes, in config snippets, headers and prose
- personal.jsonl   phone numbers of many countries, IBANs (valid check digits), cards of several
                   brands (Luhn-valid), SSNs and other national ids, e-mail addresses
- lookalikes.jsonl identifiers, dates, amounts, versions and hashes that must survive

Each sample: `kind`, `text`, `leaks` (what must be gone after redaction) and `keep` (what must
still be there, word for word). `tier` is "boundary" for formats only the activity-side
secrets detector knows (the workflow-safe finders are not expected to catch them).
Numbers are built with the libraries' own rules (check digits computed here with stdlib
arithmetic, phone numbers from phonenumbers' example numbers with their last digits varied and
kept only when still valid), so they are real shapes, not random digit strings.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import string
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from stdnum import iban as stdnum_iban
from stdnum.de import idnr
from stdnum.es import nie
from stdnum.fr import nir
from stdnum.iso7064 import mod_11_10
from stdnum.it import codicefiscale
from stdnum.nl import bsn
from stdnum.us import ssn

HERE = Path(__file__).resolve().parent
SEED = 20261207
ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"

Sample = dict[str, Any]


def sample(
    kind: str, text: str, leaks: list[str], keep: list[str] | None = None, tier: str = "all"
) -> Sample:
    for value in [*leaks, *(keep or [])]:
        assert value in text, (kind, value, text)
    return {"kind": kind, "text": text, "leaks": leaks, "keep": keep or [], "tier": tier}


class Corpus:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def chars(self, alphabet: str, size: int) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(size))

    def pick(self, options: list[str] | tuple[str, ...]) -> str:
        return self.rng.choice(options)

    def context_id(self) -> str:
        return self.pick(
            ["C-1006", "A-2006", "INV-2024-0042", "SO-10248", "CT-3014", "INV-10008", "PO-2024-000123"]
        )

    # --- secrets -------------------------------------------------------------------------------

    def openai_key(self) -> str:
        kind = self.rng.randrange(4)
        if kind == 0:
            return "sk-" + self.chars(ALNUM, 48)
        if kind == 1:
            return "sk-proj-" + self.chars(B64URL, 74) + "T3BlbkFJ" + self.chars(B64URL, 74)
        if kind == 2:
            return "sk-live-" + self.chars(ALNUM, 32)
        return "sk-svcacct-" + self.chars(B64URL, 64)

    def anthropic_key(self) -> str:
        return "sk-ant-api03-" + self.chars(B64URL, 93) + "AA"

    def stripe_key(self) -> str:
        return self.pick(["sk_live_", "sk_test_", "rk_live_"]) + self.chars(ALNUM, self.rng.choice([24, 99]))

    def aws_key_id(self) -> str:
        return self.pick(["AKIA", "ASIA"]) + self.chars(string.ascii_uppercase + "234567", 16)

    def aws_secret(self) -> str:
        return self.chars(B64, 40)

    def github_token(self) -> str:
        if self.rng.random() < 0.7:
            return self.pick(["ghp_", "gho_", "ghs_", "ghu_"]) + self.chars(ALNUM, 36)
        return "github_pat_" + self.chars(ALNUM, 22) + "_" + self.chars(ALNUM, 59)

    def gitlab_token(self) -> str:
        return "glpat-" + self.chars(B64URL, 20)

    def slack_token(self) -> str:
        digits = string.digits
        return (
            f"{self.pick(['xoxb', 'xoxp', 'xoxa'])}-{self.chars(digits, 12)}-{self.chars(digits, 13)}-"
            + self.chars(ALNUM, 24)
        )

    def google_key(self) -> str:
        return "AIza" + self.chars(B64URL, 35)

    def jwt(self) -> str:
        header = {"alg": self.pick(["HS256", "RS256", "ES256"]), "typ": "JWT"}
        claims = {
            "sub": f"user-{self.rng.randrange(10_000)}",
            "iat": 1_700_000_000 + self.rng.randrange(10_000_000),
            "scope": self.pick(["crm.read", "ledger.write", "openid profile"]),
        }

        def part(obj: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

        signing_input = f"{part(header)}.{part(claims)}"
        key = self.chars(ALNUM, 32).encode()
        sig = base64.urlsafe_b64encode(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())
        return f"{signing_input}.{sig.rstrip(b'=').decode()}"

    def private_key(self) -> str:
        label = self.pick(["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY"])
        lines = [self.chars(B64, 64) for _ in range(self.rng.randrange(3, 8))]
        return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----"

    def password(self) -> str:
        words = ["Hunter", "Sommer", "Winter", "Falcon", "Orange", "Kaffee", "Dragon", "Passat", "Ledger"]
        return (
            self.pick(words)
            + str(self.rng.randrange(10, 9999))
            + self.pick(["!", "#", "$", "%", "&", "?", "*"])
        )

    def secrets(self) -> Iterator[Sample]:
        formats: list[tuple[str, Callable[[], str]]] = [
            ("openai_key", self.openai_key),
            ("anthropic_key", self.anthropic_key),
            ("stripe_key", self.stripe_key),
            ("aws_access_key_id", self.aws_key_id),
            ("github_token", self.github_token),
            ("gitlab_token", self.gitlab_token),
            ("slack_token", self.slack_token),
            ("google_api_key", self.google_key),
            ("telegram_bot_token", lambda: f"{self.rng.randrange(10**8, 10**9)}:AA{self.chars(B64URL, 33)}"),
        ]
        prose = [
            "Customer {id} sent their key {v} in the ticket, please rotate it.",
            "CRM note on {id}: integration uses {v} for the nightly sync.",
            "export API_KEY={v}  # set by the vendor for {id}",
            '{{"customer": "{id}", "integration_key": "{v}"}}',
            "Found in attachment for {id}:\n  key: {v}\n",
            "curl -H 'X-Api-Key: {v}' https://api.example/v1/orders?customer={id}",
        ]
        for kind, make in formats:
            for _ in range(9):
                value = make()
                cid = self.context_id()
                yield sample(kind, self.pick(prose).format(id=cid, v=value), [value], [cid])
        yield sample(
            "openai_key",
            "Key from the issue: sk-live-4f9a8b7c6d5e4f3a2b1c0d9e8f7a",
            ["sk-live-4f9a8b7c6d5e4f3a2b1c0d9e8f7a"],
        )
        yield sample(
            "aws_access_key_id", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE", ["AKIAIOSFODNN7EXAMPLE"]
        )
        for _ in range(8):
            key_id, secret = self.aws_key_id(), self.aws_secret()
            text = f"[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\nregion = eu-central-1\n"
            yield sample("aws_credentials_file", text, [key_id, secret], ["eu-central-1"])
        for _ in range(10):
            token = self.jwt()
            cid = self.context_id()
            text = self.pick(
                [
                    "Authorization: Bearer {t}",
                    "session for {id}: {t}",
                    '{{"id_token": "{t}", "customer": "{id}"}}',
                    "The portal login for {id} works with token {t} until Friday.",
                ]
            ).format(t=token, id=cid)
            yield sample("jwt", text, [token], [cid] if cid in text else [])
        for _ in range(6):
            key = self.private_key()
            yield sample("private_key", f"Attached to contact note:\n{key}\nthanks", [key.splitlines()[2]])
        pw_templates = [
            "password={p}",
            "db.password = {p}",
            "DB_PASSWORD: {p}",
            '{{"user": "ops", "password": "{p}"}}',
            "spring.datasource.password={p}",
            "smtp:\n  user: alerts@{dom}\n  password: '{p}'\n",
            "secret: {p}",
            'client_secret = "{p}"',
            "api_key={p}",
            "Passwort: {p}",
            "The vendor portal password is {p} (set by Jonas for {id}).",
            "Her password was {p}, she asked us to reset it for {id}.",
            "Zugang für {id}: das Passwort lautet {p}",
            "postgres://app:{p}@db.internal:5432/ledger",
            '<add key="SmtpPassword" value="{p}" />',
        ]
        for i in range(45):
            pw = "Hunter2Secret!" if i == 0 else self.password()
            cid = self.context_id()
            tmpl = pw_templates[i % len(pw_templates)]
            text = tmpl.format(p=pw, id=cid, dom="northwind.example")
            yield sample("password_pair", text, [pw], [cid] if "{id}" in tmpl else [])
        for _ in range(6):
            token = self.chars(ALNUM, 40)
            yield sample(
                "bearer_token", f"GET /v1/customers\nAuthorization: Bearer {token}\nAccept: */*", [token]
            )
        for _ in range(8):
            blob = self.chars(B64, self.rng.randrange(32, 48))
            cid = self.context_id()
            yield sample(
                "high_entropy", f"Vendor gave {cid} the access code {blob} for the SFTP drop.", [blob], [cid]
            )
        # Formats only the boundary's detect-secrets plugins know.
        boundary_only = [
            ("twilio_key", lambda: "SK" + self.chars(string.hexdigits.lower()[:16], 32)),
            ("square_oauth_secret", lambda: "sq0csp-" + self.chars(B64URL, 43)),
            (
                "mailchimp_key",
                lambda: (
                    self.chars(string.hexdigits.lower()[:16], 32) + "-us" + str(self.rng.randrange(1, 20))
                ),
            ),
        ]
        for kind, make in boundary_only:
            for _ in range(3):
                value = make()
                cid = self.context_id()
                text = self.pick(["sms gateway for {id} uses '{v}'", '{{"account": "{id}", "hook": "{v}"}}'])
                yield sample(kind, text.format(id=cid, v=value), [value], [cid], tier="boundary")

    # --- personal data --------------------------------------------------------------------------

    def phone(self, region: str, kind: PhoneNumberType) -> phonenumbers.PhoneNumber | None:
        example = phonenumbers.example_number_for_type(region, kind)
        if example is None:
            return None
        for _ in range(20):
            national = str(example.national_number)
            varied = national[:-3] + self.chars(string.digits, 3)
            number = phonenumbers.parse("+" + str(example.country_code) + varied, None)
            if phonenumbers.is_valid_number(number):
                return number
        return example

    def personal(self) -> Iterator[Sample]:
        regions = ["US", "CA", "DE", "GB", "FR", "IT", "ES", "NL", "BE", "AT", "CH", "SE", "IE", "AU", "JP",
                   "PL", "PT", "DK", "NO", "FI", "CZ", "BR", "MX", "IN", "SG", "ZA", "NZ", "GR", "HU", "RO"]  # fmt: skip
        national_regions = [
            "US",
            "DE",
            "GB",
            "FR",
            "IT",
            "ES",
            "NL",
            "BE",
            "AT",
            "CH",
            "SE",
            "IE",
            "AU",
            "JP",
        ]
        phone_prose = [
            "Call {name} on {n} about {id}.",
            "Kontakt: {name}, Tel. {n}",
            "{name} asked to be called back at {n} before Friday ({id}).",
            '{{"contact": "{name}", "phone": "{n}", "account": "{id}"}}',
            "Mobile: {n}",
        ]
        names = [
            "Anna Becker",
            "Oliver Hughes",
            "Giulia Rossi",
            "Erik Lindqvist",
            "Femke de Vries",
            "Rui Carvalho",
        ]
        for region in regions:
            for kind in (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE):
                number = self.phone(region, kind)
                if number is None:
                    continue
                fmt = self.pick([PhoneNumberFormat.INTERNATIONAL, PhoneNumberFormat.E164])
                text_n = phonenumbers.format_number(number, fmt)
                cid = self.context_id()
                text = self.pick(phone_prose).format(name=self.pick(names), n=text_n, id=cid)
                yield sample(f"phone_international_{region}", text, [text_n], [cid] if cid in text else [])
        for region in national_regions:
            for kind in (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE):
                number = self.phone(region, kind)
                if number is None:
                    continue
                text_n = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
                cid = self.context_id()
                text = self.pick(phone_prose).format(name=self.pick(names), n=text_n, id=cid)
                yield sample(f"phone_national_{region}", text, [text_n], [cid] if cid in text else [])
        handwritten = [
            "(030) 1234-5678", "555-867-5309", "(212) 555-0148", "212.555.0148", "+1-800-555-0199",
            "0171 1234567", "030/12345678", "020 7946 0958", "07700 900123", "06 12 34 56 78",
            "0044 20 7946 0958", "+49 (0)30 1234567", "+44 (0)20 7946 0958", "+1 (312) 555-0148",
            "089 / 123 456 78", "0049 89 1234567", "+33 1 42 68 53 00", "+39 051 648 2210",
            "(0) 40 3190 2210 ext. 12", "1-800-555-0123", "212-555-0148 x204", "+41 27 966 4410",
        ]  # fmt: skip
        for text_n in handwritten:
            cid = self.context_id()
            text = f"Customer {cid} phone: {text_n}, after 3 pm."
            # The core digits must be gone; the grouping may differ from what was found.
            yield sample("phone_handwritten", text, [text_n], [cid])
        yield sample("phone_labelled_bare", "Tel: 03012345678 (Zentrale)", ["03012345678"])
        yield sample("phone_labelled_bare", "phone 2125550148", ["2125550148"])
        yield from self.ibans()
        yield from self.cards()
        yield from self.national_ids()
        for _ in range(8):
            local = self.pick(["anna.becker", "o.hughes", "j.morales", "ap-team", "mira_schulz"])
            email = f"{local}{self.rng.randrange(100)}@{self.pick(['nordwind.example', 'bluefin-marine.example'])}"
            yield sample(
                "email", f"Forward the statement for {self.context_id()} to {email} please.", [email]
            )

    def iban(self, country: str) -> str:
        layouts = {
            "DE": "n18", "GB": "a4n14", "FR": "n23", "ES": "n20", "IT": "a1n22", "NL": "a4n10",
            "BE": "n12", "AT": "n16", "CH": "n17", "SE": "n20", "IE": "a4n14", "PL": "n24",
            "PT": "n21", "DK": "n14", "FI": "n14", "NO": "n11", "LU": "n16", "CZ": "n20",
            "HU": "n24", "GR": "n23",
        }  # fmt: skip
        for _ in range(500):
            bban = ""
            layout = layouts[country]
            while layout:
                kind, layout = layout[0], layout[1:]
                count = ""
                while layout and layout[0].isdigit():
                    count, layout = count + layout[0], layout[1:]
                bban += self.chars(string.ascii_uppercase if kind == "a" else string.digits, int(count))
            check = 98 - int("".join(str(int(c, 36)) for c in bban + country + "00")) % 97
            candidate = f"{country}{check:02d}{bban}"
            # stdnum also checks national check digits (FR, ES, IT, BE, ...): keep only what it accepts.
            if stdnum_iban.is_valid(candidate):
                return candidate
        raise RuntimeError(f"no valid IBAN for {country}")

    def ibans(self) -> Iterator[Sample]:
        countries = ["DE", "GB", "FR", "ES", "IT", "NL", "BE", "AT", "CH", "SE", "IE", "PL", "PT", "DK", "FI",
                     "NO", "LU", "CZ", "HU", "GR"]  # fmt: skip
        for country in countries:
            for style in ("grouped", "compact", "lower"):
                try:
                    value = self.iban(country)
                except RuntimeError:
                    continue
                shown = " ".join(value[i : i + 4] for i in range(0, len(value), 4))
                if style == "compact":
                    shown = value
                elif style == "lower":
                    shown = shown.lower() if self.rng.random() < 0.5 else value.lower()
                cid = self.context_id()
                text = self.pick(
                    [
                        "Please pay {id} to IBAN {v}.",
                        "Bankverbindung: {v} (BIC COBADEFFXXX), Kunde {id}",
                        '{{"customer": "{id}", "iban": "{v}"}}',
                        "new bank account for {id}: {v}",
                    ]
                ).format(v=shown, id=cid)
                yield sample(f"iban_{country}", text, [shown], [cid])

    def card(self, prefix: str, length: int) -> str:
        body = prefix + self.chars(string.digits, length - len(prefix) - 1)
        total = 0
        for index, char in enumerate(reversed(body)):
            value = int(char)
            if index % 2 == 0:
                value = value * 2 - 9 if value > 4 else value * 2
            total += value
        return body + str((10 - total % 10) % 10)

    def cards(self) -> Iterator[Sample]:
        brands = [("4", 16), ("4", 13), ("51", 16), ("55", 16), ("2221", 16), ("2720", 16), ("34", 15), ("37", 15),
                  ("6011", 16), ("65", 16), ("35", 16), ("36", 14), ("62", 16), ("6759", 19)]  # fmt: skip
        separators = ["", " ", "-", ".", "/"]
        for prefix, length in brands:
            for sep in separators:
                digits = self.card(prefix, length)
                if length == 15:
                    groups = [digits[:4], digits[4:10], digits[10:]]
                else:
                    groups = [digits[i : i + 4] for i in range(0, length, 4)]
                shown = sep.join(groups)
                cid = self.context_id()
                yield sample(
                    f"card_{prefix}_{length}",
                    f"Customer {cid} paid with card {shown}, exp 09/27.",
                    [shown],
                    [cid],
                )
        yield sample("card_issue", "card on file: 4111.1111.1111.1111", ["4111.1111.1111.1111"])

    def national_ids(self) -> Iterator[Sample]:
        def valid(make: Callable[[], str], check: Callable[[str], bool]) -> str:
            for _ in range(2000):
                value = make()
                if check(value):
                    return value
            raise RuntimeError("no valid number")

        digits = string.digits
        for i in range(20):
            number = valid(lambda: self.chars(digits, 9), ssn.is_valid)
            dashed = f"{number[:3]}-{number[3:5]}-{number[5:]}"
            shown = [dashed, f"{number[:3]} {number[3:5]} {number[5:]}", f"SSN {number}"][i % 3]
            value = shown.removeprefix("SSN ")
            text = self.pick(["Applicant SSN: {v}", "social security number {v} on file", "ssn={v}"]).format(
                v=shown
            )
            yield sample("us_ssn", text, [value])
        for _ in range(6):
            number = valid(
                lambda: (
                    (body := self.pick("123456789") + self.chars(digits, 9))
                    + mod_11_10.calc_check_digit(body)
                ),
                idnr.is_valid,
            )
            shown = f"{number[:2]} {number[2:5]} {number[5:8]} {number[8:]}"
            yield sample("de_idnr", f"Steuer-IdNr. des Geschäftsführers: {shown}", [shown])
        for _ in range(6):
            body = (
                self.pick("12")
                + self.chars(digits, 2)
                + f"{self.rng.randrange(1, 13):02d}"
                + "75"
                + self.chars(digits, 6)
            )
            key = 97 - int(body) % 97
            number = f"{body}{key:02d}"
            if not nir.is_valid(number):
                continue
            shown = f"{number[0]} {number[1:3]} {number[3:5]} {number[5:7]} {number[7:10]} {number[10:13]} {number[13:]}"
            yield sample("fr_nir", f"N° de sécurité sociale : {shown}", [shown])
        for _ in range(4):
            number = valid(
                lambda: self.pick("XYZ") + self.chars(digits, 7) + self.pick(string.ascii_uppercase),
                nie.is_valid,
            )
            yield sample("es_nie", f"NIE del cliente {number}, Valencia", [number])
        for _ in range(4):
            body = self.chars(string.ascii_uppercase, 6) + self.chars(digits, 2) + self.pick("ABCDEHLMPRST")
            body += f"{self.rng.randrange(1, 29):02d}" + self.pick("ABCDEFGHLMZ") + self.chars(digits, 3)
            number = body + codicefiscale.calc_check_digit(body)
            yield sample("it_codice_fiscale", f"Codice fiscale: {number}", [number])
        for _ in range(4):
            number = valid(lambda: self.chars(digits, 9), bsn.is_valid)
            yield sample("nl_bsn", f"BSN van de klant: {number}", [number])

    # --- look-alikes that must survive ----------------------------------------------------------

    def lookalikes(self) -> Iterator[Sample]:
        r = self.rng
        for _ in range(25):
            inv = self.pick(
                [
                    f"INV-{r.randrange(2019, 2027)}-{r.randrange(1, 9999):04d}",
                    f"INV-{r.randrange(10000, 99999)}",
                ]
            )
            cust = f"C-{r.randrange(1000, 1100)}"
            order = f"SO-{r.randrange(10000, 99999)}"
            amount = f"{r.randrange(1, 999):,}.{r.randrange(100):02d}"
            day = f"{r.randrange(2019, 2027)}-{r.randrange(1, 13):02d}-{r.randrange(1, 29):02d}"
            text = f"Invoice {inv} for {cust} (order {order}) of {amount} EUR is due {day}."
            yield sample("invoice_line", text, [], [inv, cust, order, amount, day])
        for _ in range(15):
            order = str(r.randrange(10000, 99999))
            qty = str(r.randrange(1, 500))
            sku = self.pick([f"SKU-{self.chars(string.ascii_uppercase, 2)}-{r.randrange(1000, 9999)}",
                             f"WID-{r.randrange(100, 999)}-{self.pick(['RED', 'BLU', 'GRN'])}",
                             f"{self.chars(string.ascii_uppercase, 3)}{r.randrange(100000, 999999)}"])  # fmt: skip
            yield sample("order_line", f"Order {order}: {qty} x {sku} shipped", [], [order, sku, f"{qty} x"])
        for _ in range(15):
            stamp = f"{r.randrange(2019, 2027)}-{r.randrange(1, 13):02d}-{r.randrange(1, 29):02d}T{r.randrange(24):02d}:{r.randrange(60):02d}:{r.randrange(60):02d}"
            stamp += self.pick(["Z", "+00:00", f".{r.randrange(10**6):06d}+00:00", "+01:00"])
            eu = f"{r.randrange(1, 29):02d}.{r.randrange(1, 13):02d}.{r.randrange(2019, 2027)}"
            us = f"{r.randrange(1, 13):02d}/{r.randrange(1, 29):02d}/{r.randrange(2019, 2027)}"
            yield sample(
                "timestamps", f"created_at={stamp}; Lieferdatum {eu}; ship date {us}", [], [stamp, eu, us]
            )
        for _ in range(15):
            amounts = [
                f"{r.randrange(1000, 99_999_999):,}.{r.randrange(100):02d}",
                f"{r.randrange(100_000, 9_999_999)}.00",
                f"{r.randrange(1, 999)}.{r.randrange(100, 999)}.{r.randrange(100, 999)},{r.randrange(100):02d}",
                f"${r.randrange(1, 99)},{r.randrange(100, 999)},{r.randrange(100, 999)}.{r.randrange(100):02d}",
            ]
            text = f"Credit limit {amounts[0]} USD, exposure {amounts[1]}, Saldo {amounts[2]} EUR, total {amounts[3]}"
            yield sample("amounts", text, [], amounts)
        for _ in range(10):
            record = str(uuid.UUID(int=r.getrandbits(128), version=4))
            workflow = f"{self.pick(['AgentTask', 'CreditLimitReview', 'OverdueFollowUp'])}-{self.chars('0123456789abcdef', 12)}"
            yield sample("record_ids", f"run {record} of workflow {workflow} step 3", [], [record, workflow])
        for _ in range(12):
            digest = hashlib.sha256(self.chars(ALNUM, 20).encode()).hexdigest()
            sha1 = hashlib.sha1(self.chars(ALNUM, 20).encode()).hexdigest()
            md5 = hashlib.md5(self.chars(ALNUM, 20).encode()).hexdigest()
            text = f'{{"args_hash": "{digest}", "prev_hash": "{sha1}", "etag": "{md5}"}}'
            yield sample("trail_hashes", text, [], [digest, sha1, md5])
        versions = [
            "v1.2.3",
            "temporalio 1.35.0",
            "Python 3.11.9",
            "build 2024.03.1",
            "API v2",
            "1.40.0-rc.1",
            "10.0.19045.4046",
        ]
        for version in versions:
            yield sample("versions", f"worker runs {version} on linux", [], [version])
        fixed = [
            ("demo_ids", "Raise the credit limit of C-1006 after INV-2024-0042 and SO-10248 (order 10248) on 2024-03-01: 1,234.56", ["C-1006", "INV-2024-0042", "SO-10248", "10248", "2024-03-01", "1,234.56"]),
            ("demo_ids", "Accounts A-2001, A-2015; contacts CT-3001..CT-3036; invoice INV-10008", ["A-2001", "A-2015", "CT-3001", "CT-3036", "INV-10008"]),
            ("token_counts", '{"prompt_tokens": 1234, "completion_tokens": 56, "max_tokens": 4096}', ["1234", "56", "4096"]),
            ("token_counts", "max_tokens=500 total_tokens: 2048 token budget 50000", ["500", "2048", "50000"]),
            ("prose", "The password is required for every new user.", ["required"]),
            ("prose", "Basic information about token refresh is in the wiki.", ["Basic information", "token refresh"]),
            ("prose", "ticket 2125550148 was closed", ["2125550148"]),
            ("prose", "Postcode 10115 Berlin, 75008 Paris, NY 10001", ["10115", "75008", "10001"]),
            ("prose", "ref 1234 5678 9012 3456 (not a card: the check digit is wrong)", ["1234 5678 9012 3456"]),
            ("prose", "ISBN 978-3-16-148410-0 in stock", ["978-3-16-148410-0"]),
            ("prose", "tracking 1Z999AA10123456784 via UPS", ["1Z999AA10123456784"]),
            ("prose", "IP 10.0.0.15 port 8233", ["10.0.0.15", "8233"]),
            ("prose", "on 2024-03-01 10248 items left the warehouse", ["2024-03-01", "10248"]),
            ("prose", "idempotency_key: AgentTask-3f2a9c1b7d4e:step-3:crm.update_contact", ["AgentTask-3f2a9c1b7d4e:step-3:crm.update_contact"]),
            ("prose", "Placeholders stay: [EMAIL], [PHONE], [IBAN], [CARD], [REDACTED]", ["[EMAIL]", "[PHONE]", "[IBAN]", "[CARD]", "[REDACTED]"]),
        ]  # fmt: skip
        for kind, text, keep in fixed:
            yield sample(kind, text, [], keep)


def main() -> None:
    corpus = Corpus(SEED)
    files = {
        "secrets.jsonl": corpus.secrets(),
        "personal.jsonl": corpus.personal(),
        "lookalikes.jsonl": corpus.lookalikes(),
    }
    for name, samples in files.items():
        rows = list(samples)
        (HERE / name).write_text(
            "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in rows), encoding="utf-8"
        )
        print(f"{name}: {len(rows)} samples")


if __name__ == "__main__":
    main()
