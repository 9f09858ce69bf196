"""What the audit trail already knows about earlier attempts of one call (one step, one
idempotency key): which started and never reported, and whether any of them may have landed.

An attempt's answer can be lost after its request left: the connection dropped after sending, the
read timed out, the worker was killed mid-call (then the attempt has an `action.started` and no
outcome at all). Nothing but the legacy system knows whether such a write landed, so until its
`lookup` says so (`action.reconciled`) or a later attempt succeeds, the call's outcome is unknown.

Read on retries only (attempt > 1 or a later round): the first attempt of a call has no past.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from retrofit.audit.events import AuditKind, AuditRecord
from retrofit.sdk.errors import Delivery
from retrofit.sdk.lookup import LookupStatus

#: (round, attempt) — attempts count from 1 again in every round a person asks for.
AttemptId = tuple[int, int]


@dataclass(frozen=True)
class PastAttempts:
    #: Attempts that started and never reported, oldest first: to be recorded `action.attempt_lost`.
    lost: tuple[AttemptId, ...] = ()
    #: An earlier attempt may have landed and nothing has settled it since (a success, a lookup).
    unknown: bool = False
    #: The attempts that make it unknown (lost, or failed with their answer lost), oldest first.
    uncertain: tuple[AttemptId, ...] = field(default_factory=tuple)
    #: An attempt whose success is on record: the write landed, even if Temporal never got its
    #: answer (it came after the attempt's timeout).
    succeeded: AttemptId | None = None


def _round_of(record: AuditRecord) -> int:
    value = record.data.get("round", 1)
    return value if isinstance(value, int) and value >= 1 else 1


def past_attempts(records: Iterable[AuditRecord], *, run_id: str, step: int, key: str) -> PastAttempts:
    """Read one call's records (in chain order) and say what is lost and what is unknown."""
    open_attempts: dict[AttemptId, None] = {}  # started, no outcome yet (ordered)
    uncertain: list[AttemptId] = []
    already_lost: set[AttemptId] = set()
    succeeded: AttemptId | None = None
    for record in records:
        if record.run_id != run_id or record.step != step or record.idempotency_key != key:
            continue
        attempt = (_round_of(record), record.attempt or 0)
        kind = record.kind
        if kind is AuditKind.STARTED:
            open_attempts[attempt] = None
        elif kind is AuditKind.ATTEMPT_FAILED:
            open_attempts.pop(attempt, None)
            # Records from before deliveries were recorded say nothing: they may have landed.
            if record.data.get("delivery", Delivery.UNKNOWN.value) == Delivery.UNKNOWN.value:
                uncertain.append(attempt)
        elif kind is AuditKind.ATTEMPT_LOST:
            open_attempts.pop(attempt, None)
            already_lost.add(attempt)
            uncertain.append(attempt)
        elif kind is AuditKind.SUCCEEDED:
            open_attempts.pop(attempt, None)
            uncertain.clear()
            succeeded = attempt
        elif kind is AuditKind.RECONCILED:
            status = record.data.get("status")
            if status in (LookupStatus.LANDED.value, LookupStatus.NOT_LANDED.value):
                # The system answered for everything sent so far; what is still open stays open.
                uncertain.clear()
    lost = tuple(a for a in open_attempts if a not in already_lost)
    if succeeded is None:
        uncertain.extend(lost)
    return PastAttempts(
        lost=lost, unknown=bool(uncertain), uncertain=tuple(sorted(set(uncertain))), succeeded=succeeded
    )


def describe_attempts(attempts: Iterable[AttemptId]) -> str:
    """`attempt 1`, `attempts 1, 3`, `attempt 2 of round 2`: as people read them."""
    names = [f"{a}" if r == 1 else f"{a} of round {r}" for r, a in attempts]
    if not names:
        return "an earlier attempt"
    return ("attempt " if len(names) == 1 else "attempts ") + ", ".join(names)
