"""The file layer on Windows: reparse points refused, msvcrt byte-range locks, no modes.

Windows has no O_NOFOLLOW, no file modes and no directory fsync. Decided instead (README,
"Limits and safety"):

* a link (any reparse point: symbolic link, junction, mount point) is refused where POSIX
  refuses one: the path is looked at without following it, opened, and the open file must be
  the very file looked at (same volume and file index), so a link swapped in between is caught;
* files are private by living in the user's profile (``%LOCALAPPDATA%``), whose ACL only the
  user and administrators can read; smsp changes no ACL, and no file has an owner check;
* a lock is ``msvcrt.locking`` on one byte far beyond any data (a lock on data would stop
  other programs reading it); Windows lets go of it when the process ends, however it ends.
  There is no shared lock: readers take the exclusive one, briefly;
* directory entries are not synced: NTFS journals them with the file's own flush.

Nothing here needs Windows to import: the lock primitive is looked up when first used, and
tests pass one, so every line of this module runs on Linux too.
"""

from __future__ import annotations

import os
import stat
import sys
import time
from collections.abc import Callable
from pathlib import Path

from smsp_cli.system.safefiles import Files, LockBusy, UnsafeFile, kind

# msvcrt's modes (stable since MS-DOS): unlock, and lock without waiting.
LK_UNLCK = 0
LK_NBLCK = 2
FILE_ATTRIBUTE_REPARSE_POINT = 0x400
# Far past any file smsp writes: locking it keeps every byte of data readable by others.
LOCK_OFFSET = 1 << 40  # 1 TiB: past any data, within every file system's offsets
_WAIT_STEP = 0.005

# (descriptor, mode, bytes) -> None, raising OSError when the range is locked elsewhere.
Locking = Callable[[int, int, int], None]


def _msvcrt_locking() -> Locking:
    if sys.platform == "win32":
        import msvcrt

        return msvcrt.locking
    else:
        raise OSError("msvcrt locks exist only on Windows")


class WindowsFiles(Files):
    """Windows: reparse points refused by look-open-compare, msvcrt locks, no modes."""

    name = "windows"

    def __init__(self, locking: Locking | None = None) -> None:
        self._locking = locking

    def is_link(self, info: os.stat_result) -> bool:
        attributes = getattr(info, "st_file_attributes", 0)
        return stat.S_ISLNK(info.st_mode) or bool(attributes & FILE_ATTRIBUTE_REPARSE_POINT)

    def owned(self, info: os.stat_result) -> bool:
        return True  # no owner in a stat; the profile directory's ACL keeps others out

    def open_file(self, path: Path | str, flags: int, *, create: bool = True) -> int:
        return self._open(path, flags | (os.O_CREAT if create else 0))

    def open_user_file(self, path: Path | str, flags: int) -> int:
        return self._open(path, flags | os.O_CREAT)

    def _open(self, path: Path | str, flags: int) -> int:
        try:
            before: os.stat_result | None = os.lstat(path)
        except FileNotFoundError:
            if not flags & os.O_CREAT:
                raise
            before = None
        if before is not None:
            self.check_file(path, before)
        binary = getattr(os, "O_BINARY", 0) | getattr(os, "O_NOINHERIT", 0)
        descriptor = os.open(path, flags | binary, 0o600)
        try:
            after = os.lstat(path)
            held = os.fstat(descriptor)
            self.check_file(path, after)
            self.check_file(path, held)
            if (held.st_dev, held.st_ino) != (after.st_dev, after.st_ino) or (
                before is not None and (before.st_dev, before.st_ino) != (held.st_dev, held.st_ino)
            ):
                raise UnsafeFile(path, "changed while it was being opened")
        except BaseException:
            os.close(descriptor)
            raise
        return descriptor

    def make_directory_private(self, path: Path, info: os.stat_result) -> None:
        """Nothing to tighten: the profile directory's ACL is what keeps the files private."""

    def lock(self, descriptor: int, *, shared: bool = False, wait: bool = True) -> None:
        locking = self._locking or _msvcrt_locking()
        while True:
            position = os.lseek(descriptor, 0, os.SEEK_CUR)
            os.lseek(descriptor, LOCK_OFFSET, os.SEEK_SET)
            try:
                locking(descriptor, LK_NBLCK, 1)
                return
            except OSError:
                if not wait:
                    raise LockBusy() from None
            finally:
                os.lseek(descriptor, position, os.SEEK_SET)
            time.sleep(_WAIT_STEP)

    def unlock(self, descriptor: int) -> None:
        locking = self._locking or _msvcrt_locking()
        position = os.lseek(descriptor, 0, os.SEEK_CUR)
        os.lseek(descriptor, LOCK_OFFSET, os.SEEK_SET)
        try:
            locking(descriptor, LK_UNLCK, 1)
        finally:
            os.lseek(descriptor, position, os.SEEK_SET)

    def read_at(self, descriptor: int, size: int, offset: int) -> bytes:
        os.lseek(descriptor, offset, os.SEEK_SET)
        return os.read(descriptor, size)

    def read_into(self, descriptor: int, buffer: memoryview, offset: int) -> int:
        # No preadv on Windows: a seek and a read, into the caller's buffer.
        os.lseek(descriptor, offset, os.SEEK_SET)
        data = os.read(descriptor, len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def write_at(self, descriptor: int, data: bytes, offset: int) -> None:
        os.lseek(descriptor, offset, os.SEEK_SET)
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view):]

    def sync_directory(self, directory: Path) -> None:
        """Nothing to do: a directory cannot be opened to flush; NTFS journals its entries."""

    def replace(self, source: Path, target: Path) -> None:
        # A reader holding the target open (an antivirus scan, an editor) makes the rename fail
        # for a moment on Windows: try again briefly before giving up.
        for _ in range(50):
            try:
                os.replace(source, target)
                return
            except PermissionError:
                time.sleep(0.02)
        os.replace(source, target)

    def base_directory(self, path: Path, *, create: bool = True) -> Path:
        if create:
            path.mkdir(parents=True, exist_ok=True)
        resolved = Path(os.path.realpath(path))
        info = os.stat(resolved)
        if not stat.S_ISDIR(info.st_mode):
            raise UnsafeFile(resolved, f"is {kind(info.st_mode)}, not a directory")
        return resolved
