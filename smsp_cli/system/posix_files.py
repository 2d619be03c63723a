"""The file layer on Linux, macOS and other POSIX systems: O_NOFOLLOW, fchmod, flock, pread."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

from smsp_cli.system.safefiles import (
    DIR_MODE,
    FILE_MODE,
    Files,
    LockBusy,
    UnsafeFile,
    kind,
    write_all,
)

assert sys.platform != "win32"  # tells type checkers that what follows is POSIX-only

# O_NONBLOCK: opening a FIFO must fail or return at once, never wait for a writer or reader.
_OPEN = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC

if sys.platform == "darwin":

    def sync_to_storage(descriptor: int) -> None:
        """Force the file to permanent storage. On macOS fsync(2) only hands the data to the
        drive, whose cache a power cut can lose (Apple's fsync man page); F_FULLFSYNC asks the
        drive to write it out. File systems that cannot (SMB, some external disks) get fsync."""
        try:
            fcntl.fcntl(descriptor, fcntl.F_FULLFSYNC)
        except OSError:
            os.fsync(descriptor)

else:

    def sync_to_storage(descriptor: int) -> None:
        """Force the file to permanent storage: fsync(2), which on Linux flushes the drive's
        cache too."""
        os.fsync(descriptor)


class PosixFiles(Files):
    """POSIX: a link is refused by the open itself, modes are real, directories sync."""

    name = "posix"
    path_status_is_current = True

    def __init__(self, uid: int | None = None) -> None:
        self._uid = os.geteuid() if uid is None else uid

    def is_link(self, info: os.stat_result) -> bool:
        return stat.S_ISLNK(info.st_mode)

    def readable_by_others(self, info: os.stat_result) -> bool:
        return bool(info.st_mode & 0o077)

    def owned(self, info: os.stat_result) -> bool:
        return info.st_uid == self._uid

    def open_file(self, path: Path | str, flags: int, *, create: bool = True) -> int:
        descriptor = self._open(path, flags | (os.O_CREAT if create else 0))
        try:
            info = os.fstat(descriptor)
            self.check_file(path, info)
            if info.st_mode & 0o777 != FILE_MODE:
                os.fchmod(descriptor, FILE_MODE)  # the descriptor is the checked file itself
        except BaseException:
            os.close(descriptor)
            raise
        return descriptor

    def open_user_file(self, path: Path | str, flags: int) -> int:
        descriptor = self._open(path, flags | os.O_CREAT)
        try:
            self.check_file(path, os.fstat(descriptor))
        except BaseException:
            os.close(descriptor)
            raise
        return descriptor

    def _open(self, path: Path | str, flags: int) -> int:
        # A quick look first, so that a device or FIFO is never even opened.
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            if not flags & os.O_CREAT:
                raise
        else:
            if not stat.S_ISREG(info.st_mode):
                if stat.S_ISLNK(info.st_mode):
                    raise UnsafeFile(path, "is a symbolic link; smsp does not follow links "
                                           "to its files")
                raise UnsafeFile(path, f"is {kind(info.st_mode)}, not a regular file")
        try:
            return os.open(path, flags | _OPEN, FILE_MODE)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EMLINK):
                raise UnsafeFile(path, "is a symbolic link; smsp does not follow links to "
                                       "its files") from None
            if exc.errno == errno.ENXIO:
                raise UnsafeFile(path, "is a FIFO, not a regular file") from None
            raise

    def make_directory_private(self, path: Path, info: os.stat_result) -> None:
        if info.st_mode & 0o777 == DIR_MODE:
            return
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY | _OPEN)
        except OSError:
            return
        try:
            if (os.fstat(descriptor).st_ino, os.fstat(descriptor).st_dev) == (
                info.st_ino, info.st_dev,
            ):
                os.fchmod(descriptor, DIR_MODE)
        except OSError:
            pass  # not ours to change: the files inside stay 0600
        finally:
            os.close(descriptor)

    def lock(self, descriptor: int, *, shared: bool = False, wait: bool = True) -> None:
        operation = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        try:
            fcntl.flock(descriptor, operation if wait else operation | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockBusy() from None

    def unlock(self, descriptor: int) -> None:
        fcntl.flock(descriptor, fcntl.LOCK_UN)

    def read_at(self, descriptor: int, size: int, offset: int) -> bytes:
        return os.pread(descriptor, size, offset)

    def read_into(self, descriptor: int, buffer: memoryview, offset: int) -> int:
        return os.preadv(descriptor, [buffer], offset)

    def write_at(self, descriptor: int, data: bytes, offset: int) -> None:
        os.pwrite(descriptor, data, offset)

    @contextlib.contextmanager
    def private_copies(self, contents: list[bytes]) -> Iterator[list[str]]:
        """On Linux, anonymous memory files (memfd) named through the process's own descriptor
        directory: nothing reaches a disk or a directory others can list. Elsewhere, private
        temporary files."""
        own_descriptors = os.path.join(os.sep, "proc", "self", "fd")
        if (sys.platform != "linux" or not hasattr(os, "memfd_create")
                or not os.path.isdir(own_descriptors)):
            with super().private_copies(contents) as paths:
                yield paths
            return
        descriptors: list[int] = []
        try:
            for number, content in enumerate(contents):
                descriptor = os.memfd_create(f"smsp-secret-{number}", os.MFD_CLOEXEC)
                descriptors.append(descriptor)
                write_all(descriptor, content)
            yield [os.path.join(own_descriptors, str(fd)) for fd in descriptors]
        finally:
            for descriptor in descriptors:
                os.close(descriptor)

    def sync(self, descriptor: int) -> None:
        sync_to_storage(descriptor)

    def sync_directory(self, directory: Path) -> None:
        try:
            descriptor = os.open(directory, os.O_RDONLY | _OPEN)
        except OSError:
            return
        try:
            sync_to_storage(descriptor)
        except OSError:
            pass  # some file systems cannot sync a directory; the data itself is synced
        finally:
            os.close(descriptor)
