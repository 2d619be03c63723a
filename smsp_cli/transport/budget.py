"""A budget for reply bytes in flight: how much of large replies many threads may hold at once.

One reply within the body cap (10 MiB) costs a few times its size while it is read and parsed.
A batch reads a reply on every connection at once, so a hostile provider answering each row
with 10 MiB could make it hold sixty-four such replies at ``--concurrency 64``. Each reply past
:data:`FREE_BYTES` first reserves its size (its Content-Length, else the cap, once it has
grown past :data:`FREE_BYTES` without one) and keeps the reservation while its thread parses
it, until the thread :meth:`ReplyBudget.release` s it when the row is done: the rows past the
budget wait (their connections idle, the provider's writes held back by TCP) rather than
grow the process. The replies of a real provider, a few KiB, never touch the budget.

A reservation is taken whole or not at all, and a thread holds at most one, so waiting can
never deadlock: a reply larger than the whole budget waits until it is alone. A thread that
would reserve more than it holds first gives back what it holds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

FREE_BYTES = 256 * 1024  # a reply up to this size needs no reservation
_POLL_SECONDS = 0.25  # how often a waiting reply looks for a stop


class ReplyBudget:
    """At most ``total`` bytes of large replies held at once, across threads."""

    def __init__(self, total: int, *, stopped: Callable[[], bool] = lambda: False) -> None:
        self.total = total
        self._stopped = stopped
        self._free = total
        self._changed = threading.Condition()
        self._held = threading.local()  # .bytes: this thread's reservation
        self.most_held = 0  # the most reserved at once (for tests)

    def held(self) -> int:
        """What this thread has reserved."""
        return int(getattr(self._held, "bytes", 0))

    def reserve(self, size: int) -> float:
        """Make this thread's reservation at least ``size`` bytes (at most the whole budget),
        waiting for other threads to release theirs; a stop ends the wait unreserved. The
        seconds it waited."""
        wanted = min(size, self.total)
        if wanted <= self.held():
            return 0.0
        self.release()
        started = time.monotonic()
        with self._changed:
            while self._free < wanted:
                if self._stopped():
                    return time.monotonic() - started  # stopping: this reply is dropped
                self._changed.wait(_POLL_SECONDS)
            self._free -= wanted
            self.most_held = max(self.most_held, self.total - self._free)
        self._held.bytes = wanted
        return time.monotonic() - started

    def release(self) -> None:
        """Give back this thread's reservation (its reply has been parsed and dropped)."""
        held = self.held()
        if not held:
            return
        self._held.bytes = 0
        with self._changed:
            self._free += held
            self._changed.notify_all()
