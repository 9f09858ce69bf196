"""Redaction cost per KB, against `json.dumps` of the same value in the same run.

    .venv/bin/python bench/redaction.py [--rounds N] [--results FILE]

Redaction is on the hot path: every audit append, every tool result, every model request. Four
workloads: a plain audit record (ids, amounts, dates, hashes: what most records are), plain
prose, a page of CRM contacts from the demo seed (a phone and an e-mail address each) and a CRM
note full of secrets and personal data. Each is timed through the workflow-safe `redact` and the
boundary's (activity side, with detect-secrets), as microseconds per KB of its JSON and as a
ratio to `json.dumps` of it (the least any writer of that record pays anyway).

The targets hold the cheap pre-checks to account: a plain record or plain prose must not pay for
phonenumbers, stdnum or detect-secrets. Records that do hold personal data pay for the library
that decides on it (a phonenumbers parse per candidate and region tried); that is reported, not
judged. phonenumbers' verdict on a candidate is cached (the same numbers recur in a tool result,
its audit record and the next prompt), so the PII rows are warm; "cold" drops the cache first.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from results_table import Result, print_table, write_results

from legacy.crm import seed
from retrofit.redaction import boundary, phones, redact

BENCH = "redaction"


def plain_record() -> dict[str, Any]:
    invoices = [
        {
            "id": f"INV-2024-{i:04d}",
            "customer_id": "C-1003",
            "amount": f"{i * 137.5:.2f}",
            "due": "2024-03-01",
        }
        for i in range(1, 13)
    ]
    return {
        "kind": "action.succeeded",
        "workflow_id": "CreditLimitReview-C-1003-7f3a2b9c1d4e",
        "run_id": "550e8400-e29b-41d4-a716-446655440000",
        "step": 3,
        "args_hash": hashlib.sha256(b"arguments").hexdigest(),
        "data": {
            "arguments": {
                "customer_id": "C-1003",
                "new_limit": "144000.00",
                "reason": "utilisation above 80%",
            },
            "output": {
                "credit_limit": "144000.00",
                "updated_at": "2026-11-28T10:00:00Z",
                "invoices": invoices,
            },
        },
    }


def plain_prose() -> dict[str, Any]:
    sentence = "The customer asked about the delivery schedule for next quarter and the warehouse terms. "
    return {"body": sentence * 24}


def crm_contacts() -> dict[str, Any]:
    return {"items": [contact.to_json() for contact in seed.SEED_CONTACTS]}


def secret_note() -> dict[str, Any]:
    note = (
        "Spoke to Anna (+49 40 3190 2210, anna.becker@nordwind.example, (030) 1234-5678). She pasted "
        "password=Hunter2Secret! and key sk-live-4f9a8b7c6d5e4f3a2b1c0d9e8f7a; card 4111.1111.1111.1111; "
        "IBAN de89 3704 0044 0532 0130 00; SSN 219-45-6789. Invoice INV-2024-0042 overdue since "
        "2024-03-01, 1,234.56 EUR. "
    )
    return {"account_id": "A-2001", "body": note * 3}


# (workload, value, target ratio to json.dumps for the workflow-safe and the boundary redaction;
# None: reported only)
WORKLOADS: tuple[tuple[str, Callable[[], dict[str, Any]], float | None, float | None], ...] = (
    ("plain audit record", plain_record, 20.0, 30.0),
    ("plain prose", plain_prose, 8.0, 25.0),
    ("CRM contacts (PII)", crm_contacts, None, None),
    ("CRM note (secrets + PII)", secret_note, None, None),
)


def cold(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`fn` with phonenumbers' cached verdicts dropped first: every number seen for the first time."""

    def run(value: Any) -> Any:
        phones.library_says_phone.cache_clear()
        return fn(value)

    return run


def per_call(fn: Callable[[Any], Any], value: Any, rounds: int, budget_s: float = 0.4) -> float:
    """Median seconds per call over `rounds` timed batches."""
    fn(value)
    started = time.perf_counter()
    calls = 0
    while time.perf_counter() - started < budget_s / 10 or calls < 3:
        fn(value)
        calls += 1
    batch = max(1, int(calls * 10 / rounds))
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(batch):
            fn(value)
        times.append((time.perf_counter() - t0) / batch)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--results", type=Path)
    args = parser.parse_args()
    results: list[Result] = []
    for name, make, safe_target, boundary_target in WORKLOADS:
        value = make()
        kb = len(json.dumps(value)) / 1024
        base = per_call(json.dumps, value, args.rounds)
        print(f"{name}: {kb:.1f} KB, json.dumps {base * 1e6 / kb:.1f} us/KB")
        tiers: list[tuple[str, Callable[[Any], Any], float | None]] = [
            ("workflow-safe", redact, safe_target),
            ("boundary", boundary.redact, boundary_target),
        ]
        if safe_target is None:
            tiers.append(("workflow-safe, cold", cold(redact), None))
        for tier, fn, target in tiers:
            took = per_call(fn, value, args.rounds)
            ratio = took / base
            print(f"  {tier:13s} {took * 1e6 / kb:9.1f} us/KB  {ratio:7.1f}x json.dumps")
            results.append(
                Result(
                    BENCH,
                    f"{name}, {tier}",
                    f"{took * 1e6 / kb:.0f} us/KB",
                    "(reported)" if target is None else f"<= {target:g}x json.dumps",
                    f"json.dumps {base * 1e6 / kb:.1f} us/KB",
                    ratio,
                    None if target is None else ratio <= target,
                )
            )
    print_table(results, "Redaction per KB")
    if args.results:
        write_results(args.results, results)


if __name__ == "__main__":
    main()
