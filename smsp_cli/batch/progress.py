"""What the batch says on stderr: a progress bar on a terminal, a one-line summary always.

Neither ever shows patient data: only counts, rates and times.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from smsp_cli.domain.errors import ExitCode

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


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


class ProgressBar:
    """A rich progress bar on stderr: done, rate, eta and counts by outcome.

    The bar measures bytes of input read (a streamed input is never counted ahead), so the
    eta holds for any row length; without a known size (stdin) it only counts.
    """

    def __init__(self, tally: Tally, total_bytes: int | None) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        from smsp_cli.output.render import stderr_console

        self._tally = tally
        self._progress: Progress = Progress(
            BarColumn(),
            TextColumn("{task.fields[done]}, eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[counts]}"),
            console=stderr_console(),
            transient=True,  # the summary line replaces it
            redirect_stdout=False,  # rows go to stdout as bytes, never through the display
        )
        self._task: TaskID = self._progress.add_task(
            "batch", total=total_bytes, done="", counts=""
        )

    def __enter__(self) -> ProgressBar:
        self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._progress.stop()

    def update(self, offset: int) -> None:
        """One more row written; ``offset`` bytes of input are now read."""
        tally = self._tally
        elapsed = max(time.monotonic() - tally.started, 1e-9)
        self._progress.update(
            self._task,
            completed=offset,
            done=f"{tally.rows} rows, {tally.rows / elapsed:.0f}/s",
            counts=tally.counts(),
        )


