"""``smsp batch``: read rows, look each one up, write one JSON line per row in input order.

Everything that can refuse the batch does so before anything is sent: the columns, the
``--out`` file and its ``.meta``, the settings, the client certificate and key. Then rows are
streamed through the scheduler; the summary line always ends the run.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smsp_cli.batch import InputFormat, columns, reader
from smsp_cli.batch.lookup import Job, RowOutcome, prepare
from smsp_cli.batch.progress import Tally
from smsp_cli.batch.sink import (
    Earlier,
    FileSink,
    InputIdentity,
    StdoutSink,
    encode_row,
    open_file,
    record_stop,
)
from smsp_cli.domain.errors import ConfigError, ExitCode, SmspError, UsageError
from smsp_cli.output.progress import ProgressBar
from smsp_cli.system import cpus
from smsp_cli.system.streams import is_terminal, note, silence_stdout
from smsp_cli.untrusted.sanitize import provider_text

if TYPE_CHECKING:
    from smsp_cli.audit.calls import Ending
    from smsp_cli.batch.columns import ColumnPlan
    from smsp_cli.batch.reader import BatchInput
    from smsp_cli.batch.scheduler import Stopped
    from smsp_cli.domain.operations import Operation
    from smsp_cli.service import Flags
    from smsp_cli.settings.connection import ConnectionSettings

# Names from the user's file in warnings: at most this many, each cut to this length.
_MAX_NAMES_SHOWN = 20
_MAX_NAME_CHARACTERS = 80
# Threads that send rows: two a connection, so that while a row is on the wire the next one
# builds its envelope and waits for the fsync of its `sent` record (group commit); and a few
# more for the batch, because a record written while an fsync runs waits for the next one too
# (two fsyncs, 8 to 16 ms on a disk), longer than a request takes at low concurrency.
SENDERS_PER_CONNECTION = 2
SPARE_SENDERS = 4


def sender_threads(concurrency: int) -> int:
    """How many threads send a batch's rows on ``concurrency`` connections."""
    return concurrency * SENDERS_PER_CONNECTION + SPARE_SENDERS


_EXIT_PIPE_CLOSED = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader left


@dataclass(frozen=True)
class BatchRequest:
    """What ``smsp batch`` was asked to do."""

    operation: Operation
    input_name: str  # a path, or "-" for stdin
    input_format: InputFormat | None  # None: by extension, else by the first line
    column_options: tuple[str, ...] = ()  # --column FIELD=HEADER
    out: Path | None = None
    resume: bool = False
    skip_row: int | None = None  # --skip-row N: the row that stopped the batch, recorded failed


def run_batch(request: BatchRequest, flags: Flags) -> int:
    """Run the batch with the settings given as ``flags``; its exit code, or the SmspError that
    stops or prevents it."""
    from smsp_cli.service import run_settings

    mapping = columns.parse_mapping(request.column_options)
    if request.resume and request.out is None:
        raise UsageError("--resume needs --out FILE: the rows already written are read there")
    if request.skip_row is not None and not request.resume:
        raise UsageError("--skip-row needs --resume: it passes the row that stopped the batch "
                         "in --out FILE")
    if request.resume and request.input_name == reader.STDIN:
        raise UsageError("--resume needs INPUT to be a file: input from stdin cannot be "
                         "checked against the rows already written")
    batch_input = reader.open_input(request.input_name, request.input_format, sys.stdin.buffer)
    with contextlib.closing(batch_input):
        plan = _plan(request.operation, batch_input, mapping)
        sink, earlier = _open_sink(request, batch_input)
        with contextlib.closing(sink):
            skipped = _skipped_row(request, sink, earlier)  # before anything is sent
            with run_settings(flags) as settings, cpus.on_one_cpu():
                return _run(request, settings, batch_input, plan, sink, earlier, skipped)


def _plan(operation: Operation, batch_input: BatchInput,
          mapping: dict[str, str]) -> ColumnPlan:
    if batch_input.is_empty:
        note(f"warning: {_shown(batch_input)} is empty: no header row and no rows")
        return columns.ColumnPlan({}, ())
    plan = columns.plan(operation, batch_input.columns, mapping,
                        open_keys=batch_input.format is not InputFormat.csv)
    ignored = [column for column in plan.ignored if column]
    if ignored:
        note(f"warning: ignoring {_names(ignored)}: not used by {operation.command}")
    return plan


