"""Where output rows go: stdout, or ``--out FILE`` kept resumable beside ``FILE.meta``.

Each row is one JSON line, written whole by one write and never buffered behind the next, so
``kill -9`` at any moment leaves at most a torn last line. ``--resume`` cuts that line off,
counts the rows already there (always a prefix of the input: rows are written in input order)
and appends the rest. ``FILE.meta`` records the operation and the input's identity (path, size,
modification time), so a resume can refuse another batch's file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from smsp_cli.domain.errors import ConfigError, UsageError

FILE_MODE = 0o600  # rows hold patient data
META_SUFFIX = ".meta"
_MAX_ROW_BYTES = 64 * 1024 * 1024  # far above any row; bounds what a damaged FILE can cost
# Rows are written by json.dumps with its default separators, keys in this order: the first
# "exit_code" of a line is the row's own (a quote inside a JSON string is always escaped).
_ROW_HEAD = re.compile(rb'^\{"row": (\d+), ')
_EXIT_CODE = re.compile(rb'"exit_code": (\d+)')


def encode_row(line: Mapping[str, Any]) -> bytes:
    """One output object as a JSON line (UTF-8, exact, newline-terminated)."""
    return (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8")


@dataclass(frozen=True)
class InputIdentity:
    """What makes an input file the same input on a rerun."""

    path: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> InputIdentity:
        """The identity of the file at ``path`` now."""
        status = path.stat()
        return cls(str(path.resolve()), status.st_size, status.st_mtime_ns)


@dataclass(frozen=True)
class Earlier:
    """The rows a previous run already wrote to FILE."""

    rows: int = 0
    exit_codes: Counter[int] = field(default_factory=Counter)
    cut_bytes: int = 0  # a torn last line, cut off
    # The row that stopped that run (a failure every row would share), and the output object
    # its failure would be written as (no row number or id): what --skip-row records for it.
    stopped_row: int | None = None
    stopped_line: Mapping[str, Any] | None = None


class StdoutSink:
    """Rows to standard output, each flushed as it is written."""

    name = "stdout"

    def __init__(self, stream: BinaryIO | None = None) -> None:
        self._stream = stream or sys.stdout.buffer

    def write(self, data: bytes) -> None:
        """Write one whole line and flush it."""
        self._stream.write(data)
        self._stream.flush()

    def close(self) -> None:
        """Nothing to close: stdout stays open."""


class FileSink:
    """Rows appended to FILE: one write(2) per line, on a descriptor with no buffer."""

    def __init__(self, path: Path, descriptor: int, *, operation: str = "",
                 identity: InputIdentity | None = None) -> None:
        self.path = path
        self.operation = operation  # what FILE.meta records, rewritten when the batch stops
        self.identity = identity
        self.name = str(path)
        self._descriptor = descriptor

    def write(self, data: bytes) -> None:
        """Write one whole line (looping only if the kernel takes it in parts)."""
        view = memoryview(data)
        while view:
            written = os.write(self._descriptor, view)
            view = view[written:]

    def close(self) -> None:
        """Make the rows durable and close the file."""
        from smsp_cli.system.safefiles import files

        with contextlib.suppress(OSError):
            files().sync(self._descriptor)
        os.close(self._descriptor)


def record_stop(sink: FileSink, row: int, line: Mapping[str, Any] | None) -> None:
    """Note in ``FILE.meta`` the row that stopped the batch and its failure (for --skip-row);
    None: the batch went past any earlier stop, and the note goes."""
    stopped = None if line is None else {"row": row, "line": dict(line)}
    _write_meta(sink.path, sink.operation, sink.identity, stopped=stopped)


def open_file(path: Path, *, operation: str, identity: InputIdentity | None,
              resume: bool) -> tuple[FileSink, Earlier]:
    """Open ``--out FILE`` for this batch, or exit 2 saying why it must not be used.

    ``identity`` is None for input from stdin, which cannot be resumed.
    """
    descriptor = _open(path)
    try:
        _hold(path, descriptor)
        size = os.fstat(descriptor).st_size
        earlier = Earlier()
        if size and not resume:
            raise UsageError(
                f"{path} already holds rows of a batch",
                hint="pass --resume to go on with it, or name a new file",
            )
        stop: dict[str, Any] | None = None
        if size:
            stop = _check_meta(path, operation, identity)
            earlier = _scan(path, descriptor)
            if stop is not None:
                earlier = dataclasses.replace(earlier, stopped_row=stop["row"],
                                              stopped_line=stop["line"])
        # Names this process as the file's batch; the stop it records stays until it is passed.
        _write_meta(path, operation, identity, stopped=stop)
        return FileSink(path, descriptor, operation=operation, identity=identity), earlier
    except BaseException:
        os.close(descriptor)
        raise


def _open(path: Path) -> int:
    from smsp_cli.system.safefiles import UnsafeFile, files

    try:
        return files().open_user_file(path, os.O_RDWR | os.O_APPEND)
    except UnsafeFile as exc:
        what = exc.what
        if what.startswith("is a symbolic link"):
            what = "is a symbolic link; refusing to follow it"
        raise UsageError(f"--out {path} {what}", hint="name a regular file") from None
    except OSError as exc:
        raise UsageError(f"cannot open --out {path}: {exc.strerror}") from None


def _hold(path: Path, descriptor: int) -> None:
    """Take FILE's lock for this batch: it goes with the process, ``kill -9`` included."""
    from smsp_cli.system.safefiles import LockBusy, files

    try:
        files().lock(descriptor, wait=False)
    except LockBusy:
        holder = _holder(path)
        raise UsageError(
            f"--out {path} is being written by another smsp batch"
            + (f" (process {holder})" if holder else ""),
            hint="wait for it to finish, or name another file",
        ) from None


