"""A token bucket that spaces a connector's requests, for systems with a published rate limit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class TokenBucket:
    """`rate` requests per second on average, with bursts of up to `burst` requests.

    Waiters queue on an `asyncio.Lock` (first come, first served) and the head of the queue sleeps
    exactly until the next token is due: no polling. Holding the lock across that sleep is the
    point — it orders the waiters — and a cancelled waiter releases it without consuming a token.
    The bucket is per connector instance, so per worker process: a limit shared by several workers
    must be divided among them in their settings.
    """

    def __init__(self, rate: float, burst: int = 1, *, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait until a request may go out, and take its token."""
        async with self._lock:
            self._refill()
            if self._tokens < 1:
                await asyncio.sleep((1 - self._tokens) / self.rate)
                self._refill()
            # Sleep granularity can wake us a hair early; never let the balance go below zero.
            self._tokens = max(self._tokens - 1, 0.0)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
