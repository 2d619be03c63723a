"""The standard streams as a command meets them: terminals, and readers that go away."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import IO, Any


def is_terminal(stream: IO[Any] | None) -> bool:
    """True when ``stream`` is a terminal (False for None, a closed or a replaced stream)."""
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):
        return False


def silence_stdout() -> None:
    """Point stdout at nothing once its reader has gone (``| head``), so the flushes still to
    come (the interpreter's, at exit) do not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        with contextlib.suppress(OSError, ValueError):
            os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


def note(text: str) -> None:
    """One ``smsp: ...`` line on stderr for the person at the terminal (never data)."""
    sys.stderr.write(f"smsp: {text}\n")
    sys.stderr.flush()
