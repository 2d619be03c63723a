"""Run the installed smsp console script as its own process: its streams, time and peak memory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

SMSP = shutil.which("smsp", path=str(Path(sys.executable).parent)) or "smsp"

# A fresh Python between pytest and smsp: RUSAGE_CHILDREN there covers smsp alone, and
# ru_maxrss is the kernel's own high-water mark of its resident memory (KiB on Linux).
_PROBE = """
import resource, subprocess, sys, time
started = time.monotonic()
done = subprocess.run(sys.argv[2:], check=False)
seconds = time.monotonic() - started
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
with open(sys.argv[1], "w") as out:
    out.write(f"{peak_kib} {seconds}")
sys.exit(done.returncode)
"""


@dataclass(frozen=True)
class Measured:
    """One smsp process: exit code, streams, wall time and peak resident memory."""

    exit_code: int
    stdout: str
    stderr: str
    seconds: float
    peak_mib: float


def run(*args: str, timeout: float = 120) -> Measured:
    """Run ``smsp ARGS`` with this process's environment (the tests' SMSP_* settings)."""
    with tempfile.TemporaryDirectory() as folder:
        figures = Path(folder) / "figures"
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, str(figures), SMSP, *args],
            capture_output=True,
            text=True,
            env=dict(os.environ),
            timeout=timeout,
            check=False,
        )
        peak_kib, seconds = figures.read_text().split()
    return Measured(done.returncode, done.stdout, done.stderr, float(seconds), int(peak_kib) / 1024)
