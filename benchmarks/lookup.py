"""One `smsp get --json` against `smsp sandbox serve`, beside the floor and httpie, in one run.

    python benchmarks/lookup.py [--runs N]

Starts `smsp sandbox serve` once and, in N rounds, runs one lookup each way against it:

* `bare_lookup.py`: the least a Python client can do (httpx, an ssl context, lxml), posting an
  envelope smsp built for the round (the baseline);
* httpie posting the same envelope with the same client certificate;
* `smsp get NHS_NUMBER --dob DATE --json`, every check, label and record included;
* curl posting the same envelope, for reference (no target), when curl is installed.

Prints the medians of wall time, CPU time and peak memory with their ratios to the baseline,
then checks the targets and exits 1 when one is missed: smsp's time <= 1.3x and peak memory
<= 1.2x the bare script's, and its time <= 0.6x httpie's. httpie comes with the dev extras
(`pip install -e '.[dev]'`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from report import (
    Target,
    check,
    child_environment,
    machine_load,
    measure,
    print_table,
    run_child,
    served_sandbox,
)

NHS_NUMBER, DOB = "9991000003", "1984-03-14"
BARE, HTTPIE, SMSP, CURL = (
    "bare httpx + lxml script",
    "httpie, same envelope",
    "smsp get --json",
    "curl, same envelope",
)
TARGETS = (
    Target(SMSP, BARE, 1.3),
    Target(SMSP, BARE, 1.2, "memory"),
    Target(SMSP, HTTPIE, 0.6),
)
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="measured rounds")
    runs = parser.parse_args().runs

    bin_dir = Path(sys.executable).parent
    smsp = shutil.which("smsp", path=str(bin_dir)) or "smsp"
    http = shutil.which("http", path=str(bin_dir))
    if http is None:
        print("httpie is not installed: pip install -e '.[dev]'", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="smsp-bench-"))
    env = child_environment() | {
        "SMSP_DATA_DIR": str(work / "data"),
        "SMSP_CONFIG_DIR": str(work / "config"),
        "HTTPIE_CONFIG_DIR": str(work / "httpie"),
    }
    with served_sandbox(smsp, env) as served:
        return _compare(runs, env | served, smsp, http, work)


def _compare(runs: int, env: dict[str, str], smsp: str, http: str, work: Path) -> int:
    from smsp_cli import service
    from smsp_cli.domain import operations
    from smsp_cli.domain.models import build_query
    from smsp_cli.settings.connection import gather, resolve

    settings = resolve(gather({}, env))
    query = build_query(operations.GET, nhs_number=NHS_NUMBER, dob=DOB)
    envelope = work / "envelope.xml"
    soap_action = operations.GET.service

    def fresh_envelope() -> None:
        # Each round posts a new message (new ids, fresh timestamp), as smsp itself does.
        envelope.write_bytes(service.prepare(query, settings).body)

    bare = [sys.executable, str(Path(__file__).with_name("bare_lookup.py")), str(envelope),
            soap_action]
    httpie = [
        http, "--check-status", "--body", "POST", env["SMSP_ENDPOINT"],
        "Content-Type:text/xml; charset=utf-8", f"SOAPAction:{soap_action}",
        f"--cert={env['SMSP_CERT']}", f"--cert-key={env['SMSP_KEY']}",
        f"--verify={env['SMSP_CA_BUNDLE']}",
    ]
    lookup = [smsp, "get", NHS_NUMBER, "--dob", DOB, "--json"]
    rows = {
        BARE: lambda: run_child(bare, env),
        HTTPIE: lambda: run_child(httpie, env, stdin=envelope),
        SMSP: lambda: run_child(lookup, env),
    }
    curl = shutil.which("curl")
    if curl is not None:
        rows[CURL] = lambda: run_child(
            [
                curl, "-s", "--fail", "-o", os.devnull,
                "--cert", env["SMSP_CERT"], "--key", env["SMSP_KEY"],
                "--cacert", env["SMSP_CA_BUNDLE"],
                "-H", "Content-Type: text/xml; charset=utf-8",
                "-H", f"SOAPAction: {soap_action}",
                "--data-binary", f"@{envelope}", env["SMSP_ENDPOINT"],
            ],
            env,
        )
    print(machine_load())
    results = measure(rows, runs, before_round=fresh_envelope)
    print_table("one lookup", results, runs, BARE)
    print(machine_load())
    return check(results, TARGETS)


if __name__ == "__main__":
    sys.exit(main())
