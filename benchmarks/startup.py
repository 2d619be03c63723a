"""Start-up time of the smsp CLI against a bare Python interpreter measured in the same run.

    python benchmarks/startup.py [--runs N]

Prints the median and best wall time of each command over N runs, and each as a multiple of
the `python -c pass` baseline. Nothing here touches the network.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from report import print_table, timed


def _run(command: list[str], env: dict[str, str]) -> None:
    subprocess.run(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False
    )


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
    results = {
        name: timed(lambda c=command: _run(c, env), runs) for name, command in commands.items()
    }
    print_table("command", results, runs)


if __name__ == "__main__":
    main()
