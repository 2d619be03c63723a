"""Which processes are writing the trail, so that calls a dead one left open get an outcome.

Each writer, before its first ``sent`` record, creates ``writers/TOKEN.lock`` in the trail's
directory and holds its lock for as long as it lives (the lock goes with the process, also on
``kill -9``); its ``sent`` records carry ``"writer": TOKEN``. A writer that opens the trail
tries each other lock file: one it can take belongs to a process that has ended. For each
``sent`` record of that writer with no outcome, it writes a ``failed`` record, reason "the
process ended before the reply", then removes the file.

A writer creates its file and then locks it: in between, another writer could take the lock
of a process very much alive. So a writer, once it holds its lock, writes its process id in
the file; an empty file is one being registered right now and is left alone (unless it has been
empty for a minute: its process died before its first call, so there is nothing to settle).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from smsp_cli.audit import records
from smsp_cli.audit.paths import trail_files
from smsp_cli.system.safefiles import LockBusy, files, write_all

DIRECTORY = "writers"
ENDED = "the process ended before the reply"
# The call fields a `failed` record repeats from its `sent` record.
_CALL_FIELDS = ("username", "profile", "environment", "endpoint", "operation", "batch_row",
                "message_id", "attempt")
_SCAN_FILES = 2  # the current file and the last rotated one: where a dead writer's calls are
_REGISTERING = 60.0  # seconds an empty lock file is taken to be one being registered


class WriterRegistration:
    """This process's lock file: created on first use, held until :meth:`close`."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory / DIRECTORY
        self.token: str | None = None
        self._fd = -1

    def ensure(self) -> str:
        """This writer's token, registering it first if needed."""
        if self.token is not None:
            return self.token
        layer = files()
        layer.directory(self._directory)
        token = secrets.token_hex(8)
        descriptor = layer.open_file(self._directory / f"{token}.lock", os.O_RDWR)
        try:
            # Waits at most for another writer that took it first and found it empty.
            layer.lock(descriptor)
            write_all(descriptor, f"{os.getpid()}\n".encode("ascii"))  # registered: see above
            layer.sync(descriptor)
            layer.sync_directory(self._directory)  # after a power cut, it is still found
        except BaseException:
            os.close(descriptor)
            raise
        self._fd, self.token = descriptor, token
        return token

    def close(self) -> None:
        """Remove the file and let go of its lock (every call has its outcome by now)."""
        if self._fd < 0 or self.token is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self._directory / f"{self.token}.lock")
        with contextlib.suppress(OSError):
            os.close(self._fd)
        self._fd = -1


def ended_writers(directory: Path) -> list[tuple[str, int]]:
    """The tokens of writers whose process has ended, each with its lock file held open."""
    found: list[tuple[str, int]] = []
    layer = files()
    try:
        names = sorted(os.listdir(directory / DIRECTORY))
    except FileNotFoundError:
        return found
    for name in names:
        if not name.endswith(".lock"):
            continue
        try:
            descriptor = layer.open_file(directory / DIRECTORY / name, os.O_RDWR, create=False)
        except OSError:
            continue
        try:
            layer.lock(descriptor, wait=False)
        except LockBusy:
            os.close(descriptor)
            continue  # alive
        if _registering(descriptor):
            os.close(descriptor)
            continue
        found.append((name.removesuffix(".lock"), descriptor))
    return found


def _registering(descriptor: int) -> bool:
    """True for the lock file of a writer between creating and locking it."""
    held = os.fstat(descriptor)
    return held.st_size == 0 and time.time() - held.st_mtime < _REGISTERING


def open_calls(directory: Path, tokens: set[str]) -> list[Mapping[str, Any]]:
    """The `sent` records of these writers that have no outcome, oldest first."""
    layer = files()
    waiting: dict[tuple[object, object], Mapping[str, Any]] = {}
    for path in trail_files(directory)[-_SCAN_FILES:]:
        try:
            descriptor = layer.open_file(path, os.O_RDONLY, create=False)
        except FileNotFoundError:
            continue
        with os.fdopen(descriptor, "rb") as handle:
            for line in handle:
                if b'"writer"' not in line and b'"received"' not in line and (
                        b'"failed"' not in line):
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(record, dict):
                    continue
                key = (record.get("message_id"), record.get("attempt"))
                if record.get("event") == records.SENT and record.get("writer") in tokens:
                    waiting[key] = record
                elif record.get("event") in (records.RECEIVED, records.FAILED):
                    waiting.pop(key, None)
    return list(waiting.values())


def ended_call(sent: Mapping[str, Any]) -> dict[str, Any]:
    """The `failed` record for a call whose process ended before its reply."""
    return records.stamped(records.FAILED, {
        **{name: sent[name] for name in _CALL_FIELDS if name in sent},
        "http_status": None, "exit_code": 4, "error": "process_ended", "reason": ENDED,
    })


def settle_ended(directory: Path, append: Callable[[Mapping[str, Any]], object]) -> int:
    """Give every call of every ended writer its outcome; return how many there were."""
    ended = ended_writers(directory)
    if not ended:
        return 0
    try:
        calls = open_calls(directory, {token for token, _ in ended})
        for sent in calls:
            append(ended_call(sent))
        for token, _ in ended:
            with contextlib.suppress(OSError):
                os.unlink(directory / DIRECTORY / f"{token}.lock")
        return len(calls)
    finally:
        for _, descriptor in ended:
            os.close(descriptor)
