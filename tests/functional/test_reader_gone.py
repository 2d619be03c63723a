"""A reader that goes away (`smsp ... | head`) ends every command with exit 141, never a traceback.

141 is 128 + SIGPIPE, what a shell reports for a writer whose reader left; Windows has no
SIGPIPE but Python raises the same BrokenPipeError there, so smsp exits the same way. The
test closes the pipe's reading end before smsp starts, so the first write meets it.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.lib.measure import SMSP

LOOKUP = ("get", "9991000003", "--dob", "1984-03-14", "--profile", "sandbox")


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("--version",), id="version fast path"),
        pytest.param(("--help",), id="root help fast path"),
        pytest.param(("get", "--help"), id="a command's help"),
        pytest.param((*LOOKUP, "--json"), id="get json"),
        pytest.param(LOOKUP, id="get table"),
        pytest.param(("sandbox", "patients"), id="sandbox patients table"),
        pytest.param(("doctor", "--profile", "sandbox"), id="doctor checklist"),
        pytest.param(("audit", "search", "--nhs-number", "9991000003"), id="audit search"),
    ],
)
def test_a_reader_gone_before_the_first_line_exits_141_without_a_traceback(
    args: tuple[str, ...],
) -> None:
    if args[:2] == ("audit", "search"):
        # Something to find: one lookup first, its stdout read as usual.
        subprocess.run([SMSP, *LOOKUP], capture_output=True, timeout=60, check=True)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [SMSP, *args], stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 141, done.stderr
    assert "Traceback" not in done.stderr
    assert "error" not in done.stderr
