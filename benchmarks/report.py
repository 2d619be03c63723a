"""Timing and the figures table shared by the benchmark scripts."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence


def timed(action: Callable[[], object], runs: int) -> list[float]:
    """Wall-clock seconds of ``runs`` sequential calls of ``action``."""
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return timings


def print_table(title: str, rows: Mapping[str, Sequence[float]], runs: int) -> None:
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
