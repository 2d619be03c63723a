"""A brief command ends as the interpreter would, minus the teardown, or the interpreter's way.

Each case runs a small program in a fresh interpreter, because what is tested is how that
interpreter exits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lib import measure

# A module-level object whose finaliser runs only in the interpreter's teardown.
_PRELUDE = """
import atexit, os, sys, threading
from smsp_cli.cli import brief
marks = os.environ["MARKS"]
def mark(name):
    with open(os.path.join(marks, name), "w"):
        pass
class Torn:
    def __del__(self, path=os.path.join(marks, "torn-down"), create=os.open, close=os.close):
        close(create(path, os.O_CREAT | os.O_WRONLY))  # builtins may be gone by now
kept = Torn()
atexit.register(mark, "exit-handler")
"""


def _run(tmp_path: Path, body: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    marks = tmp_path / "marks"
    marks.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", _PRELUDE + body],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=os.environ | {"MARKS": str(marks)},
    )
    return done, {path.name for path in marks.iterdir()}


@pytest.mark.parametrize("status", [0, 1, 3])
def test_the_exit_status_handlers_and_output_are_kept_and_the_teardown_skipped(
    tmp_path: Path, status: int
) -> None:
    done, marks = _run(
        tmp_path,
        f"brief.run(lambda: (sys.stdout.write('x' * 100000), sys.stderr.write('note'), "
        f"sys.exit({status})))",
    )
    assert done.returncode == status
    assert done.stdout == "x" * 100000  # flushed before leaving
    assert done.stderr == "note"
    assert marks == {"exit-handler"}  # exit handlers ran; the teardown did not


def test_a_command_that_returns_ends_with_status_0(tmp_path: Path) -> None:
    done, marks = _run(tmp_path, "brief.run(lambda: print('done'))")
    assert done.returncode == 0
    assert done.stdout == "done\n"
    assert marks == {"exit-handler"}


def test_the_collector_is_off_while_the_command_runs(tmp_path: Path) -> None:
    done, _ = _run(tmp_path, "import gc\nbrief.run(lambda: print(gc.isenabled()))")
    assert done.returncode == 0
    assert done.stdout == "False\n"


def test_a_text_exit_status_is_left_to_the_interpreter(tmp_path: Path) -> None:
    done, marks = _run(tmp_path, "brief.run(lambda: sys.exit('stopped'))")
    assert done.returncode == 1
    assert done.stderr == "stopped\n"
    assert marks == {"exit-handler", "torn-down"}


def test_another_running_thread_is_waited_for_as_usual(tmp_path: Path) -> None:
    done, marks = _run(
        tmp_path,
        "import time\n"
        "worker = threading.Thread(target=lambda: (time.sleep(0.3), mark('thread-done')))\n"
        "worker.start()\n"
        "brief.run(lambda: sys.exit(0))",
    )
    assert done.returncode == 0
    assert marks == {"exit-handler", "thread-done", "torn-down"}


def test_an_unexpected_error_keeps_its_traceback(tmp_path: Path) -> None:
    done, marks = _run(tmp_path, "brief.run(lambda: 1 / 0)")
    assert done.returncode == 1
    assert done.stderr.rstrip().endswith("ZeroDivisionError: division by zero")
    assert "torn-down" in marks


def test_a_closed_output_pipe_exits_141_as_every_command_does(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    reader, writer = os.pipe()
    os.close(reader)  # nobody reads: flushing stdout fails
    done = subprocess.run(
        [sys.executable, "-c", _PRELUDE + "brief.run(lambda: (print('x' * 100000), sys.exit(0)))"],
        stdout=writer,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        check=False,
        env=os.environ | {"MARKS": str(marks)},
    )
    os.close(writer)
    assert done.returncode == 141  # the one error boundary: 128 + SIGPIPE, as a shell says
    assert "Traceback" not in done.stderr


def test_a_trail_closed_at_exit_is_closed_with_its_records(tmp_path: Path) -> None:
    trail_dir = tmp_path / "trail"
    done, marks = _run(
        tmp_path,
        "from pathlib import Path\n"
        "from smsp_cli.audit.configured import open_trail\n"
        "from smsp_cli.audit.trail import TrailUnavailable\n"
        "def closed_by_now():\n"  # runs after the trail's own exit handler (last in, first out)
        "    try:\n"
        "        trail.append({'event': 'call', 'note': 'too late'})\n"
        "    except TrailUnavailable:\n"
        "        mark('trail-closed')\n"
        "atexit.register(closed_by_now)\n"
        f"trail = open_trail(fsync_interval=30.0, directory=Path({str(trail_dir)!r}))\n"
        "brief.run(lambda: (trail.append({'event': 'call', 'note': 'kept'}), sys.exit(0)))",
    )
    assert done.returncode == 0, done.stderr
    assert {"exit-handler", "trail-closed"} <= marks
    lines = (trail_dir / "audit.jsonl").read_text().splitlines()
    assert [json.loads(line)["note"] for line in lines] == ["kept"]


def test_a_lookup_run_as_the_console_script_keeps_its_output_and_audit_records(
    sandbox_env: dict[str, str],
) -> None:
    done = measure.run("get", "9991000003", "--dob", "1984-03-14", "--json")
    assert done.exit_code == 0, done.stderr
    message_id = json.loads(done.stdout)["message_id"]
    assert done.stderr.endswith("synthetic data from the embedded provider, not from PDS\n")
    trail = Path(os.environ["SMSP_DATA_DIR"]) / "audit" / "audit.jsonl"
    records = [json.loads(line) for line in trail.read_text().splitlines()]
    ours = [record for record in records if record.get("message_id") == message_id]
    assert [record["event"] for record in ours] == ["sent", "received"]
    assert ours[-1]["response_code"] == "SMSP-0000"


def test_a_negative_answer_exits_1_through_the_console_script(
    sandbox_env: dict[str, str],
) -> None:
    done = measure.run("get", "9991000003", "--dob", "1984-03-15", "--json")
    assert done.exit_code == 1, done.stderr
    assert json.loads(done.stdout)["response_code"] == "DEMOG-0040"
    assert "smsp: warning: the NHS number was not verified" in done.stderr
