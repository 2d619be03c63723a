"""Every speed benchmark in turn: the sandbox, start-up, one lookup, the core path.

    python benchmarks/all.py [--runs N]

Runs sandbox.py, startup.py, lookup.py and core.py with the same number of rounds, prints
their tables and target lines, and exits 1 when any target was missed (2 when a benchmark
could not run).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

SCRIPTS = ("sandbox.py", "startup.py", "lookup.py", "core.py")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="measured rounds per benchmark")
    runs = parser.parse_args().runs
    here = Path(__file__).parent
    worst = 0
    for script in SCRIPTS:
        print(f"== {script}", flush=True)
        done = subprocess.run(
            [sys.executable, str(here / script), "--runs", str(runs)], cwd=here, check=False
        )
        worst = max(worst, done.returncode)
        print(flush=True)
    return worst


if __name__ == "__main__":
    sys.exit(main())
