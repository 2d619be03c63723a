"""The batch's progress bar on a terminal's stderr: done, rate, eta and counts by outcome.

It draws only counts, rates and times, never patient data, from what :class:`Counted` names
(``batch.progress.Tally``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


class Counted(Protocol):
    """The rows a batch has written so far, and since when."""

    @property
    def rows(self) -> int: ...
    @property
    def started(self) -> float: ...
    def counts(self) -> str: ...


class ProgressBar:
    """A rich progress bar on stderr: done, rate, eta and counts by outcome.

    The bar measures bytes of input read (a streamed input is never counted ahead), so the
    eta holds for any row length; without a known size (stdin) it only counts.
    """

    def __init__(self, tally: Counted, total_bytes: int | None, *, earlier: int = 0) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        from smsp_cli.output.render import stderr_console

        self._tally = tally
        self._earlier = earlier  # rows a previous run wrote (--resume): done already
        # The input's row count, once a count of it (a file only) has finished: done/total.
        self.total_rows: int | None = None
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
            done=progress_done(self._earlier + tally.rows, self.total_rows,
                               tally.rows / elapsed),
            counts=tally.counts(),
        )




def progress_done(done: int, total: int | None, rate: float) -> str:
    """The progress line's count: ``120/5000 rows, 95/s`` when the total is known."""
    count = f"{done}/{total}" if total is not None else f"{done}"
    return f"{count} rows, {rate:.0f}/s"
