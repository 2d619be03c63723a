"""Reading the trail back: every file in chain order, line by line, as it stood at one moment.

The file list, each file's size and the checkpoint are taken together under a shared lock on
``audit.lock``, so no writer is half-way through a record or a rotation; the files are opened
there too, so a rotation afterwards (a rename) does not move them away. The lock is then let
go and the lines are streamed, never the whole trail in memory.

:meth:`Snapshot.pieces` reads the same lines a block at a time (up to :data:`BLOCK` bytes of
whole lines in one buffer), so that search and verify can test a block with one C call
(``bytes.find``, ``count``) instead of one Python step a line; a line that does not fit a block
(too long, or torn at the end of a file) comes as a :class:`Line`, exactly as :meth:`lines`
gives it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from smsp_cli.audit import checkpoint
from smsp_cli.audit.checkpoint import Checkpoint, CheckpointUnreadable
from smsp_cli.audit.paths import CHECKPOINT_NAME, LOCK_NAME, trail_files
from smsp_cli.domain.errors import ConfigError
from smsp_cli.fastclasses import dataclass
from smsp_cli.system.safefiles import UnsafeFile, files

# A record is well under a kilobyte; a longer line is not one, and is not held whole.
MAX_LINE = 1024 * 1024
# A block of whole lines: no bigger than MAX_LINE, so no line in a block was ever cut short.
BLOCK = 1024 * 1024


@dataclass(frozen=True)
class Line:
    """One line of a trail file: where it is, its bytes (no newline), and whether it ended."""

    file: str
    number: int  # 1-based, within its file
    raw: bytes
    whole: bool  # False: the file ends inside this line (torn)


class Block:
    """Whole lines of one file: ``data[:end]``, each ending in a newline.

    ``data`` is a buffer reused for the next block: what is kept must be copied out.
    """

    __slots__ = ("data", "end", "file")

    def __init__(self, file: str, data: bytearray, end: int) -> None:
        self.file = file
        self.data = data
        self.end = end

    def lines(self) -> list[bytes]:
        """The block's lines, copied out, without their newlines."""
        return bytes(memoryview(self.data)[: self.end - 1]).split(b"\n")


class Snapshot:
    """The trail's files, sizes and checkpoint at one moment; iterate :meth:`lines`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.files: list[tuple[str, BinaryIO, int]] = []
        self.checkpoint: Checkpoint | None = None
        self.checkpoint_unreadable = False

    @property
    def names(self) -> list[str]:
        """The file names, in chain order."""
        return [name for name, _, _ in self.files]

    def lines(self) -> Iterator[Line]:
        """Every line of every file, in chain order, up to the size each had."""
        for name, handle, size in self.files:
            try:
                handle.seek(0)
                yield from _lines(name, handle, size)
            except OSError as exc:
                raise _unreadable(self.directory / name, exc) from None

    def pieces(self) -> Iterator[Block | Line]:
        """The same lines as :meth:`lines`, in blocks of whole lines where they fit in one."""
        buffer = bytearray(BLOCK)
        for name, handle, size in self.files:
            try:
                yield from _pieces(name, handle, size, buffer)
            except OSError as exc:
                raise _unreadable(self.directory / name, exc) from None

    def close(self) -> None:
        """Close the files."""
        for _, handle, _ in self.files:
            handle.close()
        self.files = []


@contextlib.contextmanager
def snapshot(directory: Path) -> Iterator[Snapshot]:
    """The trail in ``directory`` as it is now (no files at all when there is no trail)."""
    taken = Snapshot(directory)
    layer = files()
    try:
        with _shared_lock(directory):
            for path in trail_files(directory):
                try:
                    descriptor = layer.open_file(path, os.O_RDONLY, create=False)
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    raise _unreadable(path, exc) from None
                handle = os.fdopen(descriptor, "rb")
                taken.files.append((path.name, handle, os.fstat(descriptor).st_size))
            try:
                taken.checkpoint = checkpoint.read(directory)
            except CheckpointUnreadable:
                taken.checkpoint_unreadable = True
            except OSError as exc:
                raise _unreadable(directory / CHECKPOINT_NAME, exc) from None
        yield taken
    finally:
        taken.close()


def _unreadable(path: Path, exc: OSError) -> ConfigError:
    if isinstance(exc, UnsafeFile):
        return ConfigError(f"cannot read the audit trail {exc.filename}: {exc.what}",
                           hint="smsp uses only regular files of its own in its audit directory")
    return ConfigError(f"cannot read the audit trail {path}: {exc.strerror or exc}",
                       hint="check the file's owner and mode (0600)")


@contextlib.contextmanager
def _shared_lock(directory: Path) -> Iterator[None]:
    layer = files()
    try:
        descriptor = layer.open_file(directory / LOCK_NAME, os.O_RDONLY, create=False)
    except FileNotFoundError:
        yield  # no lock file: no writer has ever run here
        return
    except OSError as exc:
        raise _unreadable(directory / LOCK_NAME, exc) from None
    try:
        layer.lock(descriptor, shared=True)
        yield
    finally:
        os.close(descriptor)


def _lines(name: str, handle: BinaryIO, size: int) -> Iterator[Line]:
    remaining = size
    number = 0
    while remaining > 0:
        chunk = handle.readline(min(remaining, MAX_LINE + 1))
        if not chunk:
            return
        remaining -= len(chunk)
        number += 1
        if chunk.endswith(b"\n"):
            yield Line(name, number, chunk[:-1], True)
        elif remaining == 0:
            yield Line(name, number, chunk, False)  # the file ends inside it: torn
        else:
            remaining -= _skip_line(handle, remaining)  # too long to be a record
            yield Line(name, number, chunk[:MAX_LINE], True)


def _pieces(name: str, handle: BinaryIO, size: int, buffer: bytearray) -> Iterator[Block | Line]:
    descriptor = handle.fileno()
    view = memoryview(buffer)
    read_into = files().read_into
    offset = 0
    while offset < size:
        count = read_into(descriptor, view[: min(BLOCK, size - offset)], offset)
        if count <= 0:
            return  # the file shrank after the snapshot: it ends here, as lines() would
        end = buffer.rfind(b"\n", 0, count) + 1
        if end:
            yield Block(name, buffer, end)
            offset += end
            continue
        # No newline in a whole block (a line too long to be a record) or a torn last line:
        # the line reader's rules, for this one line.
        handle.seek(offset)
        line = next(_lines(name, handle, size - offset))
        yield line
        offset = handle.tell()


def _skip_line(handle: BinaryIO, limit: int) -> int:
    skipped = 0
    while skipped < limit:
        chunk = handle.readline(min(limit - skipped, MAX_LINE))
        if not chunk:
            break
        skipped += len(chunk)
        if chunk.endswith(b"\n"):
            break
    return skipped
