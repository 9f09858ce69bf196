"""Per-connector circuit breakers, worker-side: stop hammering a legacy system that is down.

    CLOSED ──N consecutive outage failures──▶ OPEN ──open_for elapsed──▶ HALF_OPEN (one trial call)
       ▲                                        ▲                              │
       └──────────── trial succeeds ────────────┼──────────────────────────────┘
                                                └──────── trial fails ─────────┘

Temporal already retries each action with backoff; the breaker adds what one workflow's retry
policy cannot know: that *every* call to this system is failing. While it is open, calls fail
fast (the legacy system is not touched) with a retryable `CircuitOpen` error whose
`next_retry_delay` is the time left, so Temporal brings the retry back when a trial is possible.

What counts: only failures that say "the system is unwell" (classified `Retryable`: refused or
dropped connections, timeouts, 5xx, SOAP server faults, a locked database). An answer that refuses
the call (4xx, auth, input errors) proves the system is up, so it counts as a success. An
unexpected exception is a connector bug, not an outage: it neither trips nor closes the breaker.

One breaker per connector per worker process; state is kept under a `threading.Lock`, so calls
from the event loop and from activity threads are safe. Transitions are logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from retrofit.execution.error_mapping import ClassifiedError
from retrofit.sdk.errors import Delivery

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Signal = Literal["failure", "success", "neutral"]

CIRCUIT_OPEN = "CircuitOpen"
# Added to every "come back in" delay, so a retry lands just after the open period rather than a
# hair before it (timers and clocks differ by milliseconds) and burns an attempt on a fast failure.
RETRY_MARGIN = timedelta(milliseconds=100)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class BreakerConfig(BaseModel):
    """When one connector's breaker opens and for how long. `threshold = 0` turns it off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: int = Field(default=5, ge=0)
    open_for: timedelta = Field(default=timedelta(seconds=30), gt=timedelta(0))
    # Calls arriving while the half-open trial runs come back after this long (None: `open_for`).
    # Every fast failure costs the call one attempt of its retry budget, so waiting a whole open
    # period costs at most one attempt per period whether the trial succeeds or fails.
    trial_wait: timedelta | None = Field(default=None, gt=timedelta(0))

    @property
    def enabled(self) -> bool:
        return self.threshold > 0


class BreakerOverride(BaseModel):
    """Per-connector override of the worker's defaults (unset fields keep the default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: int | None = Field(default=None, ge=0)
    open_seconds: float | None = Field(default=None, gt=0)

    def over(self, base: BreakerConfig) -> BreakerConfig:
        update: dict[str, Any] = {}
        if self.threshold is not None:
            update["threshold"] = self.threshold
        if self.open_seconds is not None:
            update["open_for"] = timedelta(seconds=self.open_seconds)
        return base.model_copy(update=update)


@dataclass(frozen=True)
class Snapshot:
    """The breaker as one call saw it; goes into the audit record of that attempt."""

    connector: str
    state: BreakerState
    consecutive_failures: int
    threshold: int
    open_for_seconds: float
    retry_in_seconds: float | None = None
    transition: str | None = None  # e.g. "closed->open", when this call caused one

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "connector": self.connector,
            "state": self.state.value,
            "consecutive_failures": self.consecutive_failures,
            "threshold": self.threshold,
            "open_for_seconds": self.open_for_seconds,
        }
        if self.retry_in_seconds is not None:
            data["retry_in_seconds"] = round(self.retry_in_seconds, 3)
        if self.transition is not None:
            data["transition"] = self.transition
        return data


@dataclass(frozen=True)
class Admission:
    """The breaker's answer before a call: go ahead (maybe as the half-open trial), or wait."""

    allowed: bool
    trial: bool = False
    retry_in: timedelta | None = None
    snapshot: Snapshot | None = None

    def circuit_open_error(self) -> ClassifiedError:
        """The fast failure of a refused call: retryable, retried when the breaker allows again."""
        snap = self.snapshot
        assert snap is not None and self.retry_in is not None
        why = (
            "a trial call is in progress"
            if snap.state is BreakerState.HALF_OPEN
            else f"{snap.consecutive_failures} consecutive failures"
        )
        message = (
            f"circuit open for connector {snap.connector!r} ({why}); this attempt was not sent, "
            f"retry in {self.retry_in.total_seconds():.1f}s"
        )
        # Refused before any request: this attempt proves nothing was sent.
        return ClassifiedError(
            CIRCUIT_OPEN, message, True, self.retry_in + RETRY_MARGIN, delivery=Delivery.NOT_SENT
        )


def outage_signal(error: ClassifiedError) -> Signal:
    """What a classified failure says about the legacy system's health (see the module doc)."""
    if not error.retryable:
        return "success"
    return "failure" if error.type == "Retryable" else "neutral"


def hold_off_while_open(error: ClassifiedError, snapshot: Snapshot | None) -> ClassifiedError:
    """The failure that opened the breaker asks Temporal to wait out the open period, so the next
    attempt arrives when it can be the trial instead of failing fast in between."""
    if snapshot is None or snapshot.state is not BreakerState.OPEN or snapshot.transition is None:
        return error
    open_for = timedelta(seconds=snapshot.open_for_seconds) + RETRY_MARGIN
    if error.retry_after is not None and error.retry_after >= open_for:
        return error
    return replace(error, retry_after=open_for)


