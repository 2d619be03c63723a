"""At most R lookups a second, evenly spaced: the transactions-per-second limit a provider agrees.

Scheduled starts: the n-th start is due ``1 / R`` seconds after the one before it, and a caller
waits until a start is due. A start taken a little late keeps the schedule, so the rate holds
over a long batch; a start taken after the schedule has slipped by a whole interval or more
(the provider was slow, the machine was busy) starts a new schedule from now, so missed starts
are never made up in a burst. Two starts are never closer than one interval apart, except the
one that catches up a fraction of an interval.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Lets callers on any number of threads start at most ``rate`` times a second."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if not rate > 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        self._base_interval = self.interval
        self._slow_until = 0.0  # while the clock is before this, the rate is slowed
        self.slowdowns = 0  # how often a 429 halved the rate
        self._clock = clock
        self._due: float | None = None  # when the next start may happen
        self._lock = threading.Lock()
        self._cancelled = threading.Event()

    def wait(self) -> bool:
        """Block until this caller may start; False when cancelled first."""
        while not self._cancelled.is_set():
            delay = self.try_start()
            if delay == 0:
                return True
            self._cancelled.wait(delay)
        return False

    def try_start(self) -> float:
        """Start now and return 0, or return the seconds until a start is due."""
        with self._lock:
            now = self._clock()
            self._restore(now)
            if self._due is not None and now < self._due:
                return self._due - now
            on_schedule = self._due is not None and now - self._due < self.interval
            start = self._due if on_schedule and self._due is not None else now
            self._due = start + self.interval
            return 0.0

    def slow_down(self, seconds: float = 30.0) -> None:
        """Halve the rate for the next ``seconds`` (a provider said 429: too many requests).

        Another 429 inside the window starts the 30 s again at the same half rate (the rates
        do not compound: a burst of 429s from rows already in flight is one signal); once the
        window has passed, the agreed rate is back.
        """
        with self._lock:
            self.interval = self._base_interval * 2.0
            self._slow_until = self._clock() + seconds
            self.slowdowns += 1

    def _restore(self, now: float) -> None:
        if self._slow_until and now >= self._slow_until:
            self.interval = self._base_interval
            self._slow_until = 0.0

    def cancel(self) -> None:
        """Release every waiter now, and refuse every later one."""
        self._cancelled.set()
