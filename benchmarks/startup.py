"""Start-up of the smsp CLI against `python -c "import typer"`, measured in the same run.

    python benchmarks/startup.py [--runs N]

Runs the commands in N rounds and prints the medians of wall time, CPU time and peak memory
with their ratios to the baseline, then checks the targets and exits 1 when one is missed:
`smsp --help` and `smsp help` <= 1.3x, `smsp --version` <= 1.0x and `smsp get ... --dry-run`
<= 1.5x the time of `python -c "import typer"`. The dry run uses throwaway sandbox credentials
and sends nothing; nothing here touches the network.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from report import Target, check, child_environment, machine_load, measure, print_table, run_child

BASELINE = "python -c 'import typer'"
TARGETS = (
    Target("smsp --help", BASELINE, 1.3),
    Target("smsp help", BASELINE, 1.3),
    Target("smsp --version", BASELINE, 1.0),
    Target("smsp get --dry-run", BASELINE, 1.5),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="measured rounds")
    runs = parser.parse_args().runs

    from smsp_cli.sandbox.certs import ensure_credentials
    from smsp_cli.sandbox.embedded import variables_for

    smsp = shutil.which("smsp", path=str(Path(sys.executable).parent)) or "smsp"
    data = Path(tempfile.mkdtemp(prefix="smsp-bench-"))
    credentials = ensure_credentials(data / "sandbox")
    env = child_environment() | variables_for("https://127.0.0.1:9/smsp/pds", credentials)
    env |= {"SMSP_DATA_DIR": str(data), "SMSP_CONFIG_DIR": str(data / "config")}
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        BASELINE: [sys.executable, "-c", "import typer"],
        "smsp --version": [smsp, "--version"],
        "smsp --help": [smsp, "--help"],
        "smsp help": [smsp, "help"],
        "smsp get -h": [smsp, "get", "-h"],
        "smsp get --dry-run": [smsp, "get", "9991000003", "--dob", "1984-03-14", "--dry-run"],
    }
    rows = {
        name: (lambda command=command: run_child(command, env))
        for name, command in commands.items()
    }
    print(machine_load())
    results = measure(rows, runs)
    print_table("command", results, runs, BASELINE)
    print(machine_load())
    return check(results, TARGETS)


if __name__ == "__main__":
    sys.exit(main())
