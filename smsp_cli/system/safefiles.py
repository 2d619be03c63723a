"""The portable file layer: every file smsp owns is opened, locked, replaced and synced here.

One interface, :class:`Files`, with one implementation per system (:mod:`.posix_files`,
:mod:`.windows_files`); :func:`files` picks the one for this machine, and tests may build the
other explicitly (the Windows paths run on Linux with an injected lock primitive). Nothing
outside this layer calls ``fcntl``, ``msvcrt``, ``os.O_NOFOLLOW``, ``os.fchmod`` or
``os.pread``/``os.pwrite``.

The rules (the README's "Limits and safety"):

* a file smsp owns is opened without following a link, and used only when it is a regular file
  owned by the user; a FIFO, socket, device or link there raises :class:`UnsafeFile` at once
  (the open never blocks on a FIFO);
* a directory smsp owns is a real directory owned by the user, never a link; the base
  directory (``SMSP_DATA_DIR``, the config directory) may be a link the user made, resolved
  once by :meth:`Files.base_directory`;
* a mode is tightened only on a descriptor already checked, never through a path;
* locks are held on an open descriptor, so they go with the process (``kill -9`` included).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import stat
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


class UnsafeFile(OSError):
    """A path where smsp's own file should be holds something it must not use."""

    def __init__(self, path: Path | str, what: str) -> None:
        super().__init__(errno.EPERM, what, str(path))
        self.what = what

    def __str__(self) -> str:
        return f"{self.filename} {self.what}"


class LockBusy(OSError):
    """Another process holds the lock (only raised when not waiting)."""

    def __init__(self) -> None:
        super().__init__(errno.EAGAIN, "locked by another process")


