"""A full disk under the audit trail: nothing is sent unrecorded, and the trail stays whole.

The disk is a small tmpfs mounted by the test (root only; skipped otherwise) or, anywhere, a
file-size limit (RLIMIT_FSIZE) on the smsp process. A disk often takes part of a write before
refusing the rest: smsp cuts that part off again, so `smsp audit verify` finds the trail whole.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.lib.measure import SMSP

if TYPE_CHECKING:
    from smsp_cli.sandbox.server import SandboxServer

GET = ("get", "9991000003", "--dob", "1984-03-14")
NO_SPACE = "cannot write the audit trail"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """128 KiB of tmpfs: room for the first 90 or so rows of a batch."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a small disk needs `mount -t tmpfs`, which needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=128k,mode=0700", "tmpfs", str(mount_point)],
        capture_output=True, check=False,
    )
    if mounted.returncode != 0:
        pytest.skip("this system does not allow mounting a tmpfs here")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, check=False)


def _run(*args: str, data_dir: Path, file_size_limit: int | None = None,
         stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    def limit() -> None:
        if file_size_limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    env = os.environ | {"SMSP_DATA_DIR": str(data_dir), "NO_COLOR": "1"}
    return subprocess.run(
        [SMSP, *args], input=stdin, capture_output=True, text=True, env=env, timeout=120,
        check=False, preexec_fn=limit,
    )


def _fill(disk: Path) -> None:
    with open(disk / "filler", "wb", buffering=0) as filler:
        try:
            while True:
                filler.write(b"\0" * 512)
        except OSError:
            pass


def _sent_records(data_dir: Path) -> int:
    return (data_dir / "audit" / "audit.jsonl").read_bytes().count(b'"event":"sent"')


def _assert_whole(data_dir: Path) -> None:
    verified = _run("audit", "verify", data_dir=data_dir)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "whole:" in verified.stdout


@pytest.mark.usefixtures("sandbox_env")
def test_lookups_on_a_full_disk_exit_6_and_never_send_unrecorded(
    small_disk: Path, sandbox: SandboxServer
) -> None:
    data_dir = small_disk / "data"
    before = len(sandbox.requests)
    assert _run(*GET, data_dir=data_dir).returncode == 0  # the trail exists
    _fill(small_disk)
    # The trail's last page of tmpfs may still hold a record or two: look up until it is full.
    for _ in range(20):
        done = _run(*GET, "--json", data_dir=data_dir)
        if done.returncode != 0:
            break
    assert done.returncode == 6, done.stderr
    trail = data_dir / "audit" / "audit.jsonl"
    assert f"{NO_SPACE} {trail}: No space left on device" in done.stderr
    assert '"patient"' not in done.stdout  # an answer that cannot be recorded is not shown
    # Every request that reached the provider had its `sent` record on the disk first.
    assert len(sandbox.requests) - before <= _sent_records(data_dir)
    refused = _run(*GET, data_dir=data_dir)  # and now not even the `sent` record fits
    assert refused.returncode == 6
    assert len(sandbox.requests) - before <= _sent_records(data_dir)
    _assert_whole(data_dir)


@pytest.mark.usefixtures("sandbox_env")
def test_a_batch_that_fills_the_disk_stops_and_every_request_that_left_was_recorded(
    small_disk: Path, sandbox: SandboxServer
) -> None:
    data_dir = small_disk / "data"
    rows = "nhs_number,dob\n" + "9991000003,1984-03-14\n" * 400
    before = len(sandbox.requests)
    done = _run("batch", "get", "-", "--concurrency", "4", data_dir=data_dir, stdin=rows)
    assert done.returncode == 6, done.stderr
    assert "stopped at row" in done.stderr
    assert "No space left on device" in done.stderr
    written = done.stdout.count("\n")
    assert 20 < written < 400
    received = len(sandbox.requests) - before
    # Every request that reached the provider had its `sent` record on the disk first.
    assert written <= received <= _sent_records(data_dir)
    _assert_whole(data_dir)


@pytest.mark.usefixtures("sandbox_env")
def test_a_file_size_limit_refuses_the_record_and_the_request_is_not_sent(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    data_dir = tmp_path / "data"
    assert _run(*GET, data_dir=data_dir).returncode == 0
    trail = data_dir / "audit" / "audit.jsonl"
    room = trail.stat().st_size + 100  # less than one more record
    before = len(sandbox.requests)
    done = _run(*GET, data_dir=data_dir, file_size_limit=room)
    assert done.returncode == 6, done.stderr
    assert f"{NO_SPACE} {trail}: File too large" in done.stderr
    assert len(sandbox.requests) == before
    assert trail.stat().st_size <= room
    _assert_whole(data_dir)
