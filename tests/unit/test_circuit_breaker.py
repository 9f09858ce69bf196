"""The circuit breaker's state machine, on an injected clock (no sleeps)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from retrofit.execution.circuit_breaker import (
    RETRY_MARGIN,
    BreakerBoard,
    BreakerConfig,
    BreakerOverride,
    BreakerState,
    CircuitBreaker,
    hold_off_while_open,
    outage_signal,
)
from retrofit.execution.error_mapping import ClassifiedError, classify
from retrofit.sdk.errors import ActionInputError, AuthError, RetryableError


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _breaker(clock: FakeClock, threshold: int = 3, open_seconds: float = 10) -> CircuitBreaker:
    config = BreakerConfig(threshold=threshold, open_for=timedelta(seconds=open_seconds))
    return CircuitBreaker("erp", config, clock=clock)


def _state(breaker: CircuitBreaker) -> BreakerState:
    # A call, not the property: mypy would otherwise narrow the state across assertions.
    return breaker.state


def _fail(breaker: CircuitBreaker) -> None:
    admission = breaker.admit()
    assert admission.allowed
    breaker.record(admission, "failure")


def test_opens_after_threshold_consecutive_failures_and_fails_fast_with_the_remaining_time() -> None:
    clock = FakeClock()
    breaker = _breaker(clock)
    _fail(breaker)
    _fail(breaker)
    assert _state(breaker) is BreakerState.CLOSED
    admission = breaker.admit()
    snapshot = breaker.record(admission, "failure")
    assert _state(breaker) is BreakerState.OPEN
    assert snapshot is not None and snapshot.transition == "closed->open"
    assert snapshot.consecutive_failures == 3

    clock.advance(4)
    refused = breaker.admit()
    assert not refused.allowed and refused.retry_in == timedelta(seconds=6)
    assert refused.snapshot is not None and refused.snapshot.state is BreakerState.OPEN
    error = refused.circuit_open_error()
    assert error.type == "CircuitOpen" and error.retryable
    assert error.retry_after == timedelta(seconds=6) + RETRY_MARGIN
    assert "'erp'" in error.message and "3 consecutive failures" in error.message


def test_a_success_in_between_resets_the_count() -> None:
    clock = FakeClock()
    breaker = _breaker(clock)
    _fail(breaker)
    _fail(breaker)
    admission = breaker.admit()
    assert breaker.record(admission, "success") is None
    _fail(breaker)
    _fail(breaker)
    assert _state(breaker) is BreakerState.CLOSED


def test_after_the_open_period_one_trial_goes_through_and_its_success_closes() -> None:
    clock = FakeClock()
    breaker = _breaker(clock, threshold=1, open_seconds=5)
    _fail(breaker)
    clock.advance(5)
    trial = breaker.admit()
    assert trial.allowed and trial.trial
    assert _state(breaker) is BreakerState.HALF_OPEN
    # While the trial runs, everyone else waits a short while, without touching the system.
    other = breaker.admit()
    assert not other.allowed and other.retry_in == timedelta(seconds=5)
    snapshot = breaker.record(trial, "success")
    assert snapshot is not None and snapshot.transition == "half_open->closed"
    assert _state(breaker) is BreakerState.CLOSED
    assert breaker.admit().allowed


def test_a_failed_trial_opens_again_for_a_full_period() -> None:
    clock = FakeClock()
    breaker = _breaker(clock, threshold=1, open_seconds=5)
    _fail(breaker)
    clock.advance(7)
    trial = breaker.admit()
    snapshot = breaker.record(trial, "failure")
    assert snapshot is not None and snapshot.transition == "half_open->open"
    clock.advance(1)
    refused = breaker.admit()
    assert not refused.allowed and refused.retry_in == timedelta(seconds=4)


def test_a_cancelled_trial_frees_the_slot() -> None:
    clock = FakeClock()
    breaker = _breaker(clock, threshold=1, open_seconds=5)
    _fail(breaker)
    clock.advance(5)
    trial = breaker.admit()
    breaker.release(trial)
    assert _state(breaker) is BreakerState.HALF_OPEN
    assert breaker.admit().trial


def test_threshold_zero_turns_it_off() -> None:
    breaker = _breaker(FakeClock(), threshold=0)
    for _ in range(20):
        _fail(breaker)
    assert _state(breaker) is BreakerState.CLOSED and breaker.admit().allowed


def test_only_one_trial_among_concurrent_callers() -> None:
    clock = FakeClock()
    breaker = _breaker(clock, threshold=1, open_seconds=1)
    _fail(breaker)
    clock.advance(2)
    admitted: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def call() -> None:
        start.wait()
        admission = breaker.admit()
        with lock:
            admitted.append(admission.allowed)

    threads = [threading.Thread(target=call) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert admitted.count(True) == 1


@pytest.mark.parametrize(
    ("exc", "signal"),
    [
        (RetryableError("503"), "failure"),
        (TimeoutError("slow"), "failure"),
        (ActionInputError("no such invoice"), "success"),  # the system answered
        (AuthError("401"), "success"),
        (KeyError("bug"), "neutral"),  # a connector bug is not an outage
    ],
)
def test_what_counts_as_an_outage(exc: BaseException, signal: str) -> None:
    assert outage_signal(classify(exc)) == signal


def test_the_failure_that_opens_it_asks_temporal_to_wait_out_the_open_period() -> None:
    clock = FakeClock()
    breaker = _breaker(clock, threshold=1, open_seconds=10)
    snapshot = breaker.record(breaker.admit(), "failure")
    error = ClassifiedError("Retryable", "503", True, timedelta(seconds=1))
    held = hold_off_while_open(error, snapshot)
    assert held.retry_after == timedelta(seconds=10) + RETRY_MARGIN
    # A longer Retry-After from the system wins; no transition, no change.
    longer = ClassifiedError("Retryable", "503", True, timedelta(minutes=5))
    assert hold_off_while_open(longer, snapshot) is longer
    assert hold_off_while_open(error, None) is error


def test_board_layers_connector_settings_over_worker_overrides_over_defaults() -> None:
    board = BreakerBoard(
        BreakerConfig(threshold=5, open_for=timedelta(seconds=30)),
        {"erp": BreakerOverride(threshold=2), "crm": BreakerOverride(open_seconds=60)},
    )
    erp = board.configure("erp", BreakerOverride(open_seconds=7))
    crm = board.configure("crm", BreakerOverride())
    ledger = board.breaker("ledger")
    assert (erp.config.threshold, erp.config.open_for) == (2, timedelta(seconds=7))
    assert (crm.config.threshold, crm.config.open_for) == (5, timedelta(seconds=60))
    assert (ledger.config.threshold, ledger.config.open_for) == (5, timedelta(seconds=30))
    assert board.breaker("erp") is erp
    assert board.states() == {"erp": "closed", "crm": "closed", "ledger": "closed"}
