"""What the trail says about a call's earlier attempts: lost ones, and whether the outcome is open."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from retrofit.audit.events import Actor, ActorKind, AuditKind, AuditRecord
from retrofit.execution.attempt_outcomes import describe_attempts, past_attempts

KEY = "wf-1#3"


def _record(kind: AuditKind, attempt: int | None = None, *, seq: int = 0, **data: Any) -> AuditRecord:
    return AuditRecord(
        event_id=f"wf-1/run-1/3/{kind.value}/{attempt}/{seq}",
        kind=kind,
        actor=Actor(kind=ActorKind.WORKFLOW, name="W"),
        workflow_id="wf-1",
        run_id="run-1",
        step=3,
        idempotency_key=KEY,
        attempt=attempt,
        data=data,
        seq=seq,
        recorded_at=datetime.now(UTC),
        prev_hash="0" * 64,
        hash="0" * 64,
    )


def _past(*records: AuditRecord) -> Any:
    return past_attempts(records, run_id="run-1", step=3, key=KEY)


def test_a_started_attempt_without_an_outcome_is_lost_and_leaves_the_outcome_unknown() -> None:
    past = _past(_record(AuditKind.STARTED, 1))
    assert past.lost == ((1, 1),)
    assert past.unknown and past.uncertain == ((1, 1),)


def test_attempts_refused_before_sending_or_answered_leave_nothing_open() -> None:
    past = _past(
        _record(AuditKind.STARTED, 1),
        _record(AuditKind.ATTEMPT_FAILED, 1, delivery="answered"),
        _record(AuditKind.ATTEMPT_FAILED, 2, delivery="not_sent"),
    )
    assert past.lost == () and not past.unknown


def test_a_lost_answer_stays_unknown_through_later_refusals_and_rounds() -> None:
    past = _past(
        _record(AuditKind.STARTED, 1),
        _record(AuditKind.ATTEMPT_FAILED, 1, delivery="unknown"),
        _record(AuditKind.ATTEMPT_FAILED, 2, delivery="not_sent"),
        _record(AuditKind.STARTED, 1, round=2),
        _record(AuditKind.ATTEMPT_FAILED, 1, delivery="answered", round=2),
    )
    assert past.unknown and past.uncertain == ((1, 1),)
    assert describe_attempts(past.uncertain) == "attempt 1"


def test_an_already_recorded_loss_is_not_recorded_again_but_still_counts() -> None:
    past = _past(_record(AuditKind.STARTED, 1), _record(AuditKind.ATTEMPT_LOST, 1))
    assert past.lost == () and past.unknown


def test_a_success_or_a_lookup_that_knows_settles_what_came_before() -> None:
    lost = _record(AuditKind.STARTED, 1)
    assert not _past(lost, _record(AuditKind.ATTEMPT_LOST, 1), _record(AuditKind.SUCCEEDED, 2)).unknown
    not_landed = _record(AuditKind.RECONCILED, status="not_landed")
    assert not _past(lost, _record(AuditKind.ATTEMPT_LOST, 1), not_landed).unknown
    unknown = _record(AuditKind.RECONCILED, status="unknown")
    assert _past(lost, _record(AuditKind.ATTEMPT_LOST, 1), unknown).unknown


def test_records_of_older_versions_without_a_delivery_count_as_unknown() -> None:
    assert _past(_record(AuditKind.ATTEMPT_FAILED, 1, error="timed out")).unknown


def test_other_steps_runs_and_keys_are_ignored() -> None:
    other = _record(AuditKind.STARTED, 1).model_copy(update={"step": 4})
    other_run = _record(AuditKind.STARTED, 1).model_copy(update={"run_id": "run-0"})
    other_key = _record(AuditKind.STARTED, 1).model_copy(update={"idempotency_key": "wf-1#4"})
    assert not _past(other, other_run, other_key).unknown


def test_attempts_read_as_people_say_them() -> None:
    assert describe_attempts([(1, 2)]) == "attempt 2"
    assert describe_attempts([(1, 1), (2, 3)]) == "attempts 1, 3 of round 2"
    assert describe_attempts([]) == "an earlier attempt"


def test_a_late_success_means_landed_and_later_open_attempts_are_still_lost() -> None:
    past = _past(
        _record(AuditKind.STARTED, 1),
        _record(AuditKind.ATTEMPT_LOST, 1),
        _record(AuditKind.STARTED, 2),
        _record(AuditKind.SUCCEEDED, 1),  # attempt 1 answered after its timeout
    )
    assert past.succeeded == (1, 1)
    assert past.lost == ((1, 2),) and not past.unknown
