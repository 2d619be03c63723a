"""PDS FHIR against `smsp sandbox serve --api fhir`: one `get --json`, and a batch's rate.

    python benchmarks/fhir.py [--runs N] [--rows 2000] [--rounds 3]

Starts the FHIR sandbox (and, for the batch comparison, the SMSP sandbox) once, then:

* one lookup: in N rounds, `bare_fhir_get.py` (httpx, one GET with the token already got: the
  baseline) beside `smsp get NHS_NUMBER --dob DATE --json` with a cached token (every check,
  the verification rule, the audit records included). Target: smsp's time <= 1.3x the bare
  script's;
* a batch: `smsp batch get` of the same rows through PDS FHIR and through SMSP, alternating,
  at the same concurrency and with no rate limit (a FHIR profile defaults to 5 a second, the
  API's own limit: lifted here to measure smsp itself). The rates are shown side by side.

Medians throughout; exits 1 when the one-lookup target is missed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
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
BARE, SMSP = "bare httpx GET script", "smsp get --json (FHIR)"
TARGETS = (Target(SMSP, BARE, 1.3),)
FHIR_VARIABLES = ("SMSP_API", "SMSP_ENDPOINT", "SMSP_TOKEN_URL", "SMSP_API_KEY",
                  "SMSP_SIGNING_KEY", "SMSP_SIGNING_KEY_ID", "SMSP_CA_BUNDLE", "SMSP_KIND")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="measured rounds of one lookup")
    parser.add_argument("--rows", type=int, default=2000, help="rows of each batch")
    parser.add_argument("--rounds", type=int, default=3, help="batch rounds")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    smsp = shutil.which("smsp", path=str(Path(sys.executable).parent)) or "smsp"
    work = Path(tempfile.mkdtemp(prefix="smsp-fhir-bench-"))
    env = child_environment() | {"SMSP_DATA_DIR": str(work / "data"),
                                 "SMSP_CONFIG_DIR": str(work / "config")}
    try:
        with (served_sandbox(smsp, env, api="fhir", variables=FHIR_VARIABLES) as fhir,
              served_sandbox(smsp, env) as soap):
            code = _one_lookup(args.runs, smsp, env | fhir)
            _batches(args, smsp, env | fhir, env | soap, work)
            return code
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _one_lookup(runs: int, smsp: str, env: dict[str, str]) -> int:
    lookup = [smsp, "get", NHS_NUMBER, "--dob", DOB, "--json"]
    run_child(lookup, env)  # signs in once: every measured lookup uses the cached token
    token = _cached_token(env)
    bare = [sys.executable, str(Path(__file__).with_name("bare_fhir_get.py")), NHS_NUMBER]
    rows = {BARE: lambda: run_child(bare, env | {"BENCH_TOKEN": token}),
            SMSP: lambda: run_child(lookup, env)}
    print(machine_load())
    results = measure(rows, runs)
    print_table("one PDS FHIR lookup, token cached", results, runs, BARE)
    return check(results, TARGETS)


def _cached_token(env: Mapping[str, str]) -> str:
    os.environ["SMSP_DATA_DIR"] = env["SMSP_DATA_DIR"]
    from smsp_cli.adapters.fhir import tokencache

    key = tokencache.cache_key(None, env["SMSP_API_KEY"], env["SMSP_TOKEN_URL"])
    token = tokencache.cached(key)
    if token is None:
        raise SystemExit("smsp get left no cached token")
    return token.value


def _batches(args: argparse.Namespace, smsp: str, fhir: dict[str, str], soap: dict[str, str],
             work: Path) -> None:
    source = work / "rows.csv"
    source.write_text("nhs_number,dob\n" + f"{NHS_NUMBER},{DOB}\n" * args.rows)
    rates: dict[str, list[float]] = {"PDS FHIR": [], "SMSP": []}
    for _ in range(args.rounds):
        for name, env in (("PDS FHIR", fhir), ("SMSP", soap)):
            out = work / "out.jsonl"
            for stale in (out, out.with_name(out.name + ".meta")):
                stale.unlink(missing_ok=True)
            started = time.perf_counter()
            subprocess.run([smsp, "batch", "get", str(source), "--out", str(out),
                            "--concurrency", str(args.concurrency), "--rate-limit", "10000"],
                           env=env, capture_output=True, check=True)
            rates[name].append(args.rows / (time.perf_counter() - started))
    print(f"smsp batch get, {args.rows} rows, concurrency {args.concurrency}, no rate limit, "
          f"{args.rounds} rounds alternating (whole process, median rows/s)")
    soap_rate = statistics.median(rates["SMSP"])
    for name, found in rates.items():
        median = statistics.median(found)
        print(f"  {name:10} {median:7.0f}/s  ({median / soap_rate:.2f}x SMSP's)")


if __name__ == "__main__":
    sys.exit(main())
