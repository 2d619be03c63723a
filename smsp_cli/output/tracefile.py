"""Where a lookup's trace goes: stderr for ``-v``, a private file for ``--trace-file``."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from smsp_cli.domain.errors import ConfigError, UsageError
from smsp_cli.untrusted.sanitize import hide_values, visible

if TYPE_CHECKING:
    from smsp_cli.transport.retry import AttemptEvent
    from smsp_cli.transport.trace import Trace

TRACE_FILE_MODE = 0o600


class TraceFile:
    """A private file for the trace, opened before anything is sent so a bad path fails fast.

    A new file is created with mode 0600. An existing file is used only when it is an empty
    regular file of the user's with no other hard links (what ``mktemp`` makes), its mode left
    as the user set it; a link is never followed, and a file with content, a FIFO or a device
    is refused (exit 2) before anything is sent: a trace never replaces another file.
    """

    def __init__(self, path: Path, descriptor: int) -> None:
        self.path = path
        self._descriptor = descriptor

    @classmethod
    def create(cls, path: Path) -> TraceFile:
        """Open ``path`` for the trace, or raise UsageError saying why it cannot be."""
        from smsp_cli.system.safefiles import UnsafeFile, files

        try:
            descriptor = files().open_user_file(path, os.O_WRONLY)
        except UnsafeFile as exc:
            what = exc.what
            if what.startswith("is a symbolic link"):
                what = "is a symbolic link; refusing to follow it"
            raise UsageError(f"--trace-file {path} {what}", hint="name a new file") from None
        except OSError as exc:
            raise ConfigError(f"cannot create trace file {path}: {exc.strerror}") from None
        try:
            info = os.fstat(descriptor)
            if info.st_size:
                raise UsageError(f"--trace-file {path} already exists and is not empty; "
                                 "a trace never replaces a file", hint="name a new file")
            if info.st_nlink > 1:
                raise UsageError(f"--trace-file {path} has other hard links",
                                 hint="name a new file")
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
