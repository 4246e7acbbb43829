"""Rate limits: a token bucket per identity (client IP or API key), as
seed 003's table sets them: a limit per minute that may be spent in a
burst and refills evenly."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Limiter:
    """`per_minute` requests per identity; 0 means no limit."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # identity: (tokens, at)
        self._lock = threading.Lock()

    def take(self, identity: str) -> float:
        """Spends one request; returns 0 when allowed, else the seconds until
        the next one would be."""
        if self.capacity <= 0:
            return 0.0
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.get(identity, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - at) * self.rate)
            if tokens < 1.0:
                self._buckets[identity] = (tokens, now)
                return (1.0 - tokens) / self.rate
            self._buckets[identity] = (tokens - 1.0, now)
            if len(self._buckets) > 100_000:
                self._forget_full(now)
            return 0.0

    def _forget_full(self, now: float) -> None:
        # A bucket that has refilled completely is the same as no bucket.
        full_after = self.capacity / self.rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}