def _holder(path: Path) -> int | None:
    """The process that last began a batch on FILE, as its ``.meta`` says."""
    try:
        recorded = json.loads(meta_path(path).read_bytes()[:65536])
    except (OSError, ValueError):
        return None
    pid = recorded.get("pid") if isinstance(recorded, dict) else None
    return pid if isinstance(pid, int) and not isinstance(pid, bool) else None


def meta_path(path: Path) -> Path:
    """``FILE.meta``: the batch that FILE belongs to."""
    return path.with_name(path.name + META_SUFFIX)


def _meta(operation: str, identity: InputIdentity | None,
          stopped: Mapping[str, Any] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "operation": operation,
        "pid": os.getpid(),
        "input": None if identity is None else {
            "path": identity.path, "size": identity.size, "mtime_ns": identity.mtime_ns,
        },
    }
    if stopped is not None:
        meta["stopped"] = dict(stopped)  # {"row": N, "line": the failure's output object}
    return meta


def _write_meta(path: Path, operation: str, identity: InputIdentity | None, *,
                stopped: Mapping[str, Any] | None = None) -> None:
    from smsp_cli.system.safefiles import files

    target = meta_path(path)
    data = (json.dumps(_meta(operation, identity, stopped), indent=2) + "\n").encode("utf-8")
    try:
        files().write_atomically(target, data)  # whole or not at all
    except OSError as exc:
        raise ConfigError(f"cannot write {target}: {exc.strerror or exc}") from None


def _check_meta(path: Path, operation: str,
                identity: InputIdentity | None) -> dict[str, Any] | None:
    """Refuse FILE unless its ``.meta`` names this batch; the stop it records, if any."""
    target = meta_path(path)
    if identity is None:
        raise UsageError("--resume needs INPUT to be a file: input from stdin cannot be "
                         "checked against the rows already written")
    try:
        recorded = json.loads(target.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path} has no {target.name}, so it cannot be told which batch "
                         "it belongs to", hint="name a new --out file") from None
    except (OSError, ValueError):
        raise UsageError(f"{target} is unreadable", hint="name a new --out file") from None
    if not isinstance(recorded, dict):
        raise UsageError(f"{target} is not a batch description", hint="name a new --out file")
    if recorded.get("operation") != operation:
        raise UsageError(f"{path} holds rows of a `{recorded.get('operation')}` batch, "
                         f"not `{operation}`")
    written = recorded.get("input")
    if not isinstance(written, dict):
        raise UsageError(f"{path} holds rows of a batch read from stdin, which cannot be "
                         "resumed", hint="name a new --out file")
    if written.get("path") != identity.path:
        raise UsageError(f"{path} holds rows of a batch of another input file",
                         hint="resume with the same INPUT, or name a new --out file")
    if (written.get("size"), written.get("mtime_ns")) != (identity.size, identity.mtime_ns):
        raise UsageError(f"the input has changed (size or modification time) since {path} "
                         "was begun", hint="name a new --out file to start again")
    return _recorded_stop(recorded.get("stopped"))


def _recorded_stop(stopped: object) -> dict[str, Any] | None:
    """A stop as ``.meta`` records it, or None when there is none (or it is not one)."""
    if not isinstance(stopped, dict):
        return None
    row, line = stopped.get("row"), stopped.get("line")
    if isinstance(row, bool) or not isinstance(row, int) or row < 1 or not isinstance(line, dict):
        return None
    code = line.get("exit_code")
    if isinstance(code, bool) or not isinstance(code, int):
        return None
    return {"row": row, "line": line}


def _scan(path: Path, descriptor: int) -> Earlier:
    """Count the complete rows in FILE and cut a torn last line off."""
    rows = 0
    codes: Counter[int] = Counter()
    kept = 0  # bytes up to and including the last newline
    with os.fdopen(os.dup(descriptor), "rb") as reader:
        reader.seek(0)
        while line := reader.readline(_MAX_ROW_BYTES):
            if not line.endswith(b"\n"):
                if reader.peek(1):
                    raise UsageError(f"{path} line {rows + 1} is too long to be a row",
                                     hint="name a new --out file")
                break  # torn: the batch was killed while writing it
            rows += 1
            head = _ROW_HEAD.match(line)
            code = _EXIT_CODE.search(line)
            if head is None or int(head.group(1)) != rows or code is None:
                raise UsageError(f"{path} line {rows} is not row {rows} of a batch",
                                 hint="name a new --out file")
            codes[int(code.group(1))] += 1
            kept += len(line)
        size = os.fstat(descriptor).st_size
    if size > kept:
        os.ftruncate(descriptor, kept)
    return Earlier(rows, codes, size - kept)
