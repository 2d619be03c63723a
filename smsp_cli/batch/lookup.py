"""The one seam between batch and the wire: a parsed row in, the row's output object out.

:func:`prepare` validates a row without sending anything; :class:`RowLookup` sends a valid one
through :func:`smsp_cli.service.call` with what the whole batch shares: one TLS context (the
client key is read, and its passphrase found, once) and one pool of kept-alive connections.

The output objects are a public contract: ``{"row", "id", "exit_code", "result"}``
where ``result`` is exactly the JSON a single lookup prints, or ``{"row", "id", "api", "exit_code",
"error"}`` with the error object a failing single lookup prints with ``-o json``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from smsp_cli.batch.columns import ID_COLUMN, ColumnPlan
from smsp_cli.batch.reader import InputRow, undecodable
from smsp_cli.domain.errors import (
    CertificateRefused,
    ConfigError,
    ExitCode,
    ProviderRejected,
    SmspError,
    Unreachable,
    UntrustedServer,
    UsageError,
    ValidationError,
)
from smsp_cli.domain.operations import Operation
from smsp_cli.system import heap
from smsp_cli.transport.budget import ReplyBudget
from smsp_cli.untrusted.bounds import MAX_BODY_BYTES

if TYPE_CHECKING:
    import httpx

    from smsp_cli.audit.calls import Ending
    from smsp_cli.batch.ratelimit import RateLimiter
    from smsp_cli.domain.models import Query
    from smsp_cli.domain.results import Outcome
    from smsp_cli.settings.connection import ConnectionSettings
    from smsp_cli.transport.retry import AttemptEvent

# Answers that would be the same for every row: the batch stops at the first.
ACCESS_DENIED_FAULT = "3000"  # ToolkitSOAPErrorCodes, spec §5.7
CREDENTIALS_REJECTED = "SMSP-0005"  # audit identity or credentials rejected, spec §6.1
ACCESS_REFUSED_STATUSES = frozenset({401, 403})
# Bytes of large replies (each over 256 KiB) read or parsed at once, whatever the
# concurrency: three replies at the 10 MiB cap (each costs a few times its size to parse).
REPLY_BUDGET_BYTES = 3 * MAX_BODY_BYTES
# How long a stopping batch lets its workers record the calls its closing cut off.
_SETTLE_SECONDS = 2.0

_FIELD_NAMES = {
    "nhs_number": "NHS number",
    "dob": "date of birth",
    "family": "family name",
    "given": "given name",
    "gender": "gender",
    "postcode": "postcode",
    "local_id": "local id",
}


@dataclass(frozen=True)
class RowOutcome:
    """What became of one row: its output object, and what it means for the batch."""

    number: int
    exit_code: int
    line: Mapping[str, Any]  # the output object, written as one JSON line
    error: SmspError | None = None  # the row's failure, when it failed
    stops_batch: bool = False  # a failure every other row would share: stop at once
    sent: bool = True  # False for a row refused before sending (invalid input)
    completed: bool = True  # False when the batch stopped before the row could finish
    environment: str | None = None  # the answer's (live, test or sandbox); None: no answer
    attempts: int = 1  # requests sent for the row: more than one when it was retried

    @property
    def unreachable(self) -> bool:
        """True when the provider could not be reached for this row (exit 5)."""
        return isinstance(self.error, Unreachable)


@dataclass(frozen=True)
class Job:
    """A row ready to send (``query``), or already decided without sending (``ready``)."""

    number: int
    id: object
    query: Query | None = None
    ready: RowOutcome | None = None


_STAND_IN_DOB = "2000-01-01"


def prepare(row: InputRow, operation: Operation, plan: ColumnPlan, *, api: str) -> Job:
    """Validate one row for ``operation``; an invalid row is decided here, with exit code 2
    (its error names ``api``, the API the batch calls, as a single lookup's does)."""
    from smsp_cli.domain.models import build_query

    record = plan.fields(row.record)
    row_id = _echoed_id(record.pop(ID_COLUMN, None))
    try:
        if row.problem is not None:
            raise UsageError(row.problem)
        fields = {field: _text(field, value) for field, value in record.items()}
        dob = fields.get("dob")
        def query_for(date: str) -> Query:
            return build_query(
                operation, dob=date, nhs_number=fields.get("nhs_number"),
                family=fields.get("family"), given=fields.get("given"),
                gender=fields.get("gender"), postcode=fields.get("postcode"),
                local_id=fields.get("local_id"),
            )

        if dob is None:
            # Name every field at fault, not only the missing date: check the rest with a
            # stand-in date that breaks no rule.
            problems = [ValidationError("date of birth", f"is required for {operation.command}")]
            try:
                query_for(_STAND_IN_DOB)
            except ValidationError as rest:
                problems.append(rest)
            raise ValidationError.combined(problems)
        query = query_for(dob)
    except UsageError as error:
        return Job(row.number, row_id, ready=failed(row.number, row_id, error, sent=False,
                                                    operation=operation, api=api))
    return Job(row.number, row_id, query=query)


def _echoed_id(value: object) -> object:
    # A scalar is echoed exactly; anything else (or text that was not UTF-8) is not echoed.
    if isinstance(value, str):
        return None if undecodable(value) else value
    return value if isinstance(value, int | float | bool) else None


def _text(field: str, value: object) -> str:
    if isinstance(value, str):
        if undecodable(value):
            raise ValidationError(_FIELD_NAMES[field], "is not UTF-8 text")
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # a JSON number, as an NHS number or YYYYMMDD date may be written
    raise ValidationError(_FIELD_NAMES[field], "must be text")


def answered(number: int, row_id: object, outcome: Outcome) -> RowOutcome:
    """The output of a row the provider answered (business answers included)."""
    from smsp_cli.output.jsonshape import outcome_error, outcome_json

    code = outcome.exit_code
    head = {"row": number, "id": row_id, "exit_code": code}
    error = outcome_error(outcome)
    attempts = max(len(outcome.message_ids), 1)
    if error is None:
        return RowOutcome(number, code, {**head, "result": outcome_json(outcome)},
                          environment=outcome.environment, attempts=attempts)
    # The same error object a single lookup prints with -o json, the call named, and the
    # result kept beside it, as a single lookup's JSON keeps it.
    line = {"row": number, "id": row_id, "api": outcome.api, "exit_code": code, "error": error,
            "message_id": outcome.message_id,
            "message_ids": list(outcome.message_ids or (outcome.message_id,)),
            "result": outcome_json(outcome)}
    if outcome.reply.response_code == CREDENTIALS_REJECTED:
        rejected = ProviderRejected(error["message"])
        return RowOutcome(number, code, line, rejected, stops_batch=True,
                          environment=outcome.environment, attempts=attempts)
    return RowOutcome(number, code, line, environment=outcome.environment, attempts=attempts)


def failed(number: int, row_id: object, error: SmspError, *, sent: bool = True,
           operation: Operation | None = None, api: str | None = None) -> RowOutcome:
    """The output of a row that ended in an error, and whether the batch must stop for it.

    ``api`` is the API the batch calls (its JSON's ``api``). A verify row's error, like a
    single verify's, says ``verified: null``: no answer.
    """
    from smsp_cli.domain.operations import VERIFY
    from smsp_cli.output.jsonshape import error_json

    shape = error_json(error, api)
    if operation is VERIFY:
        shape = {"api": shape["api"], "verified": None, **shape}
    line = {"row": number, "id": row_id, **shape}
    # A row is held until the rows before it are written: its error must not keep the frames
    # it was raised through alive, and with them the reply they read (up to the 10 MiB cap).
    error.__traceback__ = None
    if error.__suppress_context__ or error.__cause__ is None:
        error.__context__ = None
    return RowOutcome(number, shape["exit_code"], line, error, stops_batch(error), sent=sent,
                      attempts=max(len(error.message_ids), 1))


def stops_batch(error: SmspError) -> bool:
    """True for a failure every row would share, so the batch stops at once."""
    if isinstance(error, ConfigError | UntrustedServer | CertificateRefused):
        return True
    if error.http_status in ACCESS_REFUSED_STATUSES:
        return True
    return error.fault is not None and error.fault.error_code == ACCESS_DENIED_FAULT


class RowLookup:
    """Sends rows to the provider on one TLS context and one kept-alive connection pool.

    Built before anything is sent: an unreadable certificate or key, a passphrase that cannot
    be found, or settings no envelope can be built from fail here, once, for the whole batch.
    ``transport`` replaces the pool (tests pass an ``httpx.MockTransport``), ``sync`` the fsync
    of the trail (tests count the fsyncs of each group commit).
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        *,
        connections: int,
        limiter: RateLimiter | None = None,
        transport: httpx.BaseTransport | None = None,
        sync: Callable[[int], None] | None = None,
    ) -> None:
        from smsp_cli import service
        from smsp_cli.audit.calls import CallAudit
        from smsp_cli.audit.configured import TrailOptions, open_trail
        from smsp_cli.transport import retry

        # One TLS context and one kept-alive pool for every row; the certificate and key are
        # read once, so a passphrase is asked for (or read) once for the whole batch.
        self._session = service.open_session(
            settings, transport=transport, max_connections=connections
        )
        # A row keeps its connection until the scheduler has judged it (release): a row that
        # stops the batch halts the session before a waiting row could take the connection.
        self._session.keep_slots()
        # Rows take connections in input order (more threads than connections build the next
        # rows meanwhile): a row that stops the batch never overtakes an earlier one, which
        # is then written, and one at a time "ten unreachable rows in a row" are consecutive.
        # Rate-limit slots are taken in input order too: a row kept waiting for one would
        # otherwise hold back every later row at its turn for a connection, then let them all
        # go at once, over the rate.
        self._order = _InputOrder()
        self._rate_order = _InputOrder() if limiter is not None else None
        self._row = threading.local()  # .number: the row this thread is sending
        self._session.take_turns(lambda: self._order.turn(getattr(self._row, "number", None)))
        # Large replies are read and parsed a few at a time, however many connections there
        # are: the batch's memory stays bounded whatever a provider sends within the cap.
        self._stopping = threading.Event()
        self._budget = ReplyBudget(REPLY_BUDGET_BYTES, stopped=self._stopping.is_set)
        self._session.limit_replies(self._budget)
        # And what those parses free serves the next, on whichever thread (before the
        # workers start: a thread keeps the heap arena it was first given).
        heap.share_arenas()
        self._settings = settings
        try:
            # An envelope built (not sent) now raises what every row's envelope would.
            username = service.sender_name(settings, self._session)
            service.prepare(_probe(), settings, username=username)
            # Spec §7.2: every row's attempts go on the trail, flushed at once. A `sent` record
            # is on the disk before its request leaves, one fsync for every record written
            # since the last (group commit); the others are forced there within a second.
            self._trail = open_trail(TrailOptions.from_settings(settings), fsync_interval=1.0,
                                     sync=sync)
        except BaseException:
            self._session.close()
            raise
        self._audit = CallAudit(self._trail)
        self._limiter = limiter
        # The same retries as a single lookup; a retry waits for its own rate-limit slot.
        self._policy = retry.RetryPolicy(
            attempts=settings.max_attempts, backoff=settings.retry_backoff,
            sleep=self._wait_to_retry,
        )

    def take(self, job: Job) -> None:
        """The scheduler has taken ``job`` (in input order): its place on the wire is kept."""
        if job.ready is None:
            self._order.take(job.number)
            if self._rate_order is not None:
                self._rate_order.take(job.number)

    def __call__(self, job: Job) -> RowOutcome:
        """Send the job's query (after its rate-limit slot) and judge the answer."""
        self._row.number = job.number
        try:
            return self._look_up(job)
        finally:
            self._budget.release()  # the row's reply is parsed and judged
            # On the wire, or never to be: the next row may go.
            self._order.leave(job.number)
            if self._rate_order is not None:
                self._rate_order.leave(job.number)

    def _look_up(self, job: Job) -> RowOutcome:
        from smsp_cli import service
        from smsp_cli.transport.http import NotSent

        if job.ready is not None:
            return job.ready
        assert job.query is not None
        if self._stopping.is_set() or not self._started(job.number):
            return cut_short(job)
        try:
            outcome = service.call(
                job.query, self._settings, session=self._session, policy=self._policy,
                audit=self._audit, batch_row=job.number, on_attempt=self._observe,
            )
        except (_Stopped, NotSent):
            return cut_short(job)  # given up unsent: never written, --resume sends it
        except SmspError as error:
            return failed(job.number, job.id, error, operation=job.query.operation,
                          api=self._settings.api)
        return answered(job.number, job.id, outcome)

    def _observe(self, event: AttemptEvent) -> None:
        # A 429 (too many requests) halves the batch's rate for 30 s; the row retries.
        if event.http_status == 429 and self._limiter is not None:
            self._limiter.slow_down()

    @property
    def slowdowns(self) -> int:
        """How often a 429 halved the batch's rate."""
        return self._limiter.slowdowns if self._limiter is not None else 0

    def release(self) -> None:
        """The row this thread ran has been judged: its connection is free for the next."""
        self._session.release_slot()

    def stop(self) -> None:
        """Stop waiting: retries, rate-limit slots and rows waiting for a connection give up at
        once (the last with their `sent` records closed as stopped), and nothing more is sent."""
        self._session.halt()
        self._stopping.set()
        self._order.halt()
        if self._rate_order is not None:
            self._rate_order.halt()
        if self._limiter is not None:
            self._limiter.cancel()

    def ending(self, ending: Ending) -> None:
        """Why the batch is stopping, known before it stops: the calls it cuts off are
        recorded ``failed`` with it."""
        self._audit.stop_reason = ending

    def close(self, ending: Ending | None = None) -> None:
        """Close the pool's connections, give every call still in flight its outcome, and
        force the trail's last records to disk.

        ``ending`` is why the batch stopped: the calls its closing cuts off, and any still
        without an outcome after a moment, are recorded ``failed`` with it.
        """
        from smsp_cli.audit.calls import Ending

        self.stop()
        if ending is not None:
            self._audit.stop_reason = ending
        try:
            # Cut the calls in flight off without closing their sockets under the workers:
            # a descriptor freed while a worker may still write to it can become the trail's.
            self._session.interrupt()
            deadline = time.monotonic() + _SETTLE_SECONDS
            while self._audit.pending and time.monotonic() < deadline:
                time.sleep(0.01)  # the workers record their own cut-off calls first
            self._session.close()
            self._audit.settle(ending or Ending(
                int(ExitCode.PROVIDER_FAILED), "batch_stopped",
                "the batch ended before the reply"))
        finally:
            self._trail.close()

    def _started(self, number: int) -> bool:
        """Wait for this row's rate-limit slot, after every earlier row's; False: stopped."""
        if self._limiter is None or self._rate_order is None:
            return True
        with self._rate_order.turn(number):
            return self._limiter.wait()

    def _wait_to_retry(self, seconds: float) -> None:
        # A retry waits out its backoff, then its own rate-limit slot; a stop ends either wait,
        # and nothing more is sent.
        if self._stopping.wait(seconds) or (
            self._limiter is not None and not self._limiter.wait()
        ):
            raise _Stopped("the batch stopped")


class _InputOrder:
    """Rows pass one at a time, in the order they were taken (input order).

    A row that must wait sleeps on its own event, which only the row before it sets as it
    leaves: one wake-up a row, not one for every waiting thread.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: list[int] = []  # rows taken, not yet through, in input order
        self._sleeping: dict[int, threading.Event] = {}  # rows waiting for their turn
        self._halted = False

    def take(self, number: int) -> None:
        with self._lock:
            self._waiting.append(number)  # taken in input order: the list stays sorted

    def leave(self, number: int) -> None:
        with self._lock:
            if number not in self._waiting:
                return
            self._waiting.remove(number)
            if self._waiting:
                woken = self._sleeping.get(self._waiting[0])
                if woken is not None:
                    woken.set()

    def halt(self) -> None:
        with self._lock:
            self._halted = True
            for event in self._sleeping.values():
                event.set()

    def _my_turn(self, number: int | None) -> bool:
        return (self._halted or number not in self._waiting
                or self._waiting[0] == number)

    @contextlib.contextmanager
    def turn(self, number: int | None) -> Iterator[None]:
        """Wait until every earlier row is through; then this row alone is inside, until it
        leaves. A halt lets every row in (to find the batch stopped)."""
        with self._lock:
            ready = self._my_turn(number)
            if not ready and number is not None:
                event = self._sleeping[number] = threading.Event()
        while not ready:
            event.wait(_TURN_POLL_SECONDS)
            with self._lock:
                event.clear()
                ready = self._my_turn(number)
                if ready and number is not None:
                    del self._sleeping[number]
        try:
            yield
        finally:
            if number is not None:
                self.leave(number)


_TURN_POLL_SECONDS = 0.25


class _Stopped(SmspError):
    """A retry given up because the batch is stopping; its row is never written."""


def cut_short(job: Job) -> RowOutcome:
    """The outcome of a row the batch stopped before it finished: it is never written."""
    return RowOutcome(job.number, int(ExitCode.PROVIDER_FAILED), {}, completed=False)


def _probe() -> Query:
    """Any valid query: only the envelope's provider settings are being checked."""
    from smsp_cli.domain import operations
    from smsp_cli.domain.models import build_query

    return build_query(operations.VERIFY, nhs_number="9991000003", dob="1984-03-14")