class CircuitBreaker:
    """One connector's breaker. `clock` is injectable (monotonic seconds) for tests."""

    def __init__(self, connector: str, config: BreakerConfig, *, clock: Clock = time.monotonic) -> None:
        self.connector = connector
        self.config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_running = False

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._state

    def admit(self) -> Admission:
        """Ask before calling the legacy system. An allowed trial must be settled with
        `record(...)` or `release(...)`."""
        if not self.config.enabled:
            return Admission(allowed=True)
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return Admission(allowed=True)
            if self._state is BreakerState.OPEN:
                remaining = self._opened_at + self.config.open_for.total_seconds() - self._clock()
                if remaining > 0:
                    wait = timedelta(seconds=remaining)
                    return Admission(allowed=False, retry_in=wait, snapshot=self._snapshot(wait))
                self._move(BreakerState.HALF_OPEN)
            if self._trial_running:
                wait = self.config.trial_wait or self.config.open_for
                return Admission(allowed=False, retry_in=wait, snapshot=self._snapshot(wait))
            self._trial_running = True
            return Admission(allowed=True, trial=True, snapshot=self._snapshot(None))

    def record(self, admission: Admission, signal: Signal) -> Snapshot | None:
        """Settle an admitted call; returns the breaker's state when it changed or is not closed."""
        if not self.config.enabled:
            return None
        with self._lock:
            if admission.trial:
                self._trial_running = False
            before = self._state
            if signal == "success":
                self._failures = 0
                if before is not BreakerState.CLOSED:
                    # Any answer proves the system is back, the trial's or a slow earlier call's.
                    self._move(BreakerState.CLOSED)
            elif signal == "failure":
                self._failures += 1
                trial_failed = admission.trial and before is BreakerState.HALF_OPEN
                tripped = before is BreakerState.CLOSED and self._failures >= self.config.threshold
                if trial_failed or tripped:
                    self._open()
            if self._state is BreakerState.CLOSED and before is BreakerState.CLOSED:
                return None
            transition = f"{before.value}->{self._state.value}" if before is not self._state else None
            retry_in = self.config.open_for if self._state is BreakerState.OPEN and transition else None
            return self._snapshot(retry_in, transition)

    def release(self, admission: Admission) -> None:
        """An admitted call ended without an outcome (cancelled): free the trial slot."""
        if admission.trial:
            with self._lock:
                self._trial_running = False

    # -- under the lock ---------------------------------------------------------------------

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._move(BreakerState.OPEN)

    def _move(self, to: BreakerState) -> None:
        before, self._state = self._state, to
        level = logging.WARNING if to is BreakerState.OPEN else logging.INFO
        log.log(
            level,
            "circuit breaker %s: %s -> %s (%d consecutive failures, threshold %d, open for %ss)",
            self.connector,
            before.value,
            to.value,
            self._failures,
            self.config.threshold,
            self.config.open_for.total_seconds(),
        )

    def _snapshot(self, retry_in: timedelta | None, transition: str | None = None) -> Snapshot:
        return Snapshot(
            connector=self.connector,
            state=self._state,
            consecutive_failures=self._failures,
            threshold=self.config.threshold,
            open_for_seconds=self.config.open_for.total_seconds(),
            retry_in_seconds=retry_in.total_seconds() if retry_in is not None else None,
            transition=transition,
        )


class BreakerBoard:
    """The worker's breakers, one per connector, created on first use.

    Configuration, most specific first: the connector's own settings (`breaker_threshold`,
    `breaker_open_seconds`, i.e. `RETROFIT_<CONNECTOR>_BREAKER_*`), the worker's per-connector
    `overrides`, the worker's `defaults`.
    """

    def __init__(
        self,
        defaults: BreakerConfig | None = None,
        overrides: Mapping[str, BreakerOverride] | None = None,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self._defaults = defaults or BreakerConfig()
        self._overrides = dict(overrides or {})
        self._clock = clock
        self._lock = threading.Lock()
        self._breakers: dict[str, CircuitBreaker] = {}

    def configure(self, connector: str, own: BreakerOverride | None = None) -> CircuitBreaker:
        """(Re)build `connector`'s breaker from the layered configuration; closed."""
        config = self._defaults
        worker_override = self._overrides.get(connector)
        if worker_override is not None:
            config = worker_override.over(config)
        if own is not None:
            config = own.over(config)
        breaker = CircuitBreaker(connector, config, clock=self._clock)
        with self._lock:
            self._breakers[connector] = breaker
        return breaker

    def breaker(self, connector: str) -> CircuitBreaker:
        with self._lock:
            found = self._breakers.get(connector)
        return found if found is not None else self.configure(connector)

    def states(self) -> dict[str, BreakerState]:
        with self._lock:
            breakers = list(self._breakers.values())
        return {b.connector: b.state for b in breakers}
