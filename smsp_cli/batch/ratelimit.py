"""At most R lookups a second, evenly spaced: the transactions-per-second limit a provider agrees.

Scheduled starts: the n-th start is given the slot ``first + n / R`` (or now, if later), and
waits for it. A batch that fell behind, because the provider was slow, does not catch up with
a burst: the next slot is counted from the late start, never from the missed ones.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Hands out start times at least ``1 / rate`` seconds apart, to any number of threads."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if not rate > 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        self._clock = clock
        self._next: float | None = None
        self._lock = threading.Lock()
        self._cancelled = threading.Event()

    def wait(self) -> bool:
        """Block until this caller's slot; False when cancelled before it came."""
        delay = self.reserve()
        if delay > 0:
            return not self._cancelled.wait(delay)
        return not self._cancelled.is_set()

    def reserve(self) -> float:
        """Take the next slot and return the seconds until it (0 when it is now)."""
        with self._lock:
            now = self._clock()
            slot = now if self._next is None else max(now, self._next)
            self._next = slot + self.interval
        return slot - now

    def cancel(self) -> None:
        """Release every waiter now, and every later one at once."""
        self._cancelled.set()