def _open_sink(request: BatchRequest,
               batch_input: BatchInput) -> tuple[StdoutSink | FileSink, Earlier]:
    if request.out is None:
        return StdoutSink(), Earlier()
    identity = None
    if not batch_input.is_stdin and batch_input.size is not None:
        identity = InputIdentity.of(Path(batch_input.name))
    return open_file(request.out, operation=request.operation.command, identity=identity,
                     resume=request.resume)


def _skipped_row(request: BatchRequest, sink: StdoutSink | FileSink,
                 earlier: Earlier) -> tuple[int, Mapping[str, Any]] | None:
    """``--skip-row N``: row N and the failure to record for it, once N is known to be the row
    that stopped the batch in FILE (and the next one to write); else exit 2, saying why."""
    row = request.skip_row
    if row is None:
        return None
    stopped, line = earlier.stopped_row, earlier.stopped_line
    if not isinstance(sink, FileSink) or stopped is None or line is None:
        raise UsageError(f"--skip-row {row}: no row stopped the batch in {sink.name}",
                         hint="--skip-row passes only the row that stopped it; "
                              "rerun with --resume alone")
    if row != stopped or earlier.rows != stopped - 1:
        where = (f"row {stopped} did" if earlier.rows == stopped - 1
                 else f"its {earlier.rows} rows go past row {stopped}")
        raise UsageError(f"--skip-row {row}: row {row} did not stop the batch in {sink.name} "
                         f"({where})",
                         hint=(f"pass --skip-row {stopped}" if earlier.rows == stopped - 1
                               else "rerun with --resume alone"))
    return row, line


def _run(request: BatchRequest, settings: ConnectionSettings, batch_input: BatchInput,
         plan: ColumnPlan, sink: StdoutSink | FileSink, earlier: Earlier,
         skipped: tuple[int, Mapping[str, Any]] | None = None) -> int:
    from smsp_cli.batch.lookup import RowLookup
    from smsp_cli.batch.ratelimit import RateLimiter
    from smsp_cli.batch.scheduler import Scheduler
    from smsp_cli.output import banner

    banner.announce(settings)  # spec §7.3: the Computer Misuse Act banner, live only
    limiter = RateLimiter(settings.rate_limit) if settings.rate_limit else None
    lookup = RowLookup(settings, connections=settings.concurrency, limiter=limiter)
    tally = Tally()
    rows = _Rows(request.operation, batch_input, plan, skip=earlier.rows, skipped=skipped,
                 api=settings.api)
    # A bar on stderr, but not over rows printed to the same terminal.
    drawn = is_terminal(sys.stderr) and (
        isinstance(sink, FileSink) or not is_terminal(sys.stdout)
    )
    bar = ProgressBar(tally, batch_input.size, earlier=earlier.rows) if drawn else None
    if bar is not None and not batch_input.is_stdin:
        _count_rows_for(bar, batch_input)

    from smsp_cli.audit.calls import INTERRUPTED, OUTPUT_CLOSED, Ending

    def emit(outcome: RowOutcome) -> None:
        try:
            _write(sink, encode_row(outcome.line))
        except _OutputClosed:
            # Said before the scheduler halts the rows in flight, so that each of them is
            # recorded with this reason, not as merely not sent.
            lookup.ending(OUTPUT_CLOSED)
            raise
        tally.add(outcome.exit_code, outcome.environment, line=outcome.line,
                  attempts=outcome.attempts)
        if bar is not None:
            bar.update(rows.offset)

    # More threads than connections, so that the connections never wait for the disk.
    scheduler = Scheduler(lookup, emit, concurrency=settings.concurrency,
                          threads=sender_threads(settings.concurrency),
                          on_stop=lookup.stop, on_judged=lookup.release, on_take=lookup.take)

    stopped: Stopped | None = None
    # Why calls still in flight are given up, for their `failed` records (None: none should be).
    ending: Ending | None = None
    try:
        with bar if bar is not None else contextlib.nullcontext():
            stopped = scheduler.run(rows)
        if stopped is not None:
            ending = _stopped_ending(stopped)
    except KeyboardInterrupt:
        ending = INTERRUPTED
        _finish(settings, tally, earlier, sink, tail=_slowed("interrupted", lookup.slowdowns),
                hint=_resume_hint(sink, batch_input))
        raise
    except _OutputClosed:
        # The reader of stdout went away (`| head`): stop quietly, as a shell pipeline expects.
        ending = OUTPUT_CLOSED
        _finish(settings, tally, earlier, sink, tail="stdout was closed")
        return _EXIT_PIPE_CLOSED
    except SmspError as error:
        ending = Ending(int(error.exit_code), "batch_stopped",
                        f"the batch stopped: {type(error).__name__}")
        _finish(settings, tally, earlier, sink, tail=_slowed("stopped", lookup.slowdowns))
        raise
    finally:
        lookup.close(ending)
    if stopped is not None:
        from smsp_cli.output.jsonshape import error_json

        where = f"stopped at row {stopped.row}"
        hint = _resume_hint(sink, batch_input)
        if isinstance(sink, FileSink) and hint is not None:
            # What --skip-row writes for the row: the failure as a row's output object.
            record_stop(sink, stopped.row, error_json(stopped.error, settings.api))
            hint += (f" once the cause is fixed, or with --resume --skip-row {stopped.row} to "
                     f"record row {stopped.row} as failed and go on from row {stopped.row + 1}")
        _finish(settings, tally, earlier, sink, tail=_slowed(where, lookup.slowdowns),
                hint=hint)
        _debug(stopped)
        # The one error line names the row and the cause.
        stopped.error.message = f"row {stopped.row} stopped the batch: {stopped.error.message}"
        raise stopped.error
    if isinstance(sink, FileSink) and earlier.stopped_row is not None:
        record_stop(sink, earlier.stopped_row, None)  # the batch went past that row
    if not batch_input.is_empty and tally.rows == 0 and not earlier.rows:
        note(f"warning: {_shown(batch_input)} has a header row but no data rows")
    _finish(settings, tally, earlier, sink, tail=_slowed(None, lookup.slowdowns))
    every = tally.exit_codes + earlier.exit_codes
    return ExitCode.OK if set(every) <= {ExitCode.OK} else ExitCode.NEGATIVE


