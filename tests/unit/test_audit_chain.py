"""The hash chain on its own: canonical encoding, hashing, and what verify_chain catches."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retrofit.audit.chain import (
    GENESIS_HASH,
    HASHED_FIELDS,
    RECORD_FIELDS,
    ChainTemplate,
    ChainVerifier,
    canonical_json,
    canonical_row,
    compute_hash,
    event_row,
    format_utc,
    hash_row,
    payload_of,
    recorded_suffix,
    verify_chain,
)
from retrofit.audit.events import Actor, ActorKind, AuditEvent, AuditKind, AuditRecord

RECORDED = datetime(2024, 5, 1, 12, 0, 0, 250_000, tzinfo=UTC)


def make_event(i: int, **changes: Any) -> AuditEvent:
    fields: dict[str, Any] = {
        "event_id": f"wf-{i % 3}/run-1/{i}/action.succeeded",
        "kind": AuditKind.SUCCEEDED,
        "actor": Actor(kind=ActorKind.AGENT, name="gpt-4o", identity=None if i % 2 else "worker@host"),
        "workflow_id": f"wf-{i % 3}",
        "run_id": "run-1",
        "workflow_type": "CreditLimitReview",
        "step": i,
        "action": "ledger.set_credit_limit",
        "effect": "write",
        "idempotency_key": f"idem-{i}",
        "attempt": 1,
        "data": {"customer": f"C{i:04d}", "amount": i * 100, "flags": [True, None]},
        "occurred_at": datetime(2024, 5, 1, 11, 59, i % 60, tzinfo=UTC),
    }
    fields.update(changes)
    return AuditEvent(**fields)


def build_chain(count: int) -> list[AuditRecord]:
    """Chain events the way the store does, without a database."""

    records: list[AuditRecord] = []
    prev_hash = GENESIS_HASH
    for seq in range(1, count + 1):
        event = make_event(seq)
        payload = dict(
            zip(
                HASHED_FIELDS,
                event_row(event, seq=seq, prev_hash=prev_hash, recorded_at=RECORDED),
                strict=True,
            )
        )
        digest = compute_hash(payload)
        records.append(
            AuditRecord(**event.model_dump(), seq=seq, recorded_at=RECORDED, prev_hash=prev_hash, hash=digest)
        )
        prev_hash = digest
    return records


def rehash(record: AuditRecord) -> AuditRecord:
    return record.model_copy(update={"hash": compute_hash(payload_of(record))})


# --- canonical encoding -------------------------------------------------------------------------


def test_canonical_json_sorts_keys_and_has_no_whitespace() -> None:
    assert canonical_json({"b": 1, "a": {"d": [1, 2], "c": None}}) == '{"a":{"c":null,"d":[1,2]},"b":1}'
    assert canonical_json({"b": 1, "a": 2}) == canonical_json({"a": 2, "b": 1})


def test_canonical_json_writes_instants_in_utc_with_microseconds() -> None:
    plus_two = timezone(timedelta(hours=2))
    same_instant = [
        datetime(2024, 1, 1, 12, 0, tzinfo=UTC),
        datetime(2024, 1, 1, 14, 0, tzinfo=plus_two),
        datetime(2024, 1, 1, 12, 0),  # naive means UTC
    ]
    encoded = {canonical_json({"at": moment}) for moment in same_instant}
    assert encoded == {'{"at":"2024-01-01T12:00:00.000000+00:00"}'}


def test_canonical_json_writes_decimals_as_strings_and_keeps_unicode() -> None:
    assert (
        canonical_json({"amount": Decimal("10.50"), "name": "Zoë\n"}) == '{"amount":"10.50","name":"Zoë\\n"}'
    )


def test_canonical_json_rejects_what_json_cannot_hold() -> None:
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})
    with pytest.raises(TypeError):
        canonical_json({"x": object()})


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"data": {"text": 'quote " backslash \\ tab \t nul \x00 emoji 😀 ünïcode', "big": 2**70}},
        {"data": {"amount": Decimal("1.10"), "when": datetime(2020, 2, 29, tzinfo=UTC)}},
        {"occurred_at": datetime(2024, 5, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))},
        {"occurred_at": None, "step": None, "attempt": None, "action": None, "effect": None},
        {"actor": Actor(kind=ActorKind.HUMAN, name="Ann\u2028Lee", identity="ann@corp")},
    ],
)
def test_the_fast_row_encoder_writes_exactly_canonical_json(changes: dict[str, Any]) -> None:
    # canonical_row is the hot-path encoder; it must never differ from the definition.
    row = event_row(make_event(7, **changes), seq=42, prev_hash="ab" * 32, recorded_at=RECORDED)
    reference = canonical_json(dict(zip(HASHED_FIELDS, row, strict=True)))
    assert canonical_row(row) == reference
    assert canonical_row(row, canonical_json(row[HASHED_FIELDS.index("data")])) == reference


def test_unexpected_value_types_go_through_the_reference_encoder() -> None:
    row = event_row(make_event(1), seq=1, prev_hash=GENESIS_HASH, recorded_at=RECORDED)
    row[HASHED_FIELDS.index("step")] = True  # a bool is an int subclass; JSON writes true, not 1
    assert '"step":true' in canonical_row(row)
    assert canonical_row(row) == canonical_json(dict(zip(HASHED_FIELDS, row, strict=True)))


def test_a_timestamp_as_text_hashes_like_the_datetime() -> None:
    as_datetime = event_row(make_event(3), seq=3, prev_hash=GENESIS_HASH, recorded_at=RECORDED)
    as_text = event_row(make_event(3), seq=3, prev_hash=GENESIS_HASH, recorded_at=format_utc(RECORDED))
    assert canonical_row(as_datetime) == canonical_row(as_text)


# --- hashing -------------------------------------------------------------------------------------


def test_hash_is_sha256_of_prev_hash_and_canonical_json_of_all_fields_but_hash() -> None:
    record = build_chain(2)[1]
    payload = payload_of(record)
    assert set(payload) == set(RECORD_FIELDS)
    hashed = {name: value for name, value in payload.items() if name != "hash"}
    # Re-derived independently from the documented definition, with the stdlib only.
    hashed["occurred_at"] = hashed["occurred_at"].isoformat(timespec="microseconds")
    hashed["recorded_at"] = hashed["recorded_at"].isoformat(timespec="microseconds")
    text = json.dumps(hashed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert record.hash == hashlib.sha256((record.prev_hash + text).encode()).hexdigest()


def test_hash_is_deterministic_and_covers_seq_and_prev_hash() -> None:
    first, second = build_chain(2), build_chain(2)
    assert [r.hash for r in first] == [r.hash for r in second]
    record = first[1]
    assert compute_hash(payload_of(record)) == record.hash
    assert compute_hash(payload_of(record.model_copy(update={"seq": 3}))) != record.hash
    assert compute_hash(payload_of(record.model_copy(update={"prev_hash": "1" * 64}))) != record.hash


def test_the_first_record_links_to_the_genesis_hash() -> None:
    chain = build_chain(3)
    assert chain[0].prev_hash == GENESIS_HASH == "0" * 64
    assert [r.prev_hash for r in chain[1:]] == [r.hash for r in chain[:-1]]


# --- verification ------------------------------------------------------------------------------


def test_an_intact_chain_verifies() -> None:
    chain = build_chain(10)
    report = verify_chain(chain)
    assert report.ok
    assert report.checked == 10
    assert report.first_break is None
    assert report.head_hash == chain[-1].hash


def test_an_empty_chain_verifies_with_no_head() -> None:
    report = verify_chain([])
    assert report.ok and report.checked == 0 and report.head_hash is None


def test_flat_payloads_verify_like_records() -> None:
    chain = build_chain(5)
    assert verify_chain(payload_of(r) for r in chain) == verify_chain(chain)


def test_an_edited_record_is_reported_at_its_seq() -> None:
    chain = build_chain(6)
    chain[3] = chain[3].model_copy(update={"data": {**chain[3].data, "amount": 1}})
    report = verify_chain(chain)
    assert not report.ok
    assert report.first_break is not None
    assert report.first_break.seq == 4
    assert report.first_break.event_id == chain[3].event_id
    assert "hash mismatch" in report.first_break.reason
    assert report.head_hash == chain[2].hash  # the last record that still verified
    assert report.checked == 4


@pytest.mark.parametrize(
    "field, value",
    [
        ("actor", Actor(kind=ActorKind.SYSTEM, name="retrofit")),
        ("recorded_at", RECORDED + timedelta(seconds=1)),
    ],
)
def test_every_field_is_covered(field: str, value: Any) -> None:
    chain = build_chain(3)
    chain[1] = chain[1].model_copy(update={field: value})
    report = verify_chain(chain)
    assert report.first_break is not None and report.first_break.seq == 2


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link() -> None:
    chain = build_chain(5)
    chain[1] = rehash(chain[1].model_copy(update={"action": "ledger.delete_customer"}))
    report = verify_chain(chain)
    assert report.first_break is not None
    assert report.first_break.seq == 3
    assert "prev_hash" in report.first_break.reason


def test_a_deleted_record_is_reported_at_the_next_seq() -> None:
    chain = build_chain(5)
    del chain[2]
    report = verify_chain(chain)
    assert report.first_break is not None
    assert report.first_break.seq == 4
    assert "seq gap: expected 3, found 4" in report.first_break.reason


def test_a_deleted_first_record_is_caught() -> None:
    report = verify_chain(build_chain(3)[1:])
    assert report.first_break is not None and report.first_break.seq == 2


def test_reordered_records_are_caught() -> None:
    chain = build_chain(5)
    chain[1], chain[2] = chain[2], chain[1]
    report = verify_chain(chain)
    assert report.first_break is not None
    assert report.first_break.seq == 3  # found where seq 2 belongs
    assert "expected 2" in report.first_break.reason


def test_renumbering_after_a_deletion_is_caught() -> None:
    # Delete seq 3 and shift the rest down so the seqs look contiguous again.
    chain = build_chain(5)
    del chain[2]
    chain[2:] = [r.model_copy(update={"seq": r.seq - 1}) for r in chain[2:]]
    report = verify_chain(chain)
    assert report.first_break is not None
    assert report.first_break.seq == 3
    assert "prev_hash" in report.first_break.reason


def test_an_inserted_forged_record_is_caught() -> None:
    chain = build_chain(4)
    forged = rehash(chain[1].model_copy(update={"seq": 3, "prev_hash": chain[1].hash, "event_id": "forged"}))
    chain.insert(2, forged)  # the old seq 3 now follows a record it does not link to
    report = verify_chain(chain)
    assert report.first_break is not None
    assert report.first_break.seq == 3
    assert report.first_break.event_id == chain[3].event_id


def test_the_verifier_stops_at_the_first_break() -> None:
    chain = build_chain(6)
    chain[1] = chain[1].model_copy(update={"step": 99})
    chain[4] = chain[4].model_copy(update={"step": 99})
    verifier = ChainVerifier()
    fed = [verifier.feed(payload_of(r)) for r in chain]
    assert fed == [True, False, False, False, False, False]
    first_break = verifier.report().first_break
    assert first_break is not None and first_break.seq == 2


def test_stored_data_text_may_be_spelled_differently_but_not_changed() -> None:
    # Rows come from the database with `data` as stored text. Another spelling of the same JSON
    # (re-serialised by some tool) still verifies; different content or broken JSON does not.
    record = build_chain(1)[0]
    row = [payload_of(record)[name] for name in RECORD_FIELDS]
    respelled = json.dumps(record.data, indent=2)
    assert ChainVerifier().feed_row(row, canonical_json(record.data))
    assert ChainVerifier().feed_row(row, respelled)
    assert not ChainVerifier().feed_row(row, respelled.replace("100", "101"))
    assert not ChainVerifier().feed_row(row, "{not json")


def test_rendered_text_can_only_confirm_a_record() -> None:
    chain = build_chain(2)
    payloads = [payload_of(r) for r in chain]
    texts = [canonical_row([p[name] for name in HASHED_FIELDS]) for p in payloads]
    verifier = ChainVerifier()

    def feed(i: int, text: str) -> bool | None:
        p = payloads[i]
        return verifier.feed_rendered(p["seq"], p["event_id"], p["prev_hash"], p["hash"], text)

    assert feed(0, texts[0]) is True
    # A rendering that does not reproduce the hash is no verdict: nothing is recorded.
    assert feed(1, texts[1].replace("gpt-4o", "gpt-4")) is None
    assert verifier.checked == 1 and verifier.first_break is None
    assert feed(1, texts[1]) is True
    assert verifier.report().ok and verifier.report().head_hash == chain[1].hash


def test_rendered_text_still_reports_broken_links() -> None:
    chain = build_chain(3)
    p = payload_of(chain[2])
    verifier = ChainVerifier()
    assert verifier.feed_rendered(p["seq"], p["event_id"], p["prev_hash"], p["hash"], "") is False
    assert verifier.first_break is not None and verifier.first_break.seq == 3


@pytest.mark.parametrize(
    "changes",
    [
        {},
        # `data` holding the top-level key names and their punctuation, as keys and as text.
        {
            "data": {
                "run_id": 1,
                "step": {"seq": 2},
                "effect": ',"run_id":"x","step":',
                "z": {"data": ',"data":'},
            }
        },
        {
            "data": {
                "text": 'quote " backslash \\ tab \t nul \x00 emoji 😀',
                "big": 2**70,
                "d": Decimal("1.10"),
            }
        },
        {"occurred_at": datetime(2024, 5, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))},
        {"occurred_at": None, "step": None, "attempt": None, "action": None, "effect": None},
        {"run_id": ',"step":', "workflow_id": ',"run_id":', "action": ',"data":{}'},
    ],
)
def test_the_chain_template_hashes_exactly_like_hash_row(changes: dict[str, Any]) -> None:
    # The store hashes through ChainTemplate; it must never differ from the definition.
    event = make_event(7, **changes)
    template = ChainTemplate(event)
    recorded = format_utc(RECORDED)
    row = event_row(event, seq=42, prev_hash="ab" * 32, recorded_at=recorded)
    expected = hash_row(row)
    assert (
        hashlib.sha256(template.hash_input(42, "ab" * 32, recorded_suffix(recorded))).hexdigest() == expected
    )
    assert template.data_json == canonical_json(event.data)
    stored = [*template.row[:-2], recorded, "ab" * 32]
    stored[0] = 42
    assert hash_row(stored, template.data_json) == expected  # the stored row: data as its text


# --- byte identity over a recorded chain and generated records ----------------------------------

RECORDED_CHAIN = Path(__file__).with_name("audit_recorded_chain.jsonl")


def test_a_recorded_chain_still_verifies_and_rehashes_to_the_same_bytes() -> None:
    # 150 records written by the store before checkpoints existed (unicode, control characters,
    # floats in exponent form, ints past 64 bits, Decimals, zoned datetimes, keys that look like
    # the record's own): today's verify and today's append path must give exactly their hashes.
    lines = RECORDED_CHAIN.read_text(encoding="utf-8").split("\n")  # not splitlines(): U+2028 is data
    records = [AuditRecord.model_validate_json(line) for line in lines if line]
    assert len(records) == 150
    report = verify_chain(records)
    assert report.ok and report.checked == 150 and report.head_seq == 150
    for record in records:
        event = AuditEvent.model_validate(record.model_dump(include=set(AuditEvent.model_fields)))
        recorded = recorded_suffix(format_utc(record.recorded_at))
        digest = hashlib.sha256(ChainTemplate(event).hash_input(record.seq, record.prev_hash, recorded))
        assert digest.hexdigest() == record.hash, record.seq


_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
    st.decimals(allow_nan=False, allow_infinity=False).map(lambda d: d.normalize() if d.is_finite() else d),
)
_json_data = st.recursive(
    _json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.dictionaries(
        st.sampled_from(["prev_hash", "seq", "data", "effect", "run_id", "x", "ü"]) | st.text(),
        _json_data,
        max_size=5,
    ),
    texts=st.lists(st.text(), min_size=6, max_size=6),
    step=st.none() | st.integers(min_value=-(2**63), max_value=2**70),
    seq=st.integers(min_value=1, max_value=2**62),
)
def test_generated_records_hash_the_same_on_every_path(
    data: dict[str, Any], texts: list[str], step: int | None, seq: int
) -> None:
    event = make_event(
        1,
        data=data,
        step=step,
        event_id=texts[0],
        workflow_id=texts[1],
        run_id=texts[2],
        action=texts[3],
        idempotency_key=texts[4],
        actor=Actor(kind=ActorKind.HUMAN, name=texts[5], identity=texts[0]),
    )
    recorded = format_utc(RECORDED)
    row = event_row(event, seq=seq, prev_hash="cd" * 32, recorded_at=recorded)
    try:
        expected = hashlib.sha256(
            ("cd" * 32 + canonical_json(dict(zip(HASHED_FIELDS, row, strict=True)))).encode()
        )
    except UnicodeEncodeError:  # lone surrogates: no path may hash them
        with pytest.raises(UnicodeEncodeError):
            ChainTemplate(event).hash_input(seq, "cd" * 32, recorded_suffix(recorded))
        return
    assert hash_row(row) == expected.hexdigest()
    template = ChainTemplate(event)
    assert (
        hashlib.sha256(template.hash_input(seq, "cd" * 32, recorded_suffix(recorded))).hexdigest()
        == expected.hexdigest()
    )
