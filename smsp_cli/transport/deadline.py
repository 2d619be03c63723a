"""One deadline per attempt, from connect to last byte, that nothing slow can extend.

Socket timeouts bound one operation each: a provider that sends one byte just inside the
timeout, forever, never trips them. A :class:`Deadline` is fixed when an
attempt starts; every socket operation of that attempt waits at most ``min(its own timeout,
the time left)``, and none starts once the time is up.

The deadline in force is kept in a context variable, so the socket layer underneath httpx
(:mod:`smsp_cli.transport.deadline_net`) finds the deadline of the request it is serving even when
one connection pool serves several threads, each with its own requests.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator

from smsp_cli.fastclasses import dataclass


@dataclass(frozen=True)
class Deadline:
    """A moment on the monotonic clock after which nothing more is waited for."""

    at: float
    seconds: float  # the length it was given, for messages

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        """The deadline ``seconds`` from now."""
        return cls(time.monotonic() + seconds, seconds)

    def remaining(self) -> float:
        """Seconds left; zero or less once it has passed."""
        return self.at - time.monotonic()

    @property
    def expired(self) -> bool:
        """True once the deadline has passed."""
        return self.remaining() <= 0

    def bound(self, timeout: float | None) -> float:
        """``timeout`` cut to the time left; TimeoutError when none is left."""
        left = self.remaining()
        if left <= 0:
            raise TimeoutError(f"the {self.seconds:g}s deadline has passed")
        return left if timeout is None else min(timeout, left)


_CURRENT: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "smsp_deadline", default=None
)


@contextlib.contextmanager
def applied(deadline: Deadline) -> Iterator[Deadline]:
    """Make ``deadline`` the one every socket operation in this thread honours."""
    token = _CURRENT.set(deadline)
    try:
        yield deadline
    finally:
        _CURRENT.reset(token)


def bounded(timeout: float | None) -> float | None:
    """``timeout`` cut to the deadline in force (TimeoutError once it has passed)."""
    deadline = _CURRENT.get()
    return timeout if deadline is None else deadline.bound(timeout)
