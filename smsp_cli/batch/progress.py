"""What the batch counts for stderr: rows by outcome, and the one-line summary always shown.

Neither ever shows patient data: only counts, rates and times. The bar drawn from these counts
on a terminal is :class:`smsp_cli.output.progress.ProgressBar`.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from smsp_cli.domain.errors import ExitCode


@dataclass
class Tally:
    """Rows by outcome: ok (exit 0), not found (1), invalid (2), failed (3-6)."""

    exit_codes: Counter[int] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)
    environments: set[str] = field(default_factory=set)  # of the rows a provider answered

    def add(self, exit_code: int, environment: str | None = None) -> None:
        """Count one written row (``environment``: its answer's, when it had one)."""
        self.exit_codes[exit_code] += 1
        if environment is not None:
            self.environments.add(environment)

    @property
    def rows(self) -> int:
        """Rows counted so far."""
        return sum(self.exit_codes.values())

    def counts(self) -> str:
        """``4870 ok, 98 not found, 30 invalid, 2 failed``."""
        codes = self.exit_codes
        failed = sum(n for code, n in codes.items() if code > ExitCode.USAGE)
        return (f"{codes[ExitCode.OK]} ok, {codes[ExitCode.NEGATIVE]} not found, "
                f"{codes[ExitCode.USAGE]} invalid, {failed} failed")

    def summary(self, *, now: float | None = None) -> str:
        """``5000 rows: 4870 ok, 98 not found, 30 invalid, 2 failed in 8.4 s, 595/s``."""
        elapsed = max((now if now is not None else time.monotonic()) - self.started, 1e-9)
        return (f"{self.rows} rows: {self.counts()} in {elapsed:.1f} s, "
                f"{self.rows / elapsed:.0f}/s")
