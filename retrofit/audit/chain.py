"""The hash chain: how a record's hash is computed and how a sequence of records is verified.

Pure (stdlib + the event models) so the CLI, exports and tests can check a chain without a database.

A record is hashed in its flat, stored form (the `audit_events` columns, `RECORD_FIELDS`), not in
the nested pydantic shape, so verifying straight from database rows needs no model objects:

    hash = sha256(prev_hash + canonical_json({every field except `hash`})).hexdigest()

Canonical JSON: keys sorted, no whitespace, UTF-8, datetimes as ISO-8601 in UTC with microseconds,
Decimals as strings, NaN/Infinity rejected. `seq` and `prev_hash` are inside the hashed payload, so
moving a record or re-linking it changes its hash too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from retrofit.audit.events import AuditEvent, AuditRecord, ChainBreak, VerifyReport

GENESIS_HASH = "0" * 64
_ZERO = timedelta(0)

# The stored columns, in table order. `hash` must stay last: HASHED_FIELDS relies on it.
RECORD_FIELDS: tuple[str, ...] = (
    "seq",
    "event_id",
    "kind",
    "actor_kind",
    "actor_name",
    "actor_identity",
    "workflow_id",
    "run_id",
    "workflow_type",
    "step",
    "action",
    "effect",
    "idempotency_key",
    "attempt",
    "data",
    "occurred_at",
    "recorded_at",
    "prev_hash",
    "hash",
)
HASHED_FIELDS: tuple[str, ...] = RECORD_FIELDS[:-1]
_SEQ, _EVENT_ID, _PREV_HASH, _HASH = 0, 1, len(RECORD_FIELDS) - 2, len(RECORD_FIELDS) - 1


def as_utc(value: datetime) -> datetime:
    """Naive datetimes are taken to be UTC (SQLite hands back what the store wrote, without zone)."""

    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_utc(value: datetime) -> str:
    # Fixed microsecond precision: isoformat() drops ".000000", which would make the text depend
    # on the clock reading rather than on the instant. Any zone at offset zero already prints as
    # "+00:00", so only other zones (and naive values) need converting.
    if value.utcoffset() == _ZERO:
        return value.isoformat(timespec="microseconds")
    return as_utc(value).isoformat(timespec="microseconds")


def _encode_extra(value: object) -> object:
    if isinstance(value, datetime):
        return format_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"audit data must be JSON-compatible; got {type(value).__name__}")


# The stdlib's C encoder stays the definition. orjson (OPT_SORT_KEYS) was measured against it on
# audit-sized records and was no faster (2.8 vs 2.5 us for a typical `data`, 6.0 vs 6.4 us for a
# whole record), and it is not byte-identical: 1.5e-07 comes out as 1.5e-7, NaN as null.
_ENCODER = json.JSONEncoder(
    sort_keys=True,
    separators=(",", ":"),
    ensure_ascii=False,
    allow_nan=False,
    default=_encode_extra,
)


def canonical_json(value: Any) -> str:
    """Deterministic JSON text for `value`: the same data always gives the same bytes."""

    return _ENCODER.encode(value)


_DATA = RECORD_FIELDS.index("data")
_OCCURRED = RECORD_FIELDS.index("occurred_at")
_RECORDED = RECORD_FIELDS.index("recorded_at")
_encode_str: Callable[[str], str] = json.encoder.encode_basestring  # what the encoder uses for str


def _encode_field(value: Any) -> str:
    # The common exact types are encoded directly, exactly as _ENCODER would; anything else (bool,
    # subclasses, Decimal, ...) goes through _ENCODER itself, so the output never differs.
    kind = type(value)
    if kind is str:
        return _encode_str(value)
    if value is None:
        return "null"
    if kind is int:
        return int.__repr__(value)
    if kind is datetime:
        return '"' + format_utc(value) + '"'
    return canonical_json(value)


def _pieces(row: Sequence[Any], data_json: str) -> tuple[str, str, str]:
    """A record's canonical JSON around the three values only the chain decides: the text before
    prev_hash's value, between run_id's key and seq's value, and after seq. Shared by
    `canonical_row` (verify) and `ChainTemplate` (append), so both spell the keys once."""

    (
        _seq,
        event_id,
        kind,
        actor_kind,
        actor_name,
        actor_identity,
        workflow_id,
        run_id,
        workflow_type,
        step,
        action,
        effect,
        idempotency_key,
        attempt,
        _data,
        occurred_at,
        _recorded_at,
        _prev_hash,
    ) = row[: len(HASHED_FIELDS)]
    e = _encode_field
    # The keys spelled out in sorted order: a loop over the field names costs twice as much.
    # test_audit_chain holds the result to canonical_json.
    head = (
        f'{{"action":{e(action)},"actor_identity":{e(actor_identity)},"actor_kind":{e(actor_kind)},'
        f'"actor_name":{e(actor_name)},"attempt":{e(attempt)},"data":{data_json},"effect":{e(effect)},'
        f'"event_id":{e(event_id)},"idempotency_key":{e(idempotency_key)},"kind":{e(kind)},'
        f'"occurred_at":{e(occurred_at)},"prev_hash":'
    )
    middle = f',"run_id":{e(run_id)},"seq":'
    tail = f',"step":{e(step)},"workflow_id":{e(workflow_id)},"workflow_type":{e(workflow_type)}}}'
    return head, middle, tail


def canonical_row(row: Sequence[Any], data_json: str | None = None) -> str:
    """`canonical_json` of a record given as values in RECORD_FIELDS order, minus `hash`.

    Same bytes as `canonical_json(dict(zip(HASHED_FIELDS, row)))` at about a third of the cost;
    append and verify spend most of their time here. `data_json`, when given, is used as the
    encoded `data` (the store has it at hand, already canonical).
    """

    if data_json is None:
        data_json = canonical_json(row[_DATA])
    head, middle, tail = _pieces(row, data_json)
    e = _encode_field
    return f'{head}{e(row[_PREV_HASH])},"recorded_at":{e(row[_RECORDED])}{middle}{e(row[_SEQ])}{tail}'


def hash_row(row: Sequence[Any], data_json: str | None = None) -> str:
    """sha256(prev_hash + canonical JSON of everything but `hash`), for a row in RECORD_FIELDS order."""

    return hashlib.sha256((row[_PREV_HASH] + canonical_row(row, data_json)).encode()).hexdigest()


def compute_hash(payload: Mapping[str, Any], data_json: str | None = None) -> str:
    """Hash of one record; `payload` has at least HASHED_FIELDS (an extra `hash` key is ignored)."""

    return hash_row([payload[name] for name in HASHED_FIELDS], data_json)


def event_row(event: AuditEvent, *, seq: int, prev_hash: str, recorded_at: datetime | str) -> list[Any]:
    """`event` at position `seq`, as values in HASHED_FIELDS order (everything but `hash`).

    A timestamp may be a datetime or its `format_utc` text: both encode, and so hash, the same.
    """

    actor = event.actor
    return [
        seq,
        event.event_id,
        event.kind.value,
        actor.kind.value,
        actor.name,
        actor.identity,
        event.workflow_id,
        event.run_id,
        event.workflow_type,
        event.step,
        event.action,
        event.effect,
        event.idempotency_key,
        event.attempt,
        event.data,
        event.occurred_at,
        recorded_at,
        prev_hash,
    ]


class ChainTemplate:
    """A record's canonical JSON with the three values only the chain decides left open.

    `hash_input(seq, prev_hash, recorded_suffix(recorded_text))` is what `hash_row` hashes for
    the record placed at `seq` after `prev_hash`, recorded at `recorded_text` (a `format_utc`
    string). Built by each caller before the chain lock is taken, so the writer holding the lock
    (for every caller of a group commit) only joins strings and hashes.
    `row` is the stored row (RECORD_FIELDS order) with `data` and `occurred_at` in their
    canonical text form; seq, recorded_at, prev_hash and hash are filled in by the writer.
    """

    __slots__ = ("data_json", "head", "middle", "row", "tail")

    def __init__(self, event: AuditEvent) -> None:
        row = event_row(event, seq=0, prev_hash="", recorded_at="")
        self.data_json = row[_DATA] = canonical_json(row[_DATA])
        if row[_OCCURRED] is not None:
            row[_OCCURRED] = format_utc(row[_OCCURRED])
        head, self.middle, self.tail = _pieces(row, self.data_json)
        self.head = head + '"'  # prev_hash's value is a hex string: its quotes never change
        self.row = row

    def hash_input(self, seq: int, prev_hash: str, recorded_part: str) -> bytes:
        """The bytes `hash_row` hashes; `recorded_part` is `recorded_suffix(recorded_text)`."""

        return (
            prev_hash + self.head + prev_hash + recorded_part + self.middle + str(seq) + self.tail
        ).encode()


def recorded_suffix(recorded_text: str) -> str:
    """What follows prev_hash's value in a ChainTemplate's canonical text, up to run_id."""

    return '","recorded_at":"' + recorded_text + '"'


def payload_of(record: AuditRecord) -> dict[str, Any]:
    """The flat form of a stored record: RECORD_FIELDS to values, `hash` included."""

    row = event_row(record, seq=record.seq, prev_hash=record.prev_hash, recorded_at=record.recorded_at)
    row.append(record.hash)
    return dict(zip(RECORD_FIELDS, row, strict=True))


def _hash_matches(row: Sequence[Any], data_json: str | None) -> bool:
    stored: object = row[_HASH]
    try:
        if hash_row(row, data_json) == stored:
            return True
        if data_json is None:
            return False
        # The stored text may be a different spelling of the same JSON (a tool or a database
        # re-serialised it); what was hashed is the content, so compare that before crying foul.
        return hash_row(row, canonical_json(json.loads(data_json))) == stored
    except (TypeError, ValueError, RecursionError):
        # Values no writer could have produced (unparsable JSON, wrong types): an edit.
        return False


class ChainVerifier:
    """Checks records one at a time, in seq order, and remembers the first break.

    Feed it until `feed`/`feed_row` returns False. Memory stays constant, so callers can stream
    any number of records through it.
    """

    def __init__(self, after_seq: int = 0, after_hash: str = GENESIS_HASH) -> None:
        # A verifier may start past the genesis, at a record already known good (a checkpoint's
        # head): it then checks only what was linked on after it.
        self.checked = 0
        self.first_break: ChainBreak | None = None
        self._expected_seq = after_seq + 1
        self._prev_hash = after_hash

    def feed(self, payload: Mapping[str, Any]) -> bool:
        return self.feed_row([payload[name] for name in RECORD_FIELDS])

    def feed_row(self, row: Sequence[Any], data_json: str | None = None) -> bool:
        """Check one record given as values in RECORD_FIELDS order; False once the chain is broken.

        `data_json` is the stored JSON text of `data`, when the caller read it unparsed.
        """

        if self.first_break is not None:
            return False
        reason = self._link_break(row[_SEQ], row[_PREV_HASH])
        if reason is None and not _hash_matches(row, data_json):
            reason = "hash mismatch: the record was edited after it was written"
        return self._record(row[_SEQ], row[_EVENT_ID], row[_HASH], reason)

    def feed_rendered(
        self, seq: int, event_id: str, prev_hash: str, stored_hash: str, canonical: str
    ) -> bool | None:
        """Check a record from its canonical JSON as rendered elsewhere (by the database).

        Returns None, changing nothing, when that text does not reproduce the stored hash: only
        `feed_row` (this module's encoder) may call a record edited, so the caller must then feed
        the full row there.
        """

        if self.first_break is not None:
            return False
        reason = self._link_break(seq, prev_hash)
        if reason is None and hashlib.sha256((prev_hash + canonical).encode()).hexdigest() != stored_hash:
            return None
        return self._record(seq, event_id, stored_hash, reason)

    def feed_rendered_run(self, rows: Sequence[Sequence[Any]], start: int = 0) -> int:
        """`feed_rendered` over rows[start:] of (seq, event_id, prev_hash, hash, rendered) while
        each record plainly verifies; returns the index of the first row that does not (for
        the caller to feed one at a time), or len(rows).

        Accepts exactly the rows `feed_rendered` would, without a method call per row: verify
        spends most of its Python time here.
        """

        if self.first_break is not None:
            return start
        expected, prev, sha256 = self._expected_seq, self._prev_hash, hashlib.sha256
        index, end = start, len(rows)
        while index < end:
            seq, _event_id, prev_hash, stored_hash, rendered = rows[index]
            if (
                seq != expected
                or prev_hash != prev
                or rendered is None
                or sha256((prev + rendered).encode()).hexdigest() != stored_hash
            ):
                break
            prev = stored_hash
            expected += 1
            index += 1
        self.checked += index - start
        self._expected_seq, self._prev_hash = expected, prev
        return index

    def _link_break(self, seq: object, prev_hash: object) -> str | None:
        # Coarse checks first, so the reason names the likely cause.
        if seq != self._expected_seq:
            return (
                f"seq gap: expected {self._expected_seq}, found {seq} "
                "(a record was deleted, inserted or reordered)"
            )
        if prev_hash != self._prev_hash:
            return (
                f"prev_hash does not match the hash of seq {self._expected_seq - 1} "
                "(a record was deleted, inserted, reordered or re-hashed)"
            )
        return None

    def _record(self, seq: Any, event_id: object, stored_hash: Any, reason: str | None) -> bool:
        self.checked += 1
        if reason is not None:
            self.first_break = ChainBreak(seq=seq, event_id=str(event_id), reason=reason)
            return False
        self._prev_hash = stored_hash
        self._expected_seq += 1
        return True

    def report(self) -> VerifyReport:
        """`head_hash` is the hash of the last record that verified (None if none did)."""

        head = None if self._prev_hash == GENESIS_HASH else self._prev_hash
        return VerifyReport(
            checked=self.checked,
            ok=self.first_break is None,
            first_break=self.first_break,
            head_hash=head,
            head_seq=self._expected_seq - 1 if head is not None else None,
        )


def verify_chain(records: Iterable[AuditRecord | Mapping[str, Any]]) -> VerifyReport:
    """Verify records given in seq order, starting at the genesis; stops at the first break.

    Deleting the newest records cannot be detected from the chain alone; compare `head_hash`
    with a copy kept elsewhere for that.
    """

    verifier = ChainVerifier()
    for record in records:
        payload = payload_of(record) if isinstance(record, AuditRecord) else record
        if not verifier.feed(payload):
            break
    return verifier.report()
