"""Batch lookups against `smsp sandbox serve`: smsp batch, a bare httpx client and a curl loop.

    python benchmarks/batch.py [--rows 5000] [--concurrency 4,16] [--rounds 3]
                               [--curl-rows 300] [--memory-rows 1000,100000] [--work-dir DIR]

Starts `smsp sandbox serve` once on 127.0.0.1, then, in one run and against that server, for
each ``--concurrency``:

(a) a bare httpx client keeping its connections alive, posting prebuilt `get` envelopes from
    that many threads (the baseline: no envelope building, no reply parsing, no audit);
(c) `smsp batch get` on the same rows at the same concurrency, as a whole process, its audit
    trail in ``--work-dir`` (refused on a RAM disk: an fsync there costs nothing);
(d) the same with fsync made a no-op (benchmarks/peak/sitecustomize.py, a switch only this
    benchmark sets): what the trail's group commit (every `sent` record on the disk before its
    request leaves) costs the batch is (c) against (d), with the fsyncs (c) made a row.

(a), (c) and (d) alternate for ``--rounds`` rounds, so a busy machine weighs on all alike; the
rate and the CPU a row are compared round by round (medians of the paired ratios; CPU is the
less load-sensitive figure). Then (b) a shell loop of `curl`, one process and one TLS handshake
per lookup, on fewer rows, and the peak resident memory (the child's own VmHWM) of `smsp batch
get` for each of ``--memory-rows`` (real lookups, every one sent). Exits 1 when the batch's
rate is under 1.0x the bare client's, group commit costs more than 10% of it, or its memory
grows more than 1.1x.
"""

from __future__ import annotations

import argparse
import os
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from report import child_environment, run_child, served_sandbox