def _recorded_failed(job: Job, failure: Mapping[str, Any]) -> Job:
    """Row N of --skip-row: written, unsent, with the failure that stopped the batch there."""
    line = {"row": job.number, "id": job.id, **failure}
    code = int(failure["exit_code"])
    outcome = RowOutcome(job.number, code, line, sent=False)
    return Job(job.number, job.id, ready=outcome)


def _shown(batch_input: BatchInput) -> str:
    from smsp_cli.untrusted.sanitize import visible

    return "the input (stdin)" if batch_input.is_stdin else visible(batch_input.name)


class _Rows:
    """The jobs of the rows not yet written, read one at a time, and how far the input is read."""

    def __init__(self, operation: Operation, batch_input: BatchInput, plan: ColumnPlan,
                 *, skip: int, skipped: tuple[int, Mapping[str, Any]] | None = None,
                 api: str) -> None:
        self._operation = operation
        self._api = api
        self._input = batch_input
        self._plan = plan
        self._skip = skip
        self._skipped = skipped  # (N, failure): --skip-row writes row N with it, unsent
        self.offset = 0
        self._named = set(plan.sources.values()) | set(plan.ignored)
        self._warned = len([column for column in plan.ignored if column])  # names said so far

    def __iter__(self) -> Iterator[Job]:
        for row in self._input.rows():
            self.offset = row.offset
            if row.number <= self._skip:
                continue  # written by an earlier run (--resume)
            self._name_new_keys(row.record)
            job = prepare(row, self._operation, self._plan, api=self._api)
            if self._skipped is not None and row.number == self._skipped[0]:
                job = _recorded_failed(job, self._skipped[1])
            yield job

    def _name_new_keys(self, record: object) -> None:
        # JSON lines have no header: a key first seen on a later line is named once, up to
        # 20 names in all; then one line says that further keys go unnamed.
        if not isinstance(record, dict) or self._warned > _MAX_NAMES_SHOWN:
            return
        new = [key for key in record if key not in self._named]
        if not new:
            return
        if self._warned == _MAX_NAMES_SHOWN:
            self._warned += 1
            note(f"warning: ignoring further keys not used by {self._operation.command}, "
                 "without naming them")
            return
        new = new[: _MAX_NAMES_SHOWN - self._warned]
        self._warned += len(new)
        self._named.update(new)
        note(f"warning: ignoring {_names(new)}: not used by {self._operation.command}")


