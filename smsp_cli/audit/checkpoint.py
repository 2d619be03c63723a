"""The checkpoint beside the trail: the last sequence number and hash written, so that records
cut from the end of the trail show (a hash chain alone cannot tell a short trail from a cut one).

It is replaced atomically on every append (a new file renamed over the old), so a reader sees
the old checkpoint or the new one, never half of either.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from smsp_cli.audit.paths import CHECKPOINT_NAME

FILE_MODE = 0o600
_MAX_BYTES = 4096


@dataclass(frozen=True)
class Checkpoint:
    """The head of the trail: its last sequence number and that record's hash (None: empty)."""

    seq: int
    hash: str | None


class CheckpointUnreadable(Exception):
    """The checkpoint file exists but does not hold a checkpoint."""


def read(directory: Path) -> Checkpoint | None:
    """The checkpoint in ``directory``, None when there is none; CheckpointUnreadable if damaged."""
    try:
        with open(directory / CHECKPOINT_NAME, "rb") as handle:
            data = handle.read(_MAX_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CheckpointUnreadable(exc.strerror or str(exc)) from None
    try:
        found = json.loads(data) if len(data) <= _MAX_BYTES else None
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


def write(directory: Path, checkpoint: Checkpoint, *, durable: bool) -> None:
    """Replace the checkpoint atomically; ``durable`` also forces it to the disk first."""
    target = directory / CHECKPOINT_NAME
    temporary = directory / f".{CHECKPOINT_NAME}.tmp"  # one writer at a time: under the lock
    data = json.dumps({"seq": checkpoint.seq, "hash": checkpoint.hash})
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW,
                         FILE_MODE)
    try:
        os.write(descriptor, data.encode("ascii"))
        if durable:
            os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(temporary, target)


def sync(directory: Path) -> None:
    """Force the current checkpoint and the directory's entries to the disk."""
    try:
        descriptor = os.open(directory / CHECKPOINT_NAME, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    sync_directory(directory)


def sync_directory(directory: Path) -> None:
    """Force ``directory``'s entries (renames, new files) to the disk, where the OS allows it."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # some file systems cannot sync a directory; the data itself is synced
    finally:
        os.close(descriptor)
