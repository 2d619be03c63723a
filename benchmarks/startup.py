"""Start-up time of the smsp CLI against a bare Python interpreter measured in the same run.

    python benchmarks/startup.py [--runs N]

Prints the median and best wall time of each command over N runs, and each as a multiple of
the `python -c pass` baseline. Nothing here touches the network.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _time(command: list[str], runs: int, env: dict[str, str]) -> list[float]:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False
        )
        timings.append(time.perf_counter() - started)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    smsp = shutil.which("smsp", path=str(Path(sys.executable).parent)) or "smsp"
    env = os.environ | {"NO_COLOR": "1"}
    commands = {
        "python -c pass (baseline)": [sys.executable, "-c", "pass"],
        "python -c 'import typer'": [sys.executable, "-c", "import typer"],
        "smsp --version": [smsp, "--version"],
        "smsp --help": [smsp, "--help"],
        "smsp get --help": [smsp, "get", "--help"],
        "smsp get <bad number> (validation error)": [smsp, "get", "123", "--dob", "1980-01-01"],
    }
    results = {name: _time(command, runs, env) for name, command in commands.items()}
    baseline = statistics.median(results["python -c pass (baseline)"])
    print(f"{'command':45} {'median ms':>10} {'best ms':>9} {'x baseline':>11}  ({runs} runs)")
    for name, timings in results.items():
        median = statistics.median(timings)
        print(
            f"{name:45} {median * 1000:10.1f} {min(timings) * 1000:9.1f} {median / baseline:11.1f}"
        )


if __name__ == "__main__":
    main()
