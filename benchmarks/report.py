"""Measuring commands against a baseline in the same run, and the figures tables.

Every comparison is made in one run against a baseline measured in the same run. The commands
run in rounds, one of each per round, so a busy spell on a shared machine falls on all of them
alike; a row's ratio to its baseline is the median of its per-round ratios, and its figures are
medians over the rounds. Each command is started through ``launch.py``, which reports its wall
time, CPU time (user + system) and peak resident memory. :func:`check` prints each target's
verdict and gives the exit status: 1 when one is missed.

:func:`timed` and :func:`print_timings` serve in-process timings (benchmarks/audit.py).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

_LAUNCHER = Path(__file__).with_name("launch.py")


@dataclass
class Samples:
    """One row's measurements, one of each per round."""

    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)
    peak_kib: list[int] = field(default_factory=list)

    def median(self, metric: str) -> float:
        """Median wall ms ("time"), CPU ms ("cpu") or peak MiB ("memory")."""
        if metric == "memory":
            return statistics.median(self.peak_kib) / 1024
        values = self.cpu_seconds if metric == "cpu" else self.seconds
        return statistics.median(values) * 1000

    def ratio(self, baseline: Samples, metric: str) -> float:
        """The median over rounds of this row's figure divided by the baseline's."""
        if metric == "memory":
            pairs = zip(self.peak_kib, baseline.peak_kib, strict=True)
        elif metric == "cpu":
            pairs = zip(self.cpu_seconds, baseline.cpu_seconds, strict=True)
        else:
            pairs = zip(self.seconds, baseline.seconds, strict=True)
        return statistics.median(mine / theirs for mine, theirs in pairs)


@dataclass(frozen=True)
class Target:
    """``row``'s ``metric`` ("time" or "memory") at most ``limit`` times ``baseline``'s."""

    row: str
    baseline: str
    limit: float
    metric: str = "time"


Action = Callable[[], tuple[float, float, int]]


def child_environment() -> dict[str, str]:
    """The environment for measured processes: bytecode cached, no colour, no SMSP_* setting.

    Python may write its bytecode cache (to a private folder), as an installed smsp has its
    modules compiled: without it every run would compile the package from source. The
    caller's own SMSP_* settings (a profile, retries) would change what is measured.
    """
    env = {name: value for name, value in os.environ.items() if not name.startswith("SMSP_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="smsp-bench-pycache-")
    env["NO_COLOR"] = "1"
    return env


def run_child(
    command: Sequence[str], env: Mapping[str, str], *, stdin: Path | None = None
) -> tuple[float, float, int]:
    """Run ``command`` once, output discarded: (wall s, CPU s, peak resident KiB).

    It is started by ``launch.py`` (see there why), which times it from spawn to exit. A
    command that fails stops the benchmark: its figures would mean nothing.
    """
    done = subprocess.run(
        [sys.executable, "-S", str(_LAUNCHER), str(stdin or os.devnull), *command],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    seconds, cpu, peak_kib, code = done.stdout.split()
    if int(code) != 0:
        raise SystemExit(f"{' '.join(command)} exited {code}")
    return float(seconds), float(cpu), int(peak_kib)


def measure(
    rows: Mapping[str, Action],
    runs: int,
    *,
    warmup: int = 2,
    before_round: Callable[[], None] | None = None,
) -> dict[str, Samples]:
    """``warmup`` unmeasured rounds, then ``runs`` measured rounds of every row."""
    samples = {name: Samples() for name in rows}
    for round_number in range(warmup + runs):
        if before_round is not None:
            before_round()
        for name, action in rows.items():
            seconds, cpu, peak = action()
            if round_number >= warmup:
                samples[name].seconds.append(seconds)
                samples[name].cpu_seconds.append(cpu)
                samples[name].peak_kib.append(peak)
    return samples


def print_table(title: str, rows: Mapping[str, Samples], runs: int, baseline: str) -> None:
    """Medians of wall time, CPU time and peak memory, each also as a ratio to ``baseline``."""
    base = rows[baseline]
    width = max(len(title), *(len(name) for name in rows)) + 1
    print(
        f"{title:{width}} {'wall ms':>8} {'x':>5} {'cpu ms':>7} {'x':>5} {'peak MiB':>9} "
        f"{'x':>5}   ({runs} rounds; x = median ratio to {baseline})"
    )
    for name, samples in rows.items():
        figures = [
            f"{samples.median(metric):{width_}.1f} {samples.ratio(base, metric):5.2f}"
            for metric, width_ in (("time", 8), ("cpu", 7), ("memory", 9))
        ]
        print(f"{name:{width}} " + " ".join(figures))


def check(rows: Mapping[str, Samples], targets: Sequence[Target]) -> int:
    """Print each target's verdict; 1 when any is missed, else 0."""
    missed = 0
    for target in targets:
        ratio = rows[target.row].ratio(rows[target.baseline], target.metric)
        verdict = "ok" if ratio <= target.limit else "MISSED"
        missed += verdict != "ok"
        print(
            f"target: {target.row} {target.metric} <= {target.limit:g} x {target.baseline}: "
            f"{ratio:.2f} {verdict}"
        )
    return 1 if missed else 0


def machine_load() -> str:
    """The load averages and core count, to judge how noisy a run was."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def timed(action: Callable[[], object], runs: int) -> list[float]:
    """Wall-clock seconds of ``runs`` sequential calls of ``action``."""
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return timings


def print_timings(title: str, rows: Mapping[str, Sequence[float]], runs: int) -> None:
    """Median and best per row, and the median as a multiple of the first row (the baseline)."""
    width = max(len(title), *(len(name) for name in rows)) + 1
    baseline = statistics.median(next(iter(rows.values())))
    print(f"{title:{width}} {'median ms':>10} {'best ms':>9} {'x baseline':>11}  ({runs} runs)")
    for name, timings in rows.items():
        median = statistics.median(timings)
        print(
            f"{name:{width}} {median * 1000:10.1f} {min(timings) * 1000:9.1f} "
            f"{median / baseline:11.1f}"
        )


# What `smsp sandbox serve` prints on stdout before it serves (README, The sandbox provider).
SERVE_VARIABLES = (
    "SMSP_ENDPOINT",
    "SMSP_CERT",
    "SMSP_KEY",
    "SMSP_CA_BUNDLE",
    "SMSP_AUDIT_ID",
    "SMSP_KIND",
)


@contextmanager
def served_sandbox(
    smsp: str, env: Mapping[str, str], *, api: str = "smsp",
    variables: Sequence[str] = SERVE_VARIABLES,
) -> Iterator[dict[str, str]]:
    """Run `smsp sandbox serve` (for ``api``) for the block; yield the settings it printed."""
    server = subprocess.Popen([smsp, "sandbox", "serve", "--port", "0", "--api", api],
                              env=dict(env), stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout is not None
        settings: dict[str, str] = {}
        while set(variables) - settings.keys():
            line = server.stdout.readline()
            if not line:
                raise SystemExit("smsp sandbox serve stopped before printing its settings")
            name, _, value = line.strip().partition("=")
            settings[name] = value
        yield settings
    finally:
        server.terminate()
        server.wait(timeout=30)