TARGET = 1.0  # batch rate / bare httpx rate, issue "Fast at scale"
CPU_TO_WATCH = 1.2  # batch CPU a row / bare httpx CPU a row
MEMORY_TARGET = 1.1  # peak of the largest --memory-rows / the smallest
GROUP_COMMIT_TARGET = 0.9  # batch rate with fsync / without, issue "The audit trail holds"
PEAK = Path(__file__).with_name("peak")
NHS_NUMBER, DOB = "9991000003", "1984-03-14"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--concurrency", default="4,16", help="one or more, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--curl-rows", type=int, default=300, help="0: no curl loop")
    parser.add_argument("--memory-rows", default="1000,100000", help="empty: no memory runs")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="where the trail and files go (default: the system's temp folder)")
    args = parser.parse_args()
    smsp = shutil.which("smsp", path=str(Path(sys.executable).parent)) or "smsp"
    work = Path(tempfile.mkdtemp(prefix="smsp-batch-bench-", dir=args.work_dir))
    kind = _file_system(work)
    if kind in RAM_DISKS:
        shutil.rmtree(work, ignore_errors=True)
        raise SystemExit(f"{work} is on a RAM disk ({kind}): an fsync there costs nothing, so "
                         "the trail's group commit would go unmeasured; pass --work-dir")
    env = child_environment() | {"SMSP_DATA_DIR": str(work / "data")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PEAK), env.get("PYTHONPATH")]))
    try:
        with served_sandbox(smsp, env) as served:
            print(f"trail in {work} ({kind}); load average before: {_load()}")
            return _measure(args, smsp, env | served, served, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


RAM_DISKS = {"tmpfs", "ramfs"}


def _file_system(path: Path) -> str:
    done = subprocess.run(["stat", "-f", "-c", "%T", str(path)], capture_output=True,
                          text=True, check=False)
    return done.stdout.strip() or "unknown"


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _measure(args: argparse.Namespace, smsp: str, env: dict[str, str],
             served: dict[str, str], work: Path) -> int:
    rows = args.rows
    source = _csv(work / f"{rows}.csv", rows)
    verdicts = []
    for concurrency in [int(value) for value in args.concurrency.split(",")]:
        bare: list[tuple[float, float]] = []  # (rows/s, CPU ms a row)
        mine: list[tuple[float, float]] = []
        unsynced: list[tuple[float, float]] = []
        fsyncs: list[int] = []
        for _ in range(args.rounds):
            bare.append(_bare_httpx(served, rows, concurrency))
            run = _batch(smsp, env, source, concurrency, work / "out.jsonl")
            mine.append((rows / run.wall, run.cpu * 1000 / rows))
            fsyncs.append(run.fsyncs)
            run = _batch(smsp, env | {"SMSP_BENCH_NO_FSYNC": "1"}, source, concurrency,
                         work / "out.jsonl")
            unsynced.append((rows / run.wall, run.cpu * 1000 / rows))
        rate = statistics.median(m[0] / b[0] for m, b in zip(mine, bare, strict=True))
        cpu_ratio = statistics.median(m[1] / b[1] for m, b in zip(mine, bare, strict=True))
        kept = statistics.median(m[0] / u[0] for m, u in zip(mine, unsynced, strict=True))
        print(f"\nget lookups against `smsp sandbox serve`, {rows} rows, concurrency "
              f"{concurrency}, {args.rounds} rounds alternating (a) and (c); load {_load()}")
        print(f"{'':40} {'median/s':>9} {'best/s':>8} {'CPU ms/row':>11}")
        for name, samples in (("(a) bare httpx, keep-alive, prebuilt", bare),
                              ("(c) smsp batch get, whole process", mine),
                              ("(d) the same, fsync a no-op", unsynced)):
            print(f"{name:40} {statistics.median(s[0] for s in samples):9.0f} "
                  f"{max(s[0] for s in samples):8.0f} "
                  f"{statistics.median(s[1] for s in samples):11.2f}")
        print(f"smsp batch / bare httpx, paired median: rate {rate:.2f}x (target {TARGET}x), "
              f"CPU a row {cpu_ratio:.2f}x (to watch: {CPU_TO_WATCH}x)")
        print(f"group commit: (c) / (d) rate {kept:.2f}x (target at least "
              f"{GROUP_COMMIT_TARGET}x), {statistics.median(fsyncs) / rows:.2f} fsyncs a row")
        verdicts.append(rate >= TARGET)
        verdicts.append(kept >= GROUP_COMMIT_TARGET)
    if args.curl_rows > 0 and shutil.which("curl"):
        curl_rate = _curl_loop(served, args.curl_rows, work)
        print(f"(b) curl shell loop, {args.curl_rows} rows: {curl_rate:.0f}/s")

    sizes = [int(size) for size in args.memory_rows.split(",") if size.strip()]
    peaks = {size: _batch(smsp, env, _csv(work / f"m{size}.csv", size), 4,
                          work / f"m{size}.jsonl").peak_kib / 1024 for size in sizes}
    for size, peak in peaks.items():
        print(f"peak RSS (VmHWM) of smsp batch get, {size:>7} rows: {peak:6.1f} MiB")
    if len(peaks) > 1:
        growth = peaks[max(peaks)] / peaks[min(peaks)]
        print(f"largest / smallest: {growth:.2f}x (target {MEMORY_TARGET}x)")
        verdicts.append(growth <= MEMORY_TARGET)
    return 0 if all(verdicts) else 1


def _csv(path: Path, rows: int) -> Path:
    with path.open("w", encoding="utf-8") as sheet:
        sheet.write("nhs_number,dob\n")
        for _ in range(rows):
            sheet.write(f"{NHS_NUMBER},{DOB}\n")
    return path


def _envelopes(served: dict[str, str], count: int) -> list[bytes]:
    """``count`` get envelopes, each with fresh ids, built the way smsp builds them."""
    from smsp_cli import service
    from smsp_cli.domain import operations
    from smsp_cli.domain.models import build_query
    from smsp_cli.settings.connection import gather, resolve

    settings = resolve(gather({}, served))  # the SMSP_* variables, as smsp itself reads them
    query = build_query(operations.GET, nhs_number=NHS_NUMBER, dob=DOB)
    return [service.prepare(query, settings).body for _ in range(count)]


def _bare_httpx(served: dict[str, str], rows: int, concurrency: int) -> tuple[float, float]:
    """(a): lookups a second of prebuilt envelopes posted on kept-alive connections, and the
    CPU milliseconds a row this process spent posting them."""
    import httpx

    from smsp_cli.domain import operations

    bodies = _envelopes(served, rows)
    context = ssl.create_default_context(cafile=served["SMSP_CA_BUNDLE"])
    context.load_cert_chain(served["SMSP_CERT"], served["SMSP_KEY"])
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": operations.GET.service}
    lock = threading.Lock()
    with httpx.Client(verify=context, limits=limits) as client:

        def post_some() -> None:
            while True:
                with lock:
                    if not bodies:
                        return
                    body = bodies.pop()
                answer = client.post(served["SMSP_ENDPOINT"], content=body, headers=headers)
                if answer.status_code != 200:
                    raise SystemExit(f"bare httpx: HTTP {answer.status_code}")

        threads = [threading.Thread(target=post_some) for _ in range(concurrency)]
        started, cpu = time.perf_counter(), time.process_time()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        return rows / wall, cpu * 1000 / rows


@dataclass(frozen=True)
class BatchRun:
    """One whole `smsp batch get` process."""

    wall: float  # seconds
    cpu: float  # seconds, user + system
    peak_kib: int  # its own VmHWM
    fsyncs: int


def _batch(smsp: str, env: dict[str, str], source: Path, concurrency: int,
           out: Path) -> BatchRun:
    """(c): the whole `smsp batch get` process."""
    for stale in (out, out.with_name(out.name + ".meta")):
        stale.unlink(missing_ok=True)
    figures = {"vmhwm": out.with_name("vmhwm"), "fsyncs": out.with_name("fsyncs")}
    for figure in figures.values():
        figure.unlink(missing_ok=True)
    try:
        wall, cpu, _ = run_child(
            [smsp, "batch", "get", str(source), "--concurrency", str(concurrency), "--out",
             str(out)],
            env | {"SMSP_BENCH_VMHWM_FILE": str(figures["vmhwm"]),
                   "SMSP_BENCH_FSYNC_FILE": str(figures["fsyncs"])})
    except SystemExit:
        _show_failed_rows(out)  # the work folder goes with the run: say what failed first
        raise
    peak, fsyncs = (int(figures[name].read_text().split()[-1]) for name in ("vmhwm", "fsyncs"))
    return BatchRun(wall, cpu, peak, fsyncs)


def _show_failed_rows(out: Path) -> None:
    """The rows of a failed batch that did not end in exit 0: how many, and the first errors
    (the sandbox's synthetic patients only)."""
    import json

    lines = out.read_text(encoding="utf-8").splitlines() if out.exists() else []
    failed = [json.loads(line) for line in lines if '"exit_code": 0,' not in line]
    print(f"{len(lines)} rows written, {len(failed)} not exit 0", file=sys.stderr)
    for row in failed[:5]:
        error = row.get("error") or {}
        print(f"  row {row.get('row')}: exit {row.get('exit_code')}, {error.get('type')}: "
              f"{error.get('message')}", file=sys.stderr)


def _curl_loop(served: dict[str, str], rows: int, work: Path) -> float:
    """(b): lookups a second of a shell loop running one `curl` a lookup."""
    from smsp_cli.domain import operations

    folder = work / "envelopes"
    folder.mkdir(exist_ok=True)
    for number, body in enumerate(_envelopes(served, rows)):
        (folder / f"{number:06d}.xml").write_bytes(body)
    script = (
        'for f in "$DIR"/*.xml; do curl -s -o /dev/null --fail --cert "$CERT" --key "$KEY" '
        '--cacert "$CA" -H "Content-Type: text/xml; charset=utf-8" -H "SOAPAction: $ACTION" '
        '--data-binary @"$f" "$URL" || exit 1; done'
    )
    loop_env = os.environ | {
        "DIR": str(folder), "CERT": served["SMSP_CERT"], "KEY": served["SMSP_KEY"],
        "CA": served["SMSP_CA_BUNDLE"], "URL": served["SMSP_ENDPOINT"],
        "ACTION": operations.GET.service,
    }
    started = time.perf_counter()
    subprocess.run(["sh", "-c", script], env=loop_env, check=True)
    return rows / (time.perf_counter() - started)


if __name__ == "__main__":
    sys.exit(main())
