"""How many lookups a second one kept-alive client gets from `smsp sandbox serve`.

    python benchmarks/sandbox.py [--runs N] [--lookups M]

Starts `smsp sandbox serve` once, prebuilds M `get` envelopes (fresh ids each, so every one
passes the sandbox's checks), then in N rounds posts them one after another on a single
kept-alive httpx connection and times the round. Every reply must be HTTP 200.

A reply written in pieces waits out the client's delayed ACK (about 40 ms) before its last
piece leaves, so a keep-alive client would manage about 25 lookups a second; the sandbox sends
each reply in one write with TCP_NODELAY. Prints the median rate and exits 1 under the target
of 500 lookups a second. As a baseline measured in the same run, each round also times M
requests on the same connection for a path the sandbox answers at once with HTTP 404 (no XML
work), the ceiling of the server itself.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from report import child_environment, machine_load, served_sandbox

NHS_NUMBER, DOB = "9991000003", "1984-03-14"
TARGET = 500.0  # lookups a second, one kept-alive connection


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="measured rounds")
    parser.add_argument("--lookups", type=int, default=500, help="lookups a round")
    options = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    smsp = shutil.which("smsp", path=str(bin_dir)) or "smsp"
    work = Path(tempfile.mkdtemp(prefix="smsp-bench-"))
    env = child_environment() | {"SMSP_DATA_DIR": str(work / "data"),
                                 "SMSP_CONFIG_DIR": str(work / "config")}
    with served_sandbox(smsp, env) as served:
        return _measure(env | served, options.runs, options.lookups)


def _measure(env: dict[str, str], runs: int, lookups: int) -> int:
    import httpx

    from smsp_cli import service
    from smsp_cli.domain import operations
    from smsp_cli.domain.models import build_query
    from smsp_cli.settings.connection import gather, resolve
    from smsp_cli.transport import http as transport

    print(machine_load())
    settings = resolve(gather({}, env))
    query = build_query(operations.GET, nhs_number=NHS_NUMBER, dob=DOB)
    context = transport.ssl_context(settings.ca_bundle, settings.cert, settings.key)
    url = settings.endpoint
    missing = url.rsplit("/", 1)[0] + "/no-such-path"
    lookup_rates, ceiling_rates = [], []
    with httpx.Client(verify=context, trust_env=False) as client:
        for _ in range(runs + 1):  # the first round warms up and is not counted
            envelopes = [service.prepare(query, settings) for _ in range(lookups)]
            started = time.perf_counter()
            for envelope in envelopes:
                reply = client.post(url, content=envelope.body, headers={
                    "Content-Type": "text/xml; charset=utf-8",
                    "SOAPAction": envelope.soap_action,
                })
                if reply.status_code != 200:
                    raise SystemExit(f"the sandbox answered HTTP {reply.status_code}")
            lookup_rates.append(lookups / (time.perf_counter() - started))
            started = time.perf_counter()
            for _ in range(lookups):
                client.post(missing, content=b"", headers={"Content-Type": "text/xml"})
            ceiling_rates.append(lookups / (time.perf_counter() - started))
    lookup_rate = statistics.median(lookup_rates[1:])
    ceiling = statistics.median(ceiling_rates[1:])
    print(f"{'one kept-alive client':<34}{'per second':>12}   ({runs} rounds of {lookups})")
    print(f"{'HTTP 404, no XML work (ceiling)':<34}{ceiling:>12.0f}")
    print(f"{'get lookups, every check on':<34}{lookup_rate:>12.0f}  "
          f"({lookup_rate / ceiling:.2f}x the ceiling)")
    print(machine_load())
    verdict = "ok" if lookup_rate >= TARGET else "MISSED"
    print(f"target: get lookups >= {TARGET:g}/s on one kept-alive connection: "
          f"{lookup_rate:.0f} {verdict}")
    return 0 if verdict == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
