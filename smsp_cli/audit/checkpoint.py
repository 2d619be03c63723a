"""The checkpoint beside the trail: the last sequence number and hash written, so that records
cut from the end of the trail show (a hash chain alone cannot tell a short trail from a cut one).

It is rewritten once the records it names are on the disk, atomically and cheaply: the file
holds exactly one 128-byte line, replaced by a single write at offset 0. That lies within one
disk sector, so a crash leaves the old checkpoint or the new one, never a mix; readers take the
trail's lock, so they never see a write half done. (Creating a new file and renaming it over
the old costs a forced flush per append on ext4, which a batch writing hundreds of records a
second cannot pay.)
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from smsp_cli.audit.paths import CHECKPOINT_NAME
from smsp_cli.system.safefiles import UnsafeFile, files

SIZE = 128  # bytes: the whole file, padded, ending in a newline


@dataclass(frozen=True)
class Checkpoint:
    """The head of the trail: its last sequence number and that record's hash (None: empty)."""

    seq: int
    hash: str | None

    def encode(self) -> bytes:
        """The file's whole content: the checkpoint as JSON, padded to :data:`SIZE` bytes."""
        text = json.dumps({"seq": self.seq, "hash": self.hash})
        return (text.ljust(SIZE - 1) + "\n").encode("ascii")


class CheckpointUnreadable(Exception):
    """The checkpoint file exists but does not hold a checkpoint."""


def read(directory: Path) -> Checkpoint | None:
    """The checkpoint in ``directory``, None when there is none; CheckpointUnreadable if damaged.

    A FIFO, device or link in its place raises UnsafeFile (never read, never waited on).
    """
    layer = files()
    try:
        descriptor = layer.open_file(directory / CHECKPOINT_NAME, os.O_RDONLY, create=False)
    except FileNotFoundError:
        return None
    except UnsafeFile:
        raise
    except OSError as exc:
        raise CheckpointUnreadable(exc.strerror or str(exc)) from None
    try:
        data = layer.read_at(descriptor, SIZE * 4, 0)
    except OSError as exc:
        raise CheckpointUnreadable(exc.strerror or str(exc)) from None
    finally:
        os.close(descriptor)
    return decode(data)


def decode(data: bytes) -> Checkpoint:
    """The checkpoint held in ``data``; CheckpointUnreadable when it holds none."""
    try:
        found = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        found = None
    if not isinstance(found, dict):
        raise CheckpointUnreadable("not a checkpoint")
    seq, digest = found.get("seq"), found.get("hash")
    if (
        not isinstance(seq, int) or isinstance(seq, bool) or seq < 0
        or not (digest is None or isinstance(digest, str))
    ):
        raise CheckpointUnreadable("not a checkpoint")
    return Checkpoint(seq, digest)


class CheckpointFile:
    """The checkpoint held open by one writer, rewritten in place (the caller holds the lock)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / CHECKPOINT_NAME
        self._fd = -1
        self._held: tuple[int, int] | None = None  # (inode, device) of the file held open
        self._files = files()

    def open(self) -> None:
        """Open an existing checkpoint now: a FIFO or link in its place fails here, before any
        call is made (a missing one is created when first written)."""
        self.close()
        with contextlib.suppress(FileNotFoundError):
            self._fd = self._files.open_file(self.path, os.O_RDWR, create=False)
            self._remember()

    def reload(self) -> Checkpoint | None:
        """The checkpoint now at the path, which is held open from here on (None: there is
        none); CheckpointUnreadable if damaged, UnsafeFile for a FIFO, device or link there."""
        try:
            if not self.is_current():
                self.open()
            if self._fd < 0:
                return None
            data = self._files.read_at(self._fd, SIZE * 4, 0)
        except UnsafeFile:
            raise
        except OSError as exc:
            raise CheckpointUnreadable(exc.strerror or str(exc)) from None
        return decode(data)

    def _remember(self) -> None:
        held = os.fstat(self._fd)
        self._held = (held.st_ino, held.st_dev)

    def is_current(self) -> bool:
        """True when the file held open is still the one at the checkpoint's path."""
        if self._fd < 0:
            return False
        try:
            on_disk = os.stat(self.path, follow_symlinks=False)
        except FileNotFoundError:
            return False
        return (on_disk.st_ino, on_disk.st_dev) == self._held

    def write(self, checkpoint: Checkpoint) -> None:
        """Replace the checkpoint in one write (forced to the disk by :meth:`sync`).

        Callers write it only once the records it names are on the disk, so after a power cut
        it can only be behind the trail, which verify accepts; never ahead, which it would call
        a cut.
        """
        if not self.is_current():
            self._reopen()
        self._files.write_at(self._fd, checkpoint.encode(), 0)

    def advance(self, checkpoint: Checkpoint, *, checked: bool = False) -> int:
        """Write ``checkpoint`` unless the file already names that record or a later one;
        return the sequence number the file names now.

        ``checked``: the caller found :meth:`is_current` true under the lock it still holds,
        so the file is not looked at again.
        """
        if not (checked and self._fd >= 0) and not self.is_current():
            self._reopen()
        try:
            saved: Checkpoint | None = decode(self._files.read_at(self._fd, SIZE, 0))
        except CheckpointUnreadable:
            saved = None
        if saved is not None and saved.seq >= checkpoint.seq:
            return saved.seq
        self._files.write_at(self._fd, checkpoint.encode(), 0)
        return checkpoint.seq

    def put(self, checkpoint: Checkpoint) -> None:
        """Write ``checkpoint`` without reading the file first: the caller knows, under the lock
        it holds, that the file names an earlier record (and found :meth:`is_current` true)."""
        self._files.write_at(self._fd, checkpoint.encode(), 0)

    def sync(self) -> None:
        """Force the checkpoint to the disk."""
        if self._fd >= 0:
            self._files.sync(self._fd)

    def close(self) -> None:
        """Let go of the file."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
            self._held = None

    def _reopen(self) -> None:
        self.close()
        self._fd = self._files.open_file(self.path, os.O_RDWR)
        self._remember()
        if os.fstat(self._fd).st_size != SIZE:
            os.ftruncate(self._fd, SIZE)
        if os.fstat(self._fd).st_size and not any(self._files.read_at(self._fd, 1, 0)):
            # Created just now (all zeros): a checkpoint that vanished in a power cut would
            # read as deleted, so make its entry stay.
            self._files.sync(self._fd)
            self._files.sync_directory(self.path.parent)