def _resume_hint(sink: StdoutSink | FileSink, batch_input: BatchInput) -> str | None:
    """How to go on after a stop or Ctrl-C: only rows written to a file can be resumed."""
    if isinstance(sink, FileSink) and not batch_input.is_stdin:
        return f"rerun with --resume to go on from there in {sink.name}"
    return None


def _count_rows_for(bar: ProgressBar, batch_input: BatchInput) -> None:
    """Count the input file's rows in the background, so the bar can show done/total.

    A second, independent read of the file, by the same reader (the same rows count); the
    batch never waits for it, and an input that cannot be counted keeps the bar without a total.
    """
    import threading

    def count() -> None:
        try:
            with contextlib.closing(reader.open_input(batch_input.name, batch_input.format,
                                                      sys.stdin.buffer)) as again:
                total = 0
                for row in again.rows():
                    total = row.number
        except (SmspError, OSError, ValueError):
            return
        bar.total_rows = total

    threading.Thread(target=count, name="smsp-batch-count", daemon=True).start()


def _finish(settings: ConnectionSettings, tally: Tally, earlier: Earlier,
            sink: StdoutSink | FileSink, *, tail: str | None = None,
            hint: str | None = None) -> None:
    from smsp_cli.output import banner
    from smsp_cli.output.render import SYNTHETIC_NOTE

    # Test and sandbox rows never pass for live data: one line says where they came from, as
    # the answers showed it (only the embedded sandbox's certificate makes data synthetic).
    if "sandbox" in tally.environments:
        note(SYNTHETIC_NOTE)
    if "test" in tally.environments or (not tally.environments and settings.kind == "test"):
        note(banner.test_label(settings.profile))
    line = tally.summary()
    if earlier.rows:
        line += f"; {earlier.rows} earlier rows were already in {sink.name}"
    if earlier.cut_bytes:
        line += f" (a torn last line of {earlier.cut_bytes} bytes was cut off)"
    if tail:
        line += f"; {tail}"
    if hint:
        line += f"; {hint}"  # last, where the eye lands: what to do next
    note(line)


def _slowed(tail: str | None, slowdowns: int) -> str | None:
    """The summary's tail, saying how often a 429 halved the rate (rows waited, none failed)."""
    if not slowdowns:
        return tail
    times = "once" if slowdowns == 1 else f"{slowdowns} times"
    said = f"the provider answered 429 (too many requests) {times}: the rate was halved for 30 s"
    return f"{tail}; {said}" if tail else said


def _stopped_ending(stopped: Stopped) -> Ending:
    from smsp_cli.audit.calls import Ending

    return Ending(int(stopped.error.exit_code), "batch_stopped",
                  f"the batch stopped at row {stopped.row} on a failure every row would share")


class _OutputClosed(Exception):
    """Standard output's reader has gone."""


def _write(sink: StdoutSink | FileSink, data: bytes) -> None:
    try:
        sink.write(data)
    except BrokenPipeError:
        silence_stdout()  # later flushes of stdout would fail too
        raise _OutputClosed from None
    except OSError as exc:
        raise ConfigError(f"cannot write rows to {sink.name}: {exc.strerror}") from None


def _debug(stopped: Stopped) -> None:
    cause = stopped.error.__cause__
    if cause is not None and os.environ.get("SMSP_DEBUG"):
        traceback.print_exception(cause)


def _names(columns: list[str]) -> str:
    # Column names come from the user's file: shown masked and made visible, never raw, and
    # bounded (a name cut to 80 characters, at most 20 names, then a count), so that a file
    # of huge keys cannot flood the terminal.
    shown = [repr(provider_text(_cut_name(column))) for column in columns[:_MAX_NAMES_SHOWN]]
    left = len(columns) - len(shown)
    listed = ", ".join(shown) + (f" and {left:,} more" if left else "")
    return ("column " if len(columns) == 1 else "columns ") + listed


def _cut_name(name: str) -> str:
    if len(name) <= _MAX_NAME_CHARACTERS:
        return name
    return f"{name[:_MAX_NAME_CHARACTERS]}… ({len(name) - _MAX_NAME_CHARACTERS:,} more characters)"


