"""What the audit trail costs: per lookup, per record, and to search and verify a large trail.

    python benchmarks/audit.py [--runs N] [--records N] [--large-runs N] [--large-only]

(a) One verify lookup in-process against the embedded sandbox, with the trail's writes
skipped (the baseline), recorded the default way (each record forced to the disk before the
request leaves), and through a batch-style trail (flushed per record, synced once a second).
(b) Appending records: per record forced to the disk, and a batch writer's; and a batch's rows
(a `sent` and a `received` record each, from 4 threads, with group commit): CPU a row.
(c) over a trail of N records (default 1,000,000, rotated at 64 MiB), in rounds: `smsp audit
search` by NHS number, MessageID and user, each against `grep -c` of the same value over the
same files, and `smsp audit verify` against `sha256sum` of the files; whole processes, wall time
(median of per-round ratios), CPU and peak memory. Exits 1 when a target is missed (search at
most 3x grep, verify at most 2x sha256sum), or when a search finds other than the records
``grep -c`` counts or does not say it searched every record.
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

from report import (
    Action,
    Target,
    check,
    child_environment,
    machine_load,
    measure,
    print_timings,
    run_child,
    timed,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--large-runs", type=int, default=5)
    parser.add_argument("--large-only", action="store_true",
                        help="only (c), search and verify over a large trail")
    arguments = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="smsp-bench-audit-"))
    os.environ["SMSP_DATA_DIR"] = str(data)  # never the user's own trail
    try:
        if not arguments.large_only:
            lookups(data, arguments.runs)
            appends(data, arguments.runs)
        return large_trail(data, arguments.records, arguments.large_runs)
    finally:
        shutil.rmtree(data, ignore_errors=True)


def lookups(data: Path, runs: int) -> None:
    from smsp_cli import service
    from smsp_cli.audit.calls import CallAudit
    from smsp_cli.audit.configured import open_trail
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
    from smsp_cli.audit import records
    from smsp_cli.audit.configured import open_trail
    from smsp_cli.audit.trail import Trail

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
    batch_rows(data, fields, runs)


def batch_rows(data: Path, sent: dict[str, Any], runs: int, rows: int = 2000,
               threads: int = 4) -> None:
    """A batch's records alone: ``threads`` workers each writing a row's `sent` (waiting for
    its group's fsync) and then its `received`, as a batch does around each request; the
    process's CPU a row (every thread's, the sync's included), median of ``runs`` // 4 rounds."""
    from smsp_cli.audit import records
    from smsp_cli.audit.trail import Trail

    received = records.stamped("received", {
        **{key: sent[key] for key in ("username", "profile", "environment", "endpoint",
                                      "operation", "message_id", "attempt")},
        "reply_message_id": "2B5D7A4C-93E1-4F0B-8C6D-1E2F3A4B5C6D", "http_status": 200,
        "response_code": "SMSP-0000", "nhs_numbers": ["9434765919"],
    })
    per_row = []
    for round_number in range(max(1, runs // 4)):
        with Trail(data / f"batch-rows-{round_number}", fsync_interval=1.0) as trail:
            per_row.append(_batch_round(trail, [sent, received], rows, threads))
    name = f"a batch row's two records, {threads} threads (CPU)"
    print(f"{name:48} {statistics.median(per_row) * 1e6:10.0f} {min(per_row) * 1e6:10.0f}"
          f"  ({machine_load()})")


def _batch_round(trail: Any, row: list[dict[str, Any]], rows: int, threads: int) -> float:
    """CPU seconds a row of ``threads`` workers appending ``row``'s records ``rows`` times."""
    import threading

    left = iter(range(rows))
    taking = threading.Lock()

    def work() -> None:
        while True:
            with taking:
                if next(left, None) is None:
                    return
            for fields in row:
                trail.append(fields)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    started = time.process_time()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return (time.process_time() - started) / rows


def large_trail(data: Path, count: int, runs: int) -> int:
    """(c): search and verify over ``count`` records, each against its baseline in rounds."""
    directory = data / "large" / "audit"
    started = time.perf_counter()
    write_trail(directory, count)
    files = sorted(str(path) for path in directory.glob("audit*.jsonl"))
    size = sum(Path(name).stat().st_size for name in files)
    print(f"\nwrote {count} records ({size / 2**20:.0f} MiB, {len(files)} files) in "
          f"{time.perf_counter() - started:.1f} s; {machine_load()}")
    smsp = shutil.which("smsp", path=str(Path(sys.executable).parent)) or "smsp"
    env = child_environment() | {"SMSP_DATA_DIR": str(directory.parent)}

    def command(*args: str) -> Action:
        return lambda: run_child(list(args), env)

    def grep(value: str) -> Action:
        # Through a pipe: GNU grep writing to /dev/null stops at the first match.
        return command("sh", "-c", 'grep -c -- "$0" "$@" | cat', value, *files)

    searches = (("--nhs-number", NUMBER), ("--message-id", MESSAGE_ID), ("--user", USER))
    wrong = same_results(smsp, env, files, searches, count)
    rows: dict[str, Action] = {}
    for flag, value in searches:
        rows[f"grep -c {value}"] = grep(value)
        rows[f"smsp audit search {flag}"] = command(smsp, "audit", "search", flag, value,
                                                    "-o", "json")
    rows["sha256sum of the files"] = command("sha256sum", *files)
    rows["smsp audit verify"] = command(smsp, "audit", "verify")
    samples = measure(rows, runs, warmup=1)
    print(f"\n{count} records, {runs} rounds (medians; x: median of per-round ratios)")
    print(f"{'':36} {'wall s':>7} {'cpu s':>6} {'peak MiB':>9}")
    for name, sample in samples.items():
        print(f"{name:36} {sample.median('time') / 1000:7.2f} {sample.median('cpu') / 1000:6.2f}"
              f" {sample.median('memory'):9.0f}")
    targets = [
        Target("smsp audit search --nhs-number", f"grep -c {NUMBER}", 3.0),
        Target("smsp audit search --message-id", f"grep -c {MESSAGE_ID}", 3.0),
        Target("smsp audit search --user", f"grep -c {USER}", 3.0),
        Target("smsp audit verify", "sha256sum of the files", 2.0),
    ]
    # CPU time is less disturbed by others on a shared machine: shown, not the target.
    for target in targets:
        ratio = samples[target.row].ratio(samples[target.baseline], "cpu")
        print(f"cpu: {target.row} {ratio:.2f} x {target.baseline}")
    print(machine_load())
    return max(check(samples, targets), wrong)


def same_results(smsp: str, env: dict[str, str], files: list[str],
                 searches: tuple[tuple[str, str], ...], count: int) -> int:
    """Run each search once and check what it found: as many records as ``grep -c`` counts
    lines holding the value (each such line of this trail is a match), and a search for a
    value in no record says it searched every record. 1 when one does not, else 0."""
    import subprocess

    wrong = 0
    for flag, value in searches:
        found = subprocess.run([smsp, "audit", "search", flag, value, "-o", "json"], env=env,
                               capture_output=True, check=True).stdout.count(b"\n")
        lines = subprocess.run(["grep", "-c", "--", value, *files], capture_output=True,
                               text=True).stdout.split()
        expected = sum(int(line.rpartition(":")[2]) for line in lines)
        verdict = "ok" if found == expected else "WRONG"
        wrong |= verdict != "ok"
        print(f"smsp audit search {flag}: {found} records, grep -c: {expected} lines {verdict}")
    absent = subprocess.run([smsp, "audit", "search", "--user", "nobody-at-all"], env=env,
                            capture_output=True, text=True)
    said = absent.stderr.strip()
    verdict = "ok" if said == f"smsp: no record matches ({count} searched)" else "WRONG"
    wrong |= verdict != "ok"
    print(f"smsp audit search --user nobody-at-all: {said!r} {verdict}")
    return wrong


NUMBER, MESSAGE_ID, USER = "9434765919", "7C9E6679-7425-40DE-944B-E07FC1F90AE7", "auditor"


def write_trail(directory: Path, count: int) -> None:
    """``count`` records as the writer writes them (chained, rotated at 64 MiB, checkpointed),
    written directly: two records a call (sent, received), and one call in 500 (so about one
    record in 1,000) names NUMBER, one MESSAGE_ID and one is made by USER."""
    import random
    import uuid

    from smsp_cli.audit import records
    from smsp_cli.audit.checkpoint import Checkpoint
    from smsp_cli.audit.paths import rotated_name

    directory.mkdir(parents=True)
    (directory / "audit.lock").touch()
    chance = random.Random(23)
    seq, prev, size, rotated = 0, None, 0, 0
    out = open(directory / "audit.jsonl", "wb")  # noqa: SIM115 - replaced when it rotates
    for call in range(0, count, 2):
        message_id = (MESSAGE_ID if call % 1000 == 2 else
                      str(uuid.UUID(int=chance.getrandbits(128), version=4)).upper())
        common = {
            "user": USER if call % 1000 == 4 else "clinician", "host": "ward-pc-17",
            "username": "smsp client", "profile": "live", "environment": "live",
            "endpoint": "https://provider.example/smsp/pds",
            "operation": "getPatientDetailsByNHSNumber", "message_id": message_id,
            "attempt": 1, "tracking_id": str(uuid.UUID(int=chance.getrandbits(128))).upper(),
            "batch_row": call // 2,
            "audit_identity": [{"type": "1.2.826.0.1285.0.2.0.107", "uri": "868000003114"}],
            "nhs_numbers": [NUMBER if call % 1000 == 0 else "9991000003"],
        }
        reply = {"reply_message_id": str(uuid.UUID(int=chance.getrandbits(128))).upper(),
                 "http_status": 200, "response_code": "SMSP-0000"}
        for event, extra in (("sent", {}), ("received", reply))[: count - call]:
            seq += 1
            line = records.encode(seq, prev, {"time": records.utc_timestamp(), "event": event,
                                              **common, **extra})
            if size + len(line) > 64 * 1024 * 1024:
                out.close()
                rotated += 1
                os.rename(directory / "audit.jsonl", directory / rotated_name(rotated))
                out = open(directory / "audit.jsonl", "wb")  # noqa: SIM115
                size = 0
            out.write(line)
            size += len(line)
            prev = records.digest(line)
    out.close()
    (directory / "checkpoint.json").write_bytes(Checkpoint(seq, prev).encode())


if __name__ == "__main__":
    sys.exit(main())
