"""Hostile local files where smsp's own files, or the user's --out, should be: links, FIFOs,
a second batch on the same file. Real file layouts made by the test, the real sandbox."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

from smsp_cli.sandbox.server import SandboxServer
from tests.lib.cli import smsp
from tests.lib.measure import SMSP

pytestmark = pytest.mark.usefixtures("sandbox_env")

GET = ("get", "9991000003", "--dob", "1984-03-14")


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "data"
    monkeypatch.setenv("SMSP_DATA_DIR", str(directory))
    return directory


def _rows(path: Path, count: int) -> Path:
    path.write_text("id,nhs_number,dob\n" + "".join(
        f"r{n},9991000003,1984-03-14\n" for n in range(1, count + 1)), encoding="utf-8")
    return path


def _assert_whole() -> None:
    verify = smsp("audit", "verify")
    assert verify.exit_code == 0, verify.stdout + verify.stderr
    assert "whole:" in verify.stdout


def test_a_linked_audit_directory_is_refused_and_never_chmodded(
    data: Path, tmp_path: Path, sandbox: SandboxServer
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o755)
    elsewhere.chmod(0o755)
    data.mkdir()
    (data / "audit").symlink_to(elsewhere)
    sent = len(sandbox.requests)
    run = smsp(*GET)
    assert run.exit_code == 6
    assert f"{data.resolve() / 'audit'} is a symbolic link" in run.stderr
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o755
    assert list(elsewhere.iterdir()) == []
    assert len(sandbox.requests) == sent


def test_a_data_directory_that_is_a_link_the_user_made_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = tmp_path / "real-data"
    real.mkdir()
    (tmp_path / "dotfiles-data").symlink_to(real)
    monkeypatch.setenv("SMSP_DATA_DIR", str(tmp_path / "dotfiles-data"))
    assert smsp(*GET).exit_code == 0
    assert (real / "audit" / "audit.jsonl").read_bytes().count(b"\n") == 2


@pytest.mark.parametrize("name", ["checkpoint.json", "audit.jsonl", "audit.lock"])
def test_a_fifo_in_place_of_a_trail_file_is_exit_6_at_once_with_nothing_sent(
    data: Path, sandbox: SandboxServer, name: str
) -> None:
    assert smsp(*GET).exit_code == 0
    fifo = data.resolve() / "audit" / name
    kept = fifo.read_bytes()
    fifo.unlink()
    os.mkfifo(fifo)
    sent = len(sandbox.requests)
    started = time.monotonic()
    run = smsp(*GET)
    assert time.monotonic() - started < 1
    assert run.exit_code == 6
    assert f"{fifo} is a FIFO, not a regular file" in run.stderr
    assert len(sandbox.requests) == sent
    # audit verify refuses the FIFO too, at once; with the file back, the trail is whole.
    refused = smsp("audit", "verify")
    assert refused.exit_code == 6
    assert f"{fifo}: is a FIFO, not a regular file" in refused.stderr
    fifo.unlink()
    fifo.write_bytes(kept)
    fifo.chmod(0o600)
    _assert_whole()


def test_a_batch_checks_the_trail_before_its_first_request(
    data: Path, tmp_path: Path, sandbox: SandboxServer
) -> None:
    assert smsp(*GET).exit_code == 0
    fifo = data.resolve() / "audit" / "audit.jsonl"
    fifo.unlink()
    os.mkfifo(fifo)
    sent = len(sandbox.requests)
    run = smsp("batch", "get", str(_rows(tmp_path / "in.csv", 300)))
    assert run.exit_code == 6
    assert f"{fifo} is a FIFO" in run.stderr
    assert run.stdout == ""
    assert len(sandbox.requests) == sent


def test_a_fifo_as_out_is_exit_2_with_nothing_sent(tmp_path: Path, sandbox: SandboxServer) -> None:
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    sent = len(sandbox.requests)
    run = smsp("batch", "get", str(_rows(tmp_path / "in.csv", 3)), "--out", str(fifo))
    assert run.exit_code == 2
    assert f"--out {fifo} is a FIFO, not a regular file" in run.stderr
    assert len(sandbox.requests) == sent


def test_a_device_as_out_is_exit_2(tmp_path: Path) -> None:
    run = smsp("batch", "get", str(_rows(tmp_path / "in.csv", 3)), "--out", os.devnull)
    assert run.exit_code == 2
    assert f"--out {os.devnull} is a character device, not a regular file" in run.stderr


def test_one_batch_at_a_time_per_out_file(tmp_path: Path) -> None:
    source = _rows(tmp_path / "in.csv", 200)
    out = tmp_path / "out.jsonl"
    env = {**os.environ, "NO_COLOR": "1"}
    command = [SMSP, "batch", "get", str(source), "--out", str(out), "--resume"]
    first = subprocess.Popen([*command, "--rate-limit", "100"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while (not out.exists() or not out.read_bytes()) and time.monotonic() < deadline:
            time.sleep(0.01)
        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60,
                                check=False)
        assert second.returncode == 2
        assert (f"--out {out} is being written by another smsp batch (process {first.pid})"
                in second.stderr)
        assert first.wait(60) == 0
    finally:
        first.kill()
        first.wait()
    rows = [json.loads(line)["row"] for line in out.read_text(encoding="utf-8").splitlines()]
    assert rows == list(range(1, 201))
    _assert_whole()


def test_warnings_about_unused_keys_are_bounded(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    with source.open("w", encoding="utf-8") as lines:
        for n in range(40):
            key = f"k{n:02d}" + "x" * 100_000  # a new 100 KB key on every line
            lines.write(json.dumps({"nhs_number": "9991000003", "dob": "1984-03-14",
                                    key: 1}) + "\n")
    run = smsp("batch", "get", str(source))
    assert run.exit_code == 0
    warnings = [line for line in run.stderr.splitlines() if "warning: ignoring" in line]
    assert len(warnings) == 21  # 20 names, then one line for the rest
    assert warnings[0] == ("smsp: warning: ignoring column 'k00" + "x" * 77
                           + "… (99,923 more characters)': not used by get")
    assert warnings[-1] == ("smsp: warning: ignoring further keys not used by get, "
                            "without naming them")
    assert len(run.stderr) < 10_000


def test_a_header_of_many_unused_columns_names_twenty_then_a_count(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    extra = [f"c{n}" for n in range(30)]
    source.write_text(",".join(["nhs_number", "dob", *extra]) + "\n"
                      + ",".join(["9991000003", "1984-03-14", *[""] * 30]) + "\n",
                      encoding="utf-8")
    run = smsp("batch", "get", str(source))
    assert run.exit_code == 0
    shown = ", ".join(f"'c{n}'" for n in range(20))
    assert f"smsp: warning: ignoring columns {shown} and 10 more: not used by get" in run.stderr


def _calls(data: Path) -> tuple[list[dict[str, object]], dict[tuple[object, object], str]]:
    """The trail's records, and each attempt's outcome event (sent alone: "sent")."""
    trail = data.resolve() / "audit" / "audit.jsonl"
    found = [json.loads(line) for line in trail.read_text(encoding="utf-8").splitlines()]
    outcome: dict[tuple[object, object], str] = {}
    for record in found:
        if record["event"] in ("sent", "received", "failed"):
            key = (record["message_id"], record["attempt"])
            assert outcome.get(key, "sent") == "sent", f"two outcomes for {key}"
            outcome[key] = str(record["event"])
    return found, outcome


def test_a_reader_gone_gives_every_call_in_flight_its_outcome_and_reason(
    data: Path, tmp_path: Path
) -> None:
    source = _rows(tmp_path / "in.csv", 500)
    env = {**os.environ, "NO_COLOR": "1"}
    process = subprocess.Popen([SMSP, "batch", "get", str(source), "--concurrency", "8"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    process.stdout.readline()
    process.stdout.close()  # as `| head -1` does
    assert process.wait(60) == 141
    found, outcome = _calls(data)
    assert outcome  # calls were made
    assert [key for key, event in outcome.items() if event == "sent"] == []  # none left open
    for record in found:
        if record["event"] == "failed":
            assert record["exit_code"] == 141
            assert record["reason"] == "the reader of the output went away"
    times = [record["time"] for record in found]
    assert times == sorted(times)  # never backwards against seq
    # No process was killed, so nothing may have torn the trail: a torn line here would be
    # bytes that are not smsp's records (a cut-off connection's, written through a reused
    # descriptor).
    assert not (data.resolve() / "audit" / "audit.jsonl.torn").exists()
    verify = smsp("audit", "verify")
    assert verify.exit_code == 0, verify.stdout + verify.stderr


def test_after_kill_9_the_resume_closes_every_call_left_open(data: Path, tmp_path: Path) -> None:
    import signal

    source = _rows(tmp_path / "in.csv", 400)
    out = tmp_path / "out.jsonl"
    env = {**os.environ, "NO_COLOR": "1"}
    command = [SMSP, "batch", "get", str(source), "--out", str(out), "--resume",
               "--concurrency", "8"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while (not out.exists() or out.read_bytes().count(b"\n") < 20) and (
            time.monotonic() < deadline):
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    assert process.wait(30) == -signal.SIGKILL
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    found, outcome = _calls(data)
    assert [key for key, event in outcome.items() if event == "sent"] == []
    for record in found:
        if record["event"] == "failed":
            assert record["reason"] == "the process ended before the reply"
    assert smsp("audit", "verify").exit_code == 0
