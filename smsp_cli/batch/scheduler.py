"""Run rows on N threads and write their outcomes in input order, within a bounded window.

Each worker thread takes the next job from the input itself, sends it (httpx is synchronous,
and the wait is the network's, so threads are enough), and writes what it can: rows finish out
of order, and a row is held until every earlier row is written; the worker that finishes the
oldest unwritten row writes it and every held row after it. No row is handed from thread to
thread on its way (each hand-off is a wake-up, and with two cores they cost as much as the
row's own work). The main thread only waits, so Ctrl-C stays prompt. No worker takes a row
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

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from smsp_cli.batch.lookup import Job, RowOutcome
from smsp_cli.domain.errors import SmspError, Unreachable

UNREACHABLE_LIMIT = 10
WINDOW_PER_WORKER = 2  # rows held per thread: room to keep every thread busy past a slow row
_POLL_SECONDS = 0.25  # how often the waiting main thread looks up (keeps Ctrl-C prompt)


@dataclass(frozen=True)
class Stopped:
    """Why the batch stopped early, and at which row."""

    error: SmspError
    row: int


class Scheduler:
    """Runs jobs on ``threads`` (default ``concurrency``) threads calling ``lookup``; ``emit``
    gets rows in order, one call at a time (from whichever worker finished the row that let
    them go).

    ``lookup`` may run more threads than it has connections (it keeps at most ``concurrency``
    on the wire): a thread waiting for a connection has its row's `sent` record on the disk
    already. ``on_judged`` runs in the worker once its row has been judged (the connection may
    go to the next row); ``on_stop`` runs as soon as a row stops the batch; ``on_take`` runs
    for each job to send as it is taken, in input order.
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
        on_take: Callable[[Job], None] | None = None,
    ) -> None:
        self._lookup = lookup
        self._on_take = on_take
        self._emit = emit
        self._threads = threads or concurrency
        self.window = window or self._threads * WINDOW_PER_WORKER
        self._on_stop = on_stop
        self._on_judged = on_judged
        # One lock for the input, the held rows, the counts and the output: a row is judged
        # and written under it, so a row that makes the batch stop halts every worker before
        # one can take another row (with one worker, row 11 is never sent after row 10 stops).
        self._lock = threading.Lock()
        # Waits under that lock, each woken only when it may go on (every needless wake-up
        # costs two thread switches): the main thread, for the end; a worker, for room.
        self._settled = threading.Condition(self._lock)
        self._room = threading.Condition(self._lock)
        self._waiting_for_room = 0
        self._jobs: Iterator[Job] = iter(())
        self._halted = False  # no worker takes another row
        self._exhausted = False  # the input is read to its end
        self._over = False  # run() has returned: nothing more is written
        self._failure: BaseException | None = None  # what writing or reading raised
        self._held: dict[int, RowOutcome] = {}
        self._next: int | None = None  # the row to write next
        self._sent: set[int] = set()  # rows being looked up now (at most the window)
        self._working = 0  # workers not yet finished
        self._unreachable_run = 0
        self.most_held = 0  # the largest number of rows held at once (for tests)
        self.stopped: Stopped | None = None

    def run(self, jobs: Iterable[Job]) -> Stopped | None:
        """Run every job (numbered consecutively) unless the batch stops; say why it stopped."""
        self._jobs = iter(jobs)
        workers = [
            threading.Thread(target=self._work, name=f"smsp-batch-{n}", daemon=True)
            for n in range(self._threads)
        ]
        self._working = len(workers)
        for worker in workers:
            worker.start()
        try:
            with self._settled:
                while not self._finished():
                    self._settled.wait(_POLL_SECONDS)
                failure = self._failure
        finally:
            # Ctrl-C, a stop or the end: no worker takes another row, none waits on, and
            # what a worker still finishes is never written.
            with self._lock:
                self._over = True
                halted_early = self.stopped is not None or bool(self._sent)
                self._halt()
            if halted_early and self._on_stop is not None:
                self._on_stop()
        if failure is not None:
            raise failure
        return self.stopped

    def _finished(self) -> bool:
        """Under the lock: every row is written, or the batch stopped and every row before the
        stop that is already on its way has been answered."""
        if self._failure is not None or self._working == 0:
            return True
        if self.stopped is None:
            return False
        return not any(n < self.stopped.row for n in self._sent)

    def _work(self) -> None:
        try:
            while True:
                job = self._take()
                if job is None:
                    return
                try:
                    outcome = self._lookup(job)
                except Exception as exc:  # a bug in smsp: stop the batch rather than lose the row
                    outcome = _internal_error(job, exc)
                with self._lock:
                    self._sent.discard(job.number)
                    if not self._over:
                        self._arrive_guarded(outcome)
                    self._wake()
                if self._on_judged is not None:
                    self._on_judged()
        finally:
            with self._lock:
                self._working -= 1
                self._wake()

    def _take(self) -> Job | None:
        """The next job to send, deciding (and writing) rows that need no sending; None when
        there is nothing more for this worker."""
        with self._lock:
            while not self._halted and not self._exhausted:
                job = self._next_job()
                if job is None:
                    # The input is read to its end (a failure to read it halts the batch):
                    # the rows other workers have taken still go on.
                    self._exhausted = True
                    return None
                if self._next is None:
                    self._next = job.number
                while job.number >= self._next + self.window and not self._halted:
                    self._waiting_for_room += 1  # the oldest unwritten row holds us up
                    self._room.wait(_POLL_SECONDS)
                    self._waiting_for_room -= 1
                if self._halted:
                    return None
                if job.ready is not None:
                    self._arrive_guarded(job.ready)
                    self._wake()
                    continue
                self._sent.add(job.number)
                if self._on_take is not None:
                    self._on_take(job)
                return job
            return None

    def _next_job(self) -> Job | None:
        """Under the lock: the input's next job (None at its end, or when reading it failed)."""
        try:
            return next(self._jobs, None)
        except BaseException as exc:
            self._failed(exc)
            return None

    def _arrive_guarded(self, outcome: RowOutcome) -> None:
        """Under the lock: :meth:`_arrive`, where writing the output may fail."""
        try:
            self._arrive(outcome)
        except BaseException as exc:
            self._failed(exc)

    def _failed(self, exc: BaseException) -> None:
        # The output or the input failing stops the batch; run() raises it in the main thread.
        if self._failure is None:
            self._failure = exc
        self._halt()

    def _halt(self) -> None:
        self._halted = True
        self._room.notify_all()

    def _wake(self) -> None:
        """Under the lock, after a change: wake whoever it lets go on."""
        if self._waiting_for_room:
            self._room.notify_all()
        if self._finished():
            self._settled.notify()

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
        self._halt()
        if self._on_stop is not None:
            self._on_stop()  # before the next row can take this one's connection


def _internal_error(job: Job, exc: Exception) -> RowOutcome:
    from smsp_cli.batch.lookup import failed

    error = SmspError(f"internal error ({type(exc).__name__}) at row {job.number}",
                      hint="set SMSP_DEBUG=1 for details")
    error.__cause__ = exc
    outcome = failed(job.number, job.id, error)
    return RowOutcome(outcome.number, outcome.exit_code, outcome.line, error, stops_batch=True)
