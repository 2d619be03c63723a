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
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as out:
    out.write(f"{usage.ru_maxrss} {seconds} {usage.ru_utime + usage.ru_stime}")
sys.exit(done.returncode)
"""


@dataclass(frozen=True)
class Measured:
    """One smsp process: exit code, streams, wall time, CPU time and peak resident memory.

    ``cpu_seconds`` (user + system) is what smsp itself spent: unlike the wall time it hardly
    grows when other processes share the machine, so work bounds are asserted on it.
    """

    exit_code: int
    stdout: str
    stderr: str
    seconds: float
    peak_mib: float
    cpu_seconds: float


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
        peak_kib, seconds, cpu_seconds = figures.read_text().split()
    return Measured(done.returncode, done.stdout, done.stderr, float(seconds),
                    int(peak_kib) / 1024, float(cpu_seconds))
