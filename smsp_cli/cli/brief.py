"""How a lookup runs: it starts, answers and exits within a fraction of a second.

Two things the interpreter does buy such a process nothing but time:

* the cyclic garbage collector rescans, again and again, the few hundred thousand long-lived
  objects that start-up creates: about 12 ms of a lookup, to free well under 1 MiB;
* the teardown at exit frees every one of those objects one by one, just before the operating
  system reclaims the whole process at once: about 22 ms.

So a lookup runs with the collector off and, once it has finished, ends as the interpreter
would, in the same order: exit handlers run first (the audit trail closes there), then stdout
and stderr are flushed, and the exit status is the same, but without the teardown. Anything out
of the ordinary takes the interpreter's own way out instead: an exception other than
``SystemExit``, an exit status that is not a number, another thread still running, or output
that cannot be flushed (a closed pipe is reported as usual). Only the five lookup commands run
so; anything long-running (``sandbox serve``, ``batch``) keeps the collector and the teardown.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
import threading
from collections.abc import Callable


def run(command: Callable[[], object]) -> int:
    """Run ``command`` (a Typer app, which ends by raising SystemExit) as a brief command.

    How it ended becomes an exit status at the one error boundary
    (:func:`smsp_cli.cli.reporting.exit_status`); the status, when the shortcut is unsafe.
    """
    from smsp_cli.cli.reporting import exit_status

    gc.disable()
    status = exit_status(lambda: _status(command()))
    exit_now(status)
    return status


def _status(result: object) -> int:
    return result if isinstance(result, int) else 0


def exit_now(status: int) -> None:
    """End the process with ``status`` without the interpreter's teardown; return if unsafe."""
    # The interpreter's own exit runs the exit handlers; without them there is no shortcut.
    run_exit_handlers: Callable[[], None] | None = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_handlers is None or threading.active_count() > 1:
        return
    run_exit_handlers()  # and forgets them, so the fallback below never runs them twice
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return  # e.g. a closed pipe: the interpreter reports it as it always does
    os._exit(status)
