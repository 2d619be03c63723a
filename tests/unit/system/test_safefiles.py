"""The portable file layer, both implementations: POSIX, and the Windows paths run on Linux.

The Windows implementation is built explicitly with a lock primitive standing in for
``msvcrt.locking`` (a POSIX byte-range lock on the same byte), so each of its code paths runs
here; the rest of it (look, open, compare; no modes; reparse points) is plain ``os``.
"""

from __future__ import annotations

import fcntl
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from smsp_cli.system.posix_files import PosixFiles
from smsp_cli.system.safefiles import Files, LockBusy, UnsafeFile, files
from smsp_cli.system.windows_files import LK_NBLCK, LK_UNLCK, LOCK_OFFSET, WindowsFiles


class _ByteRangeLocking:
    """msvcrt.locking's contract (lock N bytes at the current position, or raise OSError),
    kept with a POSIX record lock on the same bytes; every call is noted."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []  # (mode, position)
        self.busy_for = 0  # fail this many lock attempts first, as if another process held it

    def __call__(self, descriptor: int, mode: int, size: int) -> None:
        position = os.lseek(descriptor, 0, os.SEEK_CUR)
        self.calls.append((mode, position))
        if mode == LK_UNLCK:
            fcntl.lockf(descriptor, fcntl.LOCK_UN, size, position)
            return
        assert mode == LK_NBLCK
        if self.busy_for:
            self.busy_for -= 1
            raise PermissionError(13, "locked")
        fcntl.lockf(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB, size, position)


@pytest.fixture(params=["posix", "windows"])
def layer(request: pytest.FixtureRequest) -> Files:
    return PosixFiles() if request.param == "posix" else WindowsFiles(_ByteRangeLocking())


def test_the_layer_for_this_system_is_the_posix_one() -> None:
    assert files().name == "posix"


def test_a_new_file_is_created_private_and_written(layer: Files, tmp_path: Path) -> None:
    path = tmp_path / "trail"
    descriptor = layer.open_file(path, os.O_RDWR)
    try:
        os.write(descriptor, b"one\n")
        layer.write_at(descriptor, b"ONE", 0)
        assert layer.read_at(descriptor, 3, 0) == b"ONE"
        buffer = bytearray(8)
        assert layer.read_into(descriptor, memoryview(buffer)[:6], 1) == 3
        assert bytes(buffer) == b"NE\n\x00\x00\x00\x00\x00"
    finally:
        os.close(descriptor)
    assert path.read_bytes() == b"ONE\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("make", ["symlink", "fifo", "directory", "socket"])
def test_what_is_not_a_regular_file_is_refused_at_once(
    layer: Files, tmp_path: Path, make: str
) -> None:
    path = tmp_path / "checkpoint.json"
    target = tmp_path / "elsewhere"
    target.write_bytes(b"theirs")
    if make == "symlink":
        path.symlink_to(target)
    elif make == "fifo":
        os.mkfifo(path)
    elif make == "directory":
        path.mkdir()
    else:
        import socket

        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        server.close()
    started = time.monotonic()
    with pytest.raises(UnsafeFile) as caught:
        layer.open_file(path, os.O_RDWR)
    assert time.monotonic() - started < 5  # a FIFO opened blindly would block for ever
    assert str(path) in str(caught.value)
    wanted = {"symlink": "is a symbolic link", "fifo": "is a FIFO", "directory": "is a directory",
              "socket": "is a socket"}[make]
    assert wanted in str(caught.value)
    assert target.read_bytes() == b"theirs"
    assert stat.S_IMODE(target.stat().st_mode) != 0o600 or make != "symlink"


def test_a_loose_mode_is_tightened_on_posix_and_left_on_windows(tmp_path: Path) -> None:
    for layer, wanted in ((PosixFiles(), 0o600), (WindowsFiles(_ByteRangeLocking()), 0o644)):
        path = tmp_path / f"{layer.name}.json"
        path.write_bytes(b"")
        path.chmod(0o644)
        os.close(layer.open_file(path, os.O_RDONLY, create=False))
        assert stat.S_IMODE(path.stat().st_mode) == wanted


def test_a_file_of_another_user_is_refused_on_posix(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"")
    stranger = PosixFiles(uid=os.geteuid() + 1)
    with pytest.raises(UnsafeFile, match="belongs to another user"):
        stranger.open_file(path, os.O_RDONLY, create=False)


def test_a_missing_file_is_not_created_unless_asked(layer: Files, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        layer.open_file(tmp_path / "lock", os.O_RDONLY, create=False)
    assert not (tmp_path / "lock").exists()


def test_directories_are_made_private_and_links_to_them_refused(
    layer: Files, tmp_path: Path
) -> None:
    made = layer.directory(tmp_path / "audit")
    assert made.is_dir()
    if layer.name == "posix":
        assert stat.S_IMODE(made.stat().st_mode) == 0o700
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o755)
    (tmp_path / "linked").symlink_to(elsewhere)
    with pytest.raises(UnsafeFile, match="is a symbolic link"):
        layer.directory(tmp_path / "linked")
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o755  # never chmodded through the link


def test_the_base_directory_may_be_a_link_the_user_made(layer: Files, tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "dotfiles").symlink_to(real)
    assert layer.base_directory(tmp_path / "dotfiles") == real.resolve()


def test_atomic_replacement_leaves_the_new_file_whole_and_private(
    layer: Files, tmp_path: Path
) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"old")
    layer.write_atomically(path, b"new")
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_atomic_replacement_refuses_to_hide_a_link(layer: Files, tmp_path: Path) -> None:
    target = tmp_path / "theirs"
    target.write_bytes(b"theirs")
    (tmp_path / "config.toml").symlink_to(target)
    with pytest.raises(UnsafeFile):
        layer.write_atomically(tmp_path / "config.toml", b"new")
    assert (tmp_path / "config.toml").is_symlink()


def test_windows_locks_one_byte_far_past_the_data_and_keeps_the_position(tmp_path: Path) -> None:
    locking = _ByteRangeLocking()
    layer = WindowsFiles(locking)
    descriptor = layer.open_file(tmp_path / "audit.lock", os.O_RDWR)
    try:
        os.lseek(descriptor, 3, os.SEEK_SET)
        layer.lock(descriptor)
        layer.unlock(descriptor)
        assert locking.calls == [(LK_NBLCK, LOCK_OFFSET), (LK_UNLCK, LOCK_OFFSET)]
        assert os.lseek(descriptor, 0, os.SEEK_CUR) == 3
        locking.busy_for = 1
        with pytest.raises(LockBusy):
            layer.lock(descriptor, wait=False)
        locking.busy_for = 3
        layer.lock(descriptor)  # waits: tries again until the other process lets go
        assert [mode for mode, _ in locking.calls[-4:]] == [LK_NBLCK] * 4
    finally:
        os.close(descriptor)


_HOLD = """
import os, sys, time
from smsp_cli.system.posix_files import PosixFiles
layer = PosixFiles()
fd = layer.open_file(sys.argv[1], os.O_RDWR)
layer.lock(fd)
print("held", flush=True)
time.sleep(60)
"""


def test_a_posix_lock_goes_with_the_process_that_held_it(tmp_path: Path) -> None:
    path = tmp_path / "audit.lock"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(path)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "held\n"
        layer = PosixFiles()
        descriptor = layer.open_file(path, os.O_RDWR)
        try:
            with pytest.raises(LockBusy):
                layer.lock(descriptor, wait=False)
            holder.kill()  # kill -9: nothing released it but the end of the process
            holder.wait(10)
            layer.lock(descriptor, wait=False)
        finally:
            os.close(descriptor)
    finally:
        holder.kill()
        holder.wait(10)
