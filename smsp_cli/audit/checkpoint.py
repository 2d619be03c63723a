"""The checkpoint beside the trail: the last sequence number and hash written, so that records
cut from the end of the trail show (a hash chain alone cannot tell a short trail from a cut one).

It is rewritten on every append, atomically and cheaply: the file holds exactly one 128-byte
line, replaced by a single ``pwrite`` at offset 0. That lies within one disk sector, so a crash
leaves the old checkpoint or the new one, never a mix; readers take the trail's lock, so they
never see a write half done. (Creating a new file and renaming it over the old costs a forced
flush per append on ext4, which a batch writing hundreds of records a second cannot pay.)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from smsp_cli.audit.paths import CHECKPOINT_NAME
from smsp_cli.system.files import sync_directory

FILE_MODE = 0o600
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
    """The checkpoint in ``directory``, None when there is none; CheckpointUnreadable if damaged."""
    try:
        with open(directory / CHECKPOINT_NAME, "rb") as handle:
            data = handle.read(SIZE * 4)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CheckpointUnreadable(exc.strerror or str(exc)) from None
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

    def is_current(self) -> bool:
        """True when the file held open is still the one at the checkpoint's path."""
        if self._fd < 0:
            return False
        try:
            on_disk = os.stat(self.path, follow_symlinks=False)
        except FileNotFoundError:
            return False
        held = os.fstat(self._fd)
        return (on_disk.st_ino, on_disk.st_dev) == (held.st_ino, held.st_dev)

    def write(self, checkpoint: Checkpoint) -> None:
        """Replace the checkpoint in one write (forced to the disk by :meth:`sync`).

        Callers write it only once the records it names are on the disk, so after a power cut
        it can only be behind the trail, which verify accepts; never ahead, which it would call
        a cut.
        """
        if not self.is_current():
            self._reopen()
        os.pwrite(self._fd, checkpoint.encode(), 0)

    def sync(self) -> None:
        """Force the checkpoint to the disk."""
        if self._fd >= 0:
            os.fsync(self._fd)

    def close(self) -> None:
        """Let go of the file."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _reopen(self) -> None:
        self.close()
        created = not self.path.exists()
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, FILE_MODE)
        if os.fstat(self._fd).st_mode & 0o777 != FILE_MODE:
            os.fchmod(self._fd, FILE_MODE)
        os.ftruncate(self._fd, SIZE)
        if created:
            # A checkpoint that vanished in a power cut would read as deleted: make it stay.
            os.fsync(self._fd)
            sync_directory(self.path.parent)
