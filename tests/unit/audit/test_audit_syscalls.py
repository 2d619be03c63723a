"""What one append asks of the operating system: every call a thread of a batch makes hands the
interpreter's lock to another thread, so the trail's hot path makes no call it can do without.

The calls are counted by wrapping the ``os`` and ``fcntl`` functions the file layer uses (each
wrapper calls the real function: the trail still reads, writes, locks and syncs real files).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from smsp_cli.audit import records
from smsp_cli.audit.checkpoint import Checkpoint, read
from smsp_cli.audit.trail import Trail

_COUNTED = {
    os: ("stat", "lstat", "fstat", "open", "close", "dup", "write", "pread", "pwrite", "fsync",
         "ftruncate", "listdir", "rename"),
    fcntl: ("flock",),
}


class _Calls:
    """The counted calls, by name, made while :meth:`counting` is open."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.made: Counter[str] = Counter()
        self._on = False
        for module, names in _COUNTED.items():
            for name in names:
                monkeypatch.setattr(module, name, self._wrap(name, getattr(module, name)))

    def _wrap(self, name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            if self._on:
                self.made[name] += 1
            return real(*args, **kwargs)

        return counted

    @contextmanager
    def counting(self) -> Iterator[Counter[str]]:
        self.made = Counter()
        self._on = True
        try:
            yield self.made
        finally:
            self._on = False


def _sent(n: int) -> dict[str, Any]:
    return records.stamped("sent", {"message_id": f"MSG-{n}", "nhs_numbers": ["9434765919"]})


def _received(n: int) -> dict[str, Any]:
    return records.stamped("received", {"message_id": f"MSG-{n}", "nhs_numbers": []})


def test_a_batch_trail_appends_with_one_look_at_each_file_one_lock_and_one_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _Calls(monkeypatch)
    with Trail(tmp_path, fsync_interval=3600) as trail:
        for n in range(3):  # the first records create the files and register the writer
            trail.append(_sent(n))
            trail.append(_received(n))
        with calls.counting() as made:
            trail.append(_received(3))
        # The trail's path (a rotation by another process), the checkpoint's path (replaced?),
        # the lock taken and let go, the record written: nothing else.
        assert made == {"stat": 2, "flock": 2, "write": 1}
        with calls.counting() as made:
            sent_seq = trail.append(_sent(4))
        assert made == {"stat": 2, "flock": 2, "write": 1, "fsync": 1}  # on the disk first
        with calls.counting() as made:
            trail.append(_received(4))
        # The checkpoint moves to the synced `sent` record under this record's lock, rewritten
        # in place unread: nobody wrote between, so no writer can have moved it further.
        assert made == {"stat": 2, "flock": 2, "write": 1, "pwrite": 1}
        sent_line = (tmp_path / "audit.jsonl").read_bytes().splitlines()[sent_seq - 1]
        assert read(tmp_path) == Checkpoint(sent_seq, hashlib.sha256(sent_line).hexdigest())


def test_where_a_look_by_name_may_be_stale_the_file_held_open_is_asked_its_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Windows: a look by name may give what the directory entry last recorded of a file that
    # another process is appending to; the size must come from the file itself there.
    from smsp_cli.system.posix_files import PosixFiles

    monkeypatch.setattr(PosixFiles, "path_status_is_current", False)
    calls = _Calls(monkeypatch)
    with Trail(tmp_path, fsync_interval=3600) as trail:
        other = Trail(tmp_path, fsync_interval=3600)
        trail.append(_received(0))
        other.append(_received(1))  # another writer appends: the size tells the first one
        with calls.counting() as made:
            seq = trail.append(_received(2))
        other.close()
    assert seq == 3
    assert made["fstat"] == 1
    assert [json.loads(line)["seq"] for line in
            (tmp_path / "audit.jsonl").read_bytes().splitlines()] == [1, 2, 3]


def test_a_single_lookup_trail_syncs_and_checkpoints_each_record_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _Calls(monkeypatch)
    with Trail(tmp_path) as trail:
        trail.append(_sent(0))
        trail.append(_received(0))
        with calls.counting() as made:
            seq = trail.append(_received(1))
        assert made == {"stat": 3, "flock": 4, "write": 1, "fsync": 1, "pread": 1, "pwrite": 1}
        last = (tmp_path / "audit.jsonl").read_bytes().splitlines()[-1]
        assert read(tmp_path) == Checkpoint(seq, hashlib.sha256(last).hexdigest())


def test_a_rotation_during_a_sync_closes_the_synced_file_only_once_the_sync_is_done(
    tmp_path: Path,
) -> None:
    # The sync of a group runs outside the trail's locks, so another thread's record may rotate
    # the file meanwhile: the descriptor being synced must stay that file's until the sync ends
    # (closed under it, its number could be reused by the new file).
    seen: list[int] = []
    started = threading.Event()
    holder: list[Trail] = []

    def sync(descriptor: int) -> None:
        if not started.is_set():
            started.set()
            rotating = threading.Thread(target=holder[0].append, args=(_received(1),))
            rotating.start()
            rotating.join()
            seen.append(os.fstat(descriptor).st_ino)
        os.fsync(descriptor)

    trail = Trail(tmp_path, max_bytes=200, fsync_interval=3600, sync=sync)
    holder.append(trail)
    with trail:
        trail.append(_sent(0))  # its group's sync starts the rotating record
    assert (tmp_path / "audit.000001.jsonl").exists()
    assert seen == [(tmp_path / "audit.000001.jsonl").stat().st_ino]


def test_a_batch_checkpoint_never_moves_back_past_another_writers(tmp_path: Path) -> None:
    # Two writers of one trail, as two processes would be. The first's `sent` record is being
    # synced while the second writes after it and checkpoints its own record, and the first
    # writes again (seeing the second's record); when the first's sync ends, its synced head is
    # older than what the checkpoint names, and must not replace it.
    release = threading.Event()

    def slow_sync(descriptor: int) -> None:
        release.wait(10)
        os.fsync(descriptor)

    first = Trail(tmp_path, fsync_interval=3600, sync=slow_sync)
    second = Trail(tmp_path, fsync_interval=3600)
    try:
        first.append(_received(0))  # 1
        syncing = threading.Thread(target=first.append, args=(_sent(1),))  # 2, synced slowly
        syncing.start()
        while len((tmp_path / "audit.jsonl").read_bytes().splitlines()) < 2:
            time.sleep(0.001)
        second.append(_received(2))  # 3
        second.sync()
        first.append(_received(3))  # 4: after the second writer's record
        release.set()
        syncing.join()
        lines = (tmp_path / "audit.jsonl").read_bytes().splitlines()
        assert read(tmp_path) == Checkpoint(3, hashlib.sha256(lines[2]).hexdigest())
        first.append(_received(4))  # 5: the first writer's synced head (2) is due now
        assert read(tmp_path) == Checkpoint(3, hashlib.sha256(lines[2]).hexdigest())
    finally:
        release.set()
        first.close()
        second.close()
    lines = (tmp_path / "audit.jsonl").read_bytes().splitlines()
    assert read(tmp_path) == Checkpoint(5, hashlib.sha256(lines[4]).hexdigest())


def test_a_checkpoint_deleted_under_a_batch_is_said_once(tmp_path: Path) -> None:
    said: list[str] = []
    with Trail(tmp_path, fsync_interval=3600, notify=said.append) as trail:
        trail.append(_sent(0))
        trail.append(_received(0))
        (tmp_path / "checkpoint.json").unlink()
        for n in range(1, 4):
            trail.append(_received(n))
            trail.append(_sent(n))
    found = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_bytes().splitlines()]
    assert [(r["seq"], r["event"], r.get("problem")) for r in found][2:5] == [
        (3, "integrity", "checkpoint-missing"), (4, "received", None), (5, "sent", None),
    ]
    assert [r.get("problem") for r in found].count("checkpoint-missing") == 1
    assert len(said) == 1
    lines = (tmp_path / "audit.jsonl").read_bytes().splitlines()
    assert read(tmp_path) == Checkpoint(9, hashlib.sha256(lines[8]).hexdigest())
