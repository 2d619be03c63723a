"""Batch lookups against `smsp sandbox serve`: smsp batch, a bare httpx client and a curl loop.

    python benchmarks/batch.py [--rows 5000] [--concurrency 4] [--rounds 3]
                               [--curl-rows 300] [--memory-rows 1000,100000]

Starts `smsp sandbox serve` once on 127.0.0.1, then, in one run and against that server:

(a) a bare httpx client keeping its connections alive, posting prebuilt `get` envelopes from
    ``--concurrency`` threads (the baseline: no envelope building, no reply parsing);
(b) a shell loop of `curl`, one process and one TLS handshake per lookup, on fewer rows;
(c) `smsp batch get` on the same rows at the same concurrency, as a whole process.

(a) and (c) alternate for ``--rounds`` rounds, so a busy machine weighs on both alike; the
median rate of each is compared. Then the peak RSS of `smsp batch get` is measured for each of
``--memory-rows`` (real lookups, every one sent). Exits 1 when the batch's median rate is
under 0.7x the bare client's.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from report import run_child, served_sandbox

TARGET = 0.7  # batch rate / bare httpx rate
NHS_NUMBER, DOB = "9991000003", "1984-03-14"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--curl-rows", type=int, default=300)
    parser.add_argument("--memory-rows", default="1000,100000")
    args = parser.parse_args()
    smsp = shutil.which("smsp", path=str(Path(sys.executable).parent)) or "smsp"
    work = Path(tempfile.mkdtemp(prefix="smsp-batch-bench-"))
    env = os.environ | {"SMSP_DATA_DIR": str(work / "data"), "NO_COLOR": "1"}
    env = {name: value for name, value in env.items()
           if not name.startswith("SMSP_") or name == "SMSP_DATA_DIR"}
    try:
        with served_sandbox(smsp, env) as served:
            return _measure(args, smsp, env | served, served, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _measure(args: argparse.Namespace, smsp: str, env: dict[str, str],
             served: dict[str, str], work: Path) -> int:
    rows, concurrency = args.rows, args.concurrency
    source = _csv(work / f"{rows}.csv", rows)
    bare_rates, batch_rates, run_rates = [], [], []
    for _ in range(args.rounds):
        bare_rates.append(_bare_httpx(served, rows, concurrency))
        wall, in_run = _batch(smsp, env, source, concurrency, work / "out.jsonl")
        batch_rates.append(rows / wall)
        run_rates.append(in_run)
    curl_rate = _curl_loop(served, args.curl_rows, work) if shutil.which("curl") else None

    bare = statistics.median(bare_rates)
    print(f"get lookups against `smsp sandbox serve`, concurrency {concurrency}, "
          f"{args.rounds} rounds alternating (a) and (c)")
    print(f"{'':44} {'rows':>7} {'median/s':>9} {'best/s':>8} {'x (a)':>7}")
    _line("(a) bare httpx, keep-alive, prebuilt", rows, bare_rates, bare)
    _line("(c) smsp batch get, whole process", rows, batch_rates, bare)
    _line("    smsp batch get, rows/s of its summary", rows, run_rates, bare)
    if curl_rate is not None:
        _line("(b) curl shell loop", args.curl_rows, [curl_rate], bare)
        print(f"smsp batch / curl loop: {statistics.median(batch_rates) / curl_rate:.1f}x")
    ratio = statistics.median(batch_rates) / bare
    print(f"smsp batch / bare httpx: {ratio:.2f}x (target {TARGET}x)")

    sizes = [int(size) for size in args.memory_rows.split(",") if size.strip()]
    peaks = {size: _peak_rss_mib(smsp, env, _csv(work / f"m{size}.csv", size),
                                 concurrency, work / f"m{size}.jsonl") for size in sizes}
    for size, peak in peaks.items():
        print(f"peak RSS of smsp batch get, {size:>7} rows: {peak:6.1f} MiB")
    if len(peaks) > 1:
        print(f"largest / smallest: {peaks[max(peaks)] / peaks[min(peaks)]:.2f}x (target 1.2x)")
    return 0 if ratio >= TARGET else 1


def _line(name: str, rows: int, rates: list[float], baseline: float) -> None:
    median = statistics.median(rates)
    print(f"{name:44} {rows:7} {median:9.0f} {max(rates):8.0f} {median / baseline:7.2f}")


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


def _bare_httpx(served: dict[str, str], rows: int, concurrency: int) -> float:
    """(a): lookups a second of prebuilt envelopes posted on kept-alive connections."""
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
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return rows / (time.perf_counter() - started)


_SUMMARY_RATE = re.compile(r" rows: .* in [\d.]+ s, (\d+)/s")


def _batch(smsp: str, env: dict[str, str], source: Path, concurrency: int,
           out: Path) -> tuple[float, float]:
    """(c): seconds for the whole `smsp batch get` process, and the rate its summary gives."""
    for stale in (out, out.with_name(out.name + ".meta")):
        stale.unlink(missing_ok=True)
    started = time.perf_counter()
    done = subprocess.run(
        [smsp, "batch", "get", str(source), "--concurrency", str(concurrency), "--out", str(out)],
        env=env, capture_output=True, text=True, check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"smsp batch failed ({done.returncode}): {done.stderr}")
    found = _SUMMARY_RATE.search(done.stderr)
    return wall, float(found.group(1)) if found else float("nan")


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


def _peak_rss_mib(smsp: str, env: dict[str, str], source: Path, concurrency: int,
                  out: Path) -> float:
    """Peak resident memory of one whole `smsp batch get` process, in MiB (its own, through
    launch.py, not this benchmark's as a forked child would report)."""
    command = [smsp, "batch", "get", str(source), "--concurrency", str(concurrency),
               "--out", str(out)]
    return run_child(command, env)[2] / 1024


if __name__ == "__main__":
    sys.exit(main())
