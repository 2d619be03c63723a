"""`smsp batch` as a separate process: killed and resumed, interrupted, on a terminal, in memory.

The console script runs against the session's sandbox over real mutual TLS on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.lib import measure
from tests.lib.measure import SMSP

FOUND = "9991000003,1984-03-14"

pytestmark = pytest.mark.usefixtures("sandbox_env")


def _env() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1"}


def _source(path: Path, count: int, line: str = FOUND) -> Path:
    path.write_text("id,nhs_number,dob\n" + "".join(f"r{n},{line}\n" for n in range(1, count + 1)),
                    encoding="utf-8")
    return path


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _wait_for(condition: object, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.01)


def test_killed_at_several_points_and_resumed_every_row_appears_once(tmp_path: Path) -> None:
    count = 600
    source = _source(tmp_path / "in.csv", count)
    out = tmp_path / "out.jsonl"
    command = [SMSP, "batch", "get", str(source), "--out", str(out), "--resume",
               "--rate-limit", "300"]
    for kill_at in (0, 60, 250, 480):
        process = subprocess.Popen(command, env=_env(), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        if kill_at:
            _wait_for(lambda at=kill_at: _lines(out) >= at)
        else:
            time.sleep(0.3)  # still starting: maybe no row at all yet
        process.send_signal(signal.SIGKILL)
        assert process.wait(30) == -signal.SIGKILL
        if kill_at == 250:
            with out.open("ab") as torn:
                torn.write(b'{"row": 99999, "id": "half a li')  # as a kill mid-write leaves
    done = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "earlier rows were already in" in done.stderr
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [row["row"] for row in rows] == list(range(1, count + 1))
    assert [row["id"] for row in rows] == [f"r{n}" for n in range(1, count + 1)]
    assert all(row["exit_code"] == 0 for row in rows)


_WITH_DEFAULT_SIGINT = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                        "os.execv(sys.argv[1], sys.argv[1:])")


def test_ctrl_c_stops_cleanly_keeping_whole_lines(tmp_path: Path) -> None:
    source = _source(tmp_path / "in.csv", 2000)
    out = tmp_path / "out.jsonl"
    # As a terminal starts it, Ctrl-C at its default: a test runner's worker may be ignoring
    # SIGINT when it starts a child, which then (as every program started so) ignores it too.
    command = [SMSP, "batch", "get", str(source), "--out", str(out), "--rate-limit", "200"]
    process = subprocess.Popen(
        [sys.executable, "-c", _WITH_DEFAULT_SIGINT, *command],
        env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    _wait_for(lambda: _lines(out) >= 20)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert stdout == ""
    # The summary says so and ends, as a stop's does, with how to go on.
    line = next(line for line in stderr.splitlines() if " rows: " in line)
    assert "; interrupted; " in line
    assert line.endswith(f"; rerun with --resume to go on from there in {out}")
    assert "Traceback" not in stderr
    data = out.read_bytes()
    assert data.endswith(b"\n")
    rows = [json.loads(line) for line in data.splitlines()]
    assert 20 <= len(rows) < 2000
    assert [row["row"] for row in rows] == list(range(1, len(rows) + 1))


def _on_a_terminal(command: list[str], *, stdout_too: bool) -> tuple[int, str]:
    """Run ``command`` with stderr (and maybe stdout) on a pseudo-terminal; what it showed."""
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        command, env={**_env(), "TERM": "xterm", "COLUMNS": "120"},
        stdout=secondary if stdout_too else subprocess.DEVNULL, stderr=secondary,
        stdin=subprocess.DEVNULL,
    )
    os.close(secondary)
    seen = b""
    while True:
        ready, _, _ = select.select([primary], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        seen += chunk
    os.close(primary)
    return process.wait(30), seen.decode("utf-8", "replace")


# The bar itself, rows done, rate, eta and counts: the summary line has no "eta".
BAR = re.compile(r"━+.* \d+(/\d+)? rows, \d+/s, eta .* \d+ ok, \d+ not found, ")


def test_a_progress_bar_is_drawn_on_a_terminal(tmp_path: Path) -> None:
    source = _source(tmp_path / "in.csv", 300)
    code, text = _on_a_terminal([SMSP, "batch", "get", str(source), "--rate-limit", "150"],
                                stdout_too=False)
    assert code == 0
    assert BAR.search(text)
    # A file's rows are counted: the bar shows done/total.
    assert re.search(r" \d+/300 rows, \d+/s, eta ", text), text[-2000:]
    assert "300 rows: 300 ok, 0 not found, 0 invalid, 0 failed in " in text


def test_no_bar_over_rows_printed_to_the_same_terminal(tmp_path: Path) -> None:
    source = _source(tmp_path / "in.csv", 100)
    code, text = _on_a_terminal([SMSP, "batch", "get", str(source), "--rate-limit", "150"],
                                stdout_too=True)
    assert code == 0
    assert not BAR.search(text)
    assert text.count('"exit_code": 0') == 100
    assert "100 rows: 100 ok, " in text


def test_without_a_terminal_only_the_summary_is_said(tmp_path: Path) -> None:
    source = _source(tmp_path / "in.csv", 20)
    done = subprocess.run([SMSP, "batch", "get", str(source), "--profile", "sandbox"],
                          env=_env(), capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 20
    assert done.stderr.splitlines()[-1].startswith("smsp: 20 rows: 20 ok, 0 not found, ")
    assert "━" not in done.stderr


# 101,000 rows through two fresh processes: about 25 s on an idle 2-core machine, so twice the
# default timeout leaves room for a busy one.
@pytest.mark.timeout(150)
def test_memory_is_flat_in_the_size_of_the_input(tmp_path: Path) -> None:
    """Peak RSS of the whole CLI for 100,000 rows against 1,000.

    What is measured: input streaming, validation, the in-order window and the writer, with
    rows that fail validation, so the suite needs no 100,000 network lookups (the benchmark
    measures those against `smsp sandbox serve`).
    """
    small = _source(tmp_path / "small.csv", 1_000, line="123,1984-03-14")
    large = _source(tmp_path / "large.csv", 100_000, line="123,1984-03-14")
    # Through a fresh small Python, so the peak is smsp's own, not the forking pytest's.
    runs = {name: measure.run("batch", "get", str(path), "--out", str(tmp_path / name))
            for name, path in (("small", small), ("large", large))}
    assert [run.exit_code for run in runs.values()] == [1, 1]  # every row invalid, ran to the end
    measured = {name: run.peak_mib for name, run in runs.items()}
    assert _lines(tmp_path / "large") == 100_000
    assert measured["large"] <= measured["small"] * 1.2, measured


def test_a_reader_that_goes_away_ends_the_batch_quietly(tmp_path: Path) -> None:
    source = _source(tmp_path / "in.csv", 500)
    process = subprocess.Popen([SMSP, "batch", "get", str(source)], env=_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    assert process.stderr is not None
    first = json.loads(process.stdout.readline())
    process.stdout.close()  # as `| head -1` does
    stderr = process.stderr.read().decode()
    assert process.wait(60) == 141  # 128 + SIGPIPE, as a shell expects
    assert first["row"] == 1
    assert "stdout was closed" in stderr
    assert "Traceback" not in stderr
    assert "error" not in stderr