def kind(mode: int) -> str:
    """What a file of ``mode`` is, in words, for an error naming it."""
    for test, name in (
        (stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a directory"),
    ):
        if test(mode):
            return name
    return "not a regular file"


class Files(ABC):
    """What smsp needs of the file system, the same on every system it runs on."""

    name: str
    # True where a look at a path gives the size a file has now, even while another process
    # holds it open and writes it (POSIX: the inode is the one truth). Where it may not
    # (Windows: a look by name can return what the directory entry last recorded), a writer
    # asks the file it holds open instead.
    path_status_is_current = False

    # --- checks ---------------------------------------------------------------------------

    @abstractmethod
    def is_link(self, info: os.stat_result) -> bool:
        """True for a symbolic link (and, on Windows, any reparse point)."""

    @abstractmethod
    def owned(self, info: os.stat_result) -> bool:
        """True when the file belongs to the user running smsp."""

    def readable_by_others(self, info: os.stat_result) -> bool:
        """True when the file's mode lets others read or write it (never, where there are no
        modes: on Windows the profile directory's ACL decides)."""
        return False

    def check_file(self, path: Path | str, info: os.stat_result) -> None:
        """Raise UnsafeFile unless ``info`` is a regular file, not a link, owned by the user."""
        if self.is_link(info):
            raise UnsafeFile(path, "is a symbolic link; smsp does not follow links to its files")
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFile(path, f"is {kind(info.st_mode)}, not a regular file")
        if not self.owned(info):
            raise UnsafeFile(path, "belongs to another user")

    def check_directory(self, path: Path | str, info: os.stat_result) -> None:
        """Raise UnsafeFile unless ``info`` is a directory, not a link, owned by the user."""
        if self.is_link(info):
            raise UnsafeFile(path, "is a symbolic link; smsp does not follow links to its "
                                   "directories")
        if not stat.S_ISDIR(info.st_mode):
            raise UnsafeFile(path, f"is {kind(info.st_mode)}, not a directory")
        if not self.owned(info):
            raise UnsafeFile(path, "belongs to another user")

    # --- opening --------------------------------------------------------------------------

    @abstractmethod
    def open_file(self, path: Path | str, flags: int, *, create: bool = True) -> int:
        """Open smsp's own file ``path`` (``os.O_*`` access flags, e.g. ``os.O_RDWR``).

        A new file is made with mode 0600. The file is checked (:meth:`check_file`) before it
        is used; an existing one looser than 0600 is tightened through the descriptor. Raises
        FileNotFoundError when it is missing and ``create`` is False, UnsafeFile when it is
        not smsp's to use.
        """

    @abstractmethod
    def open_user_file(self, path: Path | str, flags: int) -> int:
        """Open (creating, 0600) a file the user named; never follows a link, never blocks.

        Raises UnsafeFile unless it is a regular file owned by the user; its mode is left as
        the user set it.
        """

    def directory(self, path: Path, *, create: bool = True) -> Path:
        """smsp's own directory ``path`` (made 0700 when missing), checked as a directory.

        Its parent must already be a checked directory (or the base directory).
        """
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            if not create:
                raise
            with contextlib.suppress(FileExistsError):
                os.mkdir(path, DIR_MODE)
            info = os.lstat(path)
        self.check_directory(path, info)
        self.make_directory_private(path, info)
        return path

    def base_directory(self, path: Path, *, create: bool = True) -> Path:
        """The data or config directory: may be a link the user made, resolved once here.

        Missing directories are made (0700); what it resolves to must be a directory owned by
        the user. Everything below it is then opened without following links.
        """
        if create:
            path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        resolved = Path(os.path.realpath(path))
        info = os.lstat(resolved)
        self.check_directory(resolved, info)
        return resolved

    @abstractmethod
    def make_directory_private(self, path: Path, info: os.stat_result) -> None:
        """Tighten a checked directory to 0700 where the system has modes (never via a link)."""

    # --- locks ----------------------------------------------------------------------------

    @abstractmethod
    def lock(self, descriptor: int, *, shared: bool = False, wait: bool = True) -> None:
        """Lock the open file for this process; raise LockBusy when taken and not waiting."""

    @abstractmethod
    def unlock(self, descriptor: int) -> None:
        """Let go of the lock taken on ``descriptor``."""

    # --- reading and writing at an offset -------------------------------------------------

    @abstractmethod
    def read_at(self, descriptor: int, size: int, offset: int) -> bytes:
        """Up to ``size`` bytes from ``offset`` (the caller holds the file's lock)."""

    @abstractmethod
    def read_into(self, descriptor: int, buffer: memoryview, offset: int) -> int:
        """Read from ``offset`` into ``buffer`` (no copy where the system allows); the count."""

    @abstractmethod
    def write_at(self, descriptor: int, data: bytes, offset: int) -> None:
        """Write ``data`` at ``offset`` (the caller holds the file's lock)."""

    # --- the disk -------------------------------------------------------------------------

    def sync(self, descriptor: int) -> None:
        """Force the file's data to the disk."""
        os.fsync(descriptor)

    @abstractmethod
    def sync_directory(self, directory: Path) -> None:
        """Force ``directory``'s entries (new files, renames) to the disk, where possible."""

    @contextlib.contextmanager
    def private_copies(self, contents: list[bytes]) -> Iterator[list[str]]:
        """Paths a library that wants file names (OpenSSL) can read, holding ``contents``.

        Here: files in a new private temporary directory (0700; on Windows, in the user's
        profile), deleted when the block ends.
        """
        import tempfile

        with tempfile.TemporaryDirectory(prefix="smsp-tls-") as directory:
            paths = []
            for number, content in enumerate(contents):
                path = os.path.join(directory, f"{number}.pem")
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY,
                                     FILE_MODE)
                try:
                    write_all(descriptor, content)
                finally:
                    os.close(descriptor)
                paths.append(path)
            yield paths

    def replace(self, source: Path, target: Path) -> None:
        """Rename ``source`` over ``target`` atomically (same directory)."""
        os.replace(source, target)

    def write_atomically(self, path: Path, data: bytes, *, mode: int = FILE_MODE) -> None:
        """Replace ``path`` with ``data``: whole or not at all, ``mode`` (0600), on the disk.

        A new file beside it (O_EXCL, 0600 from the start) is written, synced, renamed over
        ``path`` and the directory synced. An existing ``path`` that is a link or not a regular
        file raises UnsafeFile: the rename would hide what it is, so it is refused instead.
        """
        import secrets

        with contextlib.suppress(FileNotFoundError):
            self.check_file(path, os.lstat(path))
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CLOEXEC | _BINARY
        descriptor = os.open(temporary, flags, mode)
        try:
            try:
                write_all(descriptor, data)
                self.sync(descriptor)
            finally:
                os.close(descriptor)
            self.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        self.sync_directory(path.parent)


_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)


def write_all(descriptor: int, data: bytes) -> None:
    """Write all of ``data`` (looping only if the system takes it in parts)."""
    view = memoryview(data)
    while view:
        written = os.write(descriptor, view)
        view = view[written:]


@functools.cache
def files() -> Files:
    """The implementation for the system smsp runs on."""
    if sys.platform == "win32":
        from smsp_cli.system.windows_files import WindowsFiles

        return WindowsFiles()
    else:
        from smsp_cli.system.posix_files import PosixFiles

        return PosixFiles()
