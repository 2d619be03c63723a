"""What the audit trail costs: per lookup, per record, and to search and verify a large trail.

    python benchmarks/audit.py [--runs N] [--records N]

(a) One verify lookup in-process against the embedded sandbox, with the trail's writes
skipped (the baseline), recorded the default way (each record forced to the disk before the
request leaves), and through a batch-style trail (flushed per record, synced once a second).
(b) Appending records: per record forced to the disk, and a batch writer's.
(c) `smsp audit verify` and `smsp audit search --nhs-number` over a trail of N records
(rotated at 16 MiB), as console scripts: streamed, so their memory stays flat.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from report import print_timings, run_child, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--records", type=int, default=100_000)
    arguments = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="smsp-bench-audit-"))
    os.environ["SMSP_DATA_DIR"] = str(data)  # never the user's own trail
    lookups(data, arguments.runs)
    appends(data, arguments.runs)
    large_trail(data, arguments.records)
    shutil.rmtree(data, ignore_errors=True)


def lookups(data: Path, runs: int) -> None:
    from smsp_cli import service
    from smsp_cli.audit import CallAudit, open_trail
    from smsp_cli.domain import operations
    from smsp_cli.domain.models import build_query
    from smsp_cli.sandbox.certs import ensure_credentials
    from smsp_cli.sandbox.embedded import settings_for
    from smsp_cli.sandbox.server import SandboxServer
    from smsp_cli.settings.connection import ConnectionSettings, gather, resolve

    class Unrecorded(CallAudit):
        def write(self, settings: ConnectionSettings, fields: Any) -> None:
            pass

    query = build_query(operations.VERIFY, nhs_number="9991000003", dob="1984-03-14")
    credentials = ensure_credentials(data / "sandbox")
    with SandboxServer(credentials) as server, open_trail(fsync_interval=1.0) as batch_trail:
        settings = resolve(gather({}, {}, settings_for(server.url, credentials)))
        batch = CallAudit(batch_trail)
        variants = {
            "service.call, trail skipped (baseline)": Unrecorded(),
            "service.call, recorded (fsync per record)": None,
            "service.call, batch trail (fsync per second)": batch,
        }
        rows: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(runs):  # interleaved, so a busy machine weighs on each alike
            for name, audit in variants.items():
                rows[name] += timed(lambda audit=audit: service.call(query, settings,
                                                                     audit=audit), 1)
    print_timings("one lookup", rows, runs)


def appends(data: Path, runs: int) -> None:
    from smsp_cli.audit import Trail, open_trail, records

    fields = records.stamped("sent", {
        "username": "smsp sandbox client", "profile": "live", "environment": "live",
        "endpoint": "https://provider.example/smsp/pds", "operation": "verifyNHSNumber",
        "message_id": "7C9E6679-7425-40DE-944B-E07FC1F90AE7", "attempt": 1,
        "tracking_id": "0F8E4D2C-1B3A-4C5D-8E7F-9A0B1C2D3E4F",
        "audit_identity": [{"type": "1.2.826.0.1285.0.2.0.107", "uri": "868000003114"}],
        "nhs_numbers": ["9434765919"],
    })

    def durable() -> None:
        with open_trail() as trail:
            trail.append(fields)

    with Trail(data / "batch-appends", fsync_interval=1.0) as batch:
        rows = {
            "open, append, fsync, close (a lookup's record)": timed(durable, runs),
            "append to a batch writer": timed(lambda: batch.append(fields), runs * 50),
        }
    print("\none record                                       median us    best us")
    for name, timings in rows.items():
        print(f"{name:48} {statistics.median(timings) * 1e6:10.0f} {min(timings) * 1e6:10.0f}")


def large_trail(data: Path, count: int) -> None:
    from smsp_cli.audit import Trail, records

    directory = data / "large" / "audit"
    started = time.perf_counter()
    with Trail(directory, fsync_interval=1.0, max_bytes=16 * 1024 * 1024) as trail:
        for n in range(count):
            number = "9434765919" if n % 1000 == 0 else "9991000003"
            trail.append(records.stamped("sent", {
                "operation": "verifyNHSNumber", "message_id": f"{n:036d}",
                "nhs_numbers": [number], "pad": "x" * 300,
            }))
    elapsed = time.perf_counter() - started
    size = sum(path.stat().st_size for path in directory.iterdir())
    print(f"\nwrote {count} records ({size / 2**20:.0f} MiB, "
          f"{len(list(directory.glob('audit*.jsonl')))} files) in {elapsed:.1f} s: "
          f"{count / elapsed:.0f} records/s through one batch writer")
    smsp = shutil.which("smsp", path=str(Path(sys.executable).parent)) or "smsp"
    env = os.environ | {"SMSP_DATA_DIR": str(directory.parent)}
    for args in (("audit", "verify"), ("audit", "search", "--nhs-number", "9434765919",
                                       "-o", "json")):
        elapsed, _, peak_kib = run_child([smsp, *args], env)  # smsp's own peak (launch.py)
        print(f"smsp {' '.join(args[:2])}: {elapsed:.2f} s, peak RSS {peak_kib / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
