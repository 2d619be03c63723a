"""Where a lookup's trace goes: stderr for ``-v``, a private file for ``--trace-file``."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import os
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from smsp_cli.domain.errors import ConfigError
from smsp_cli.untrusted.sanitize import hide_values, visible

if TYPE_CHECKING:
    from smsp_cli.transport.retry import AttemptEvent
    from smsp_cli.transport.trace import Trace

TRACE_FILE_MODE = 0o600


class TraceFile:
    """A private file for the trace, opened before anything is sent so a bad path fails fast.

    It is created with mode 0600. An existing file is reused only when it is a regular file of
    ours with no other hard links; a symbolic link is never followed (O_NOFOLLOW), so a link
    planted at the path cannot redirect the trace into another file.
    """

    def __init__(self, path: Path, descriptor: int) -> None:
        self.path = path
        self._descriptor = descriptor

    @classmethod
    def create(cls, path: Path) -> TraceFile:
        """Open ``path`` for the trace, or raise ConfigError saying why it cannot be."""
        flags = (
            os.O_WRONLY
            | os.O_CREAT
            | getattr(os, "O_NOFOLLOW", 0)
            | getattr(os, "O_NONBLOCK", 0)  # a FIFO with no reader fails instead of hanging
            | getattr(os, "O_CLOEXEC", 0)
            | getattr(os, "O_BINARY", 0)
        )
        try:
            descriptor = os.open(path, flags, TRACE_FILE_MODE)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EMLINK):
                raise ConfigError(
                    f"trace file {path} is a symbolic link; refusing to follow it",
                    hint="name a new file",
                ) from None
            raise ConfigError(f"cannot create trace file {path}: {exc.strerror}") from None
        try:
            _make_private(descriptor, path)
        except BaseException:
            os.close(descriptor)
            raise
        return cls(path, descriptor)

    def write(self, text: str) -> None:
        """Write the whole trace and close the file."""
        try:
            data = text.encode("utf-8")
            while data:
                written = os.write(self._descriptor, data)
                data = data[written:]
        finally:
            self.close()

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._descriptor >= 0:
            os.close(self._descriptor)
            self._descriptor = -1


def _make_private(descriptor: int, path: Path) -> None:
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"trace file {path} exists and is not a regular file")
    if info.st_nlink > 1:
        raise ConfigError(
            f"trace file {path} has other hard links; refusing to overwrite it",
            hint="name a new file",
        )
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise ConfigError(f"trace file {path} belongs to another user", hint="name a new file")
    if hasattr(os, "fchmod"):
        os.fchmod(descriptor, TRACE_FILE_MODE)  # an existing file may have been 0644
    os.ftruncate(descriptor, 0)


@contextlib.contextmanager
def session(
    *,
    verbose: int = 0,
    trace_file: str | None = None,
    reveal: bool = False,
    hidden: tuple[str, ...] = (),
) -> Iterator[Trace | None]:
    """A trace for one lookup when ``-v`` (``verbose``) or ``--trace-file`` asks for one, else None.

    ``hidden`` are the patient's values as the user gave them: redacted wherever they appear,
    also in the provider's free text, unless ``reveal`` (``--reveal``) is given.

    The report is shown and written when the block ends, also when the lookup failed: that
    is when it is needed most. A trace file that cannot be written is a warning, never a
    reason to lose the lookup's own result or error.
    """
    if not verbose and not trace_file:
        yield None
        return
    # The trace machinery loads only when a trace is asked for: most lookups have none.
    from smsp_cli.transport.trace import Trace

    sink = TraceFile.create(Path(trace_file).expanduser()) if trace_file else None
    trace = Trace()
    try:
        yield trace
    except BaseException as error:
        trace.fail(error)
        raise
    finally:
        trace.finish()
        _deliver(trace, verbose=verbose, reveal=reveal, sink=sink, hidden=hidden)


def _deliver(
    trace: Trace, *, verbose: int, reveal: bool, sink: TraceFile | None, hidden: tuple[str, ...]
) -> None:
    from smsp_cli.output.tracetext import render

    if verbose:
        sys.stderr.write(render(trace, reveal=reveal, pretty=True, hidden=hidden))
        sys.stderr.flush()
    if sink is None:
        return
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        text = render(trace, reveal=reveal, pretty=False, hidden=hidden)
        sink.write(f"* smsp trace, {stamp}\n" + text)
    except OSError as exc:
        sys.stderr.write(f"smsp: warning: could not write trace file {sink.path}: {exc}\n")


def attempt_notes(
    verbose: int, hidden: tuple[str, ...]
) -> Callable[[AttemptEvent], None] | None:
    """For ``-v``, a line on stderr about every attempt (spec §5.9: ids only, no patient data)."""
    if not verbose:
        return None

    def observe(event: AttemptEvent) -> None:
        line = visible(hide_values(event.describe(), hidden, "***"))
        sys.stderr.write(f"smsp: {line}\n")
        sys.stderr.flush()

    return observe
