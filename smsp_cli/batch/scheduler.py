"""Run rows on N threads and hand their outcomes back in input order, within a bounded window.

The main thread reads jobs, gives them to the worker threads and writes outcomes; the workers
only send (httpx is synchronous, and the wait is the network's, so threads are enough). Rows
finish out of order; they are held until every earlier row is done. The scheduler never runs
more than ``window`` rows ahead of the oldest unwritten one, so what is held stays bounded by
the concurrency however long the input is.

The batch stops at once on a row whose failure every other row would share
(:func:`smsp_cli.batch.lookup.stops_batch`), and after :data:`UNREACHABLE_LIMIT` rows in a row
could not reach the provider, so a dead endpoint is not tried 100,000 times. Nothing more is
sent; the answers to rows before the stopping one that are already on their way are still
written, so the output stays the input's prefix up to that row, and ``--resume`` goes on
from exactly there.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from smsp_cli.batch.lookup import Job, RowOutcome, cut_short
from smsp_cli.domain.errors import SmspError, Unreachable

UNREACHABLE_LIMIT = 10
WINDOW_PER_WORKER = 2  # rows held per thread: room to keep every thread busy past a slow row
_POLL_SECONDS = 0.25  # how often a blocked main thread looks up (keeps Ctrl-C prompt)


@dataclass(frozen=True)
class Stopped:
    """Why the batch stopped early, and at which row."""

    error: SmspError
    row: int


class Scheduler:
    """Hands jobs to ``threads`` (default ``concurrency``) threads running ``lookup``; ``emit``
    gets rows in order.

    ``lookup`` may run more threads than it has connections (it keeps at most ``concurrency``
    on the wire): a thread waiting for a connection has its row's `sent` record on the disk
    already. ``on_judged`` runs in the worker once its row has been judged (the connection may
    go to the next row); ``on_stop`` runs as soon as a row stops the batch.
    """

    def __init__(
        self,
        lookup: Callable[[Job], RowOutcome],
        emit: Callable[[RowOutcome], None],
        *,
        concurrency: int,
        window: int | None = None,
        on_stop: Callable[[], None] | None = None,
        threads: int | None = None,
        on_judged: Callable[[], None] | None = None,
    ) -> None:
        self._lookup = lookup
        self._emit = emit
        self._threads = threads or concurrency
        self.window = window or self._threads * WINDOW_PER_WORKER
        self._on_stop = on_stop
        self._on_judged = on_judged
        self._todo: queue.Queue[Job | None] = queue.Queue()
        self._done: queue.Queue[RowOutcome] = queue.Queue()
        self._halt = threading.Event()
        self._held: dict[int, RowOutcome] = {}
        self._next: int | None = None  # the row to write next
        self._sent: set[int] = set()  # rows with a worker, not yet back (at most the window)
        self._unreachable_run = 0
        # The workers count the same run as the main thread, in the same order (each outcome
        # is counted and queued under this lock), so a row that makes the batch stop halts
        # every worker before it can take another row: with one worker, row 11 is never sent.
        self._finish_lock = threading.Lock()
        self._workers_unreachable_run = 0
        self.most_held = 0  # the largest number of rows held at once (for tests)
        self.stopped: Stopped | None = None

    def run(self, jobs: Iterable[Job]) -> Stopped | None:
        """Run every job (numbered consecutively) unless the batch stops; say why it stopped."""
        workers = [
            threading.Thread(target=self._work, name=f"smsp-batch-{n}", daemon=True)
            for n in range(self._threads)
        ]
        for worker in workers:
            worker.start()
        try:
            self._feed(jobs)
            while self._sent and self.stopped is None:
                self._collect(block=True)
            while self.stopped is not None and any(n < self.stopped.row for n in self._sent):
                self._collect(block=True)  # earlier rows already sent: their answers count
        finally:
            # Ctrl-C, a stop or the end: no worker takes another row, and none waits on.
            self._halt.set()
            if self.stopped is not None or self._sent:
                self._stop_waiting()
            for _ in workers:
                self._todo.put(None)
        return self.stopped

    def _feed(self, jobs: Iterable[Job]) -> None:
        for job in jobs:
            if self._next is None:
                self._next = job.number
            while job.number >= self._next + self.window and self.stopped is None:
                self._collect(block=True)
            if self.stopped is not None:
                return
            if job.ready is not None:
                self._arrive(job.ready)
            else:
                self._sent.add(job.number)
                self._todo.put(job)
            self._collect(block=False)
            if self.stopped is not None:
                return

    def _work(self) -> None:
        while True:
            job = self._todo.get()
            if job is None:
                return
            if self._halt.is_set():
                self._done.put(cut_short(job))  # every job taken is answered for
                continue
            try:
                outcome = self._lookup(job)
            except Exception as exc:  # a bug in smsp: stop the batch rather than lose the row
                outcome = _internal_error(job, exc)
            with self._finish_lock:
                if self._will_stop(outcome):
                    self._halt.set()
                    if self._on_stop is not None:
                        self._on_stop()  # before the next row can take this one's connection
                self._done.put(outcome)
            if self._on_judged is not None:
                self._on_judged()

    def _will_stop(self, outcome: RowOutcome) -> bool:
        """Whether ``outcome`` stops the batch, judged as :meth:`_arrive` will judge it."""
        if not outcome.completed or outcome.error is None:
            if outcome.completed and outcome.sent:
                self._workers_unreachable_run = 0
            return False
        if outcome.stops_batch:
            return True
        if outcome.unreachable:
            self._workers_unreachable_run += 1
            return self._workers_unreachable_run >= UNREACHABLE_LIMIT
        if outcome.sent:
            self._workers_unreachable_run = 0
        return False

    def _collect(self, *, block: bool) -> None:
        try:
            outcome = self._done.get(timeout=_POLL_SECONDS) if block else self._done.get_nowait()
        except queue.Empty:
            return
        self._sent.discard(outcome.number)
        self._arrive(outcome)

    def _arrive(self, outcome: RowOutcome) -> None:
        if not outcome.completed:
            return  # cut short by the stop: never written, so --resume sends it again
        if self.stopped is not None:
            if outcome.number >= self.stopped.row:
                return
            if outcome.stops_batch and outcome.error is not None:
                self.stopped = Stopped(outcome.error, outcome.number)  # the earliest stop wins
            else:
                self._hold(outcome)
            return
        if outcome.stops_batch and outcome.error is not None:
            self._stop(outcome.error, outcome.number)
            return
        if outcome.unreachable and outcome.error is not None:
            self._unreachable_run += 1
            if self._unreachable_run >= UNREACHABLE_LIMIT:
                error = Unreachable(
                    f"{UNREACHABLE_LIMIT} rows in a row could not reach the provider, so the "
                    f"batch stopped; the last: {outcome.error.one_line()}"
                )
                self._stop(error, outcome.number)
                return
        elif outcome.sent:
            self._unreachable_run = 0
        self._hold(outcome)

    def _hold(self, outcome: RowOutcome) -> None:
        self._held[outcome.number] = outcome
        self.most_held = max(self.most_held, len(self._held))
        assert self._next is not None
        while self._next in self._held:
            self._emit(self._held.pop(self._next))
            self._next += 1

    def _stop(self, error: SmspError, row: int) -> None:
        self.stopped = Stopped(error, row)
        self._stop_waiting()

    def _stop_waiting(self) -> None:
        self._halt.set()
        if self._on_stop is not None:
            self._on_stop()


def _internal_error(job: Job, exc: Exception) -> RowOutcome:
    from smsp_cli.batch.lookup import failed

    error = SmspError(f"internal error ({type(exc).__name__}) at row {job.number}",
                      hint="set SMSP_DEBUG=1 for details")
    error.__cause__ = exc
    outcome = failed(job.number, job.id, error)
    return RowOutcome(outcome.number, outcome.exit_code, outcome.line, error, stops_batch=True)
