"""The batch scheduler with the real row lookup: order, window, stops, and the rate limiter.

Requests go through an ``httpx.MockTransport`` that holds or fails chosen rows and passes the
rest on to the real sandbox, so every answer is a real one.
"""

from __future__ import annotations

import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from smsp_cli.batch.columns import plan
from smsp_cli.batch.lookup import Job, RowLookup, RowOutcome, prepare
from smsp_cli.batch.ratelimit import RateLimiter
from smsp_cli.batch.reader import InputRow
from smsp_cli.batch.scheduler import Scheduler
from smsp_cli.domain import operations
from smsp_cli.domain.errors import ProviderRejected, Unreachable
from smsp_cli.sandbox.certs import SandboxCredentials
from smsp_cli.sandbox.embedded import settings_for
from smsp_cli.sandbox.server import SandboxServer
from smsp_cli.settings.connection import gather, resolve
from tests.lib.nhs_numbers import OPENTEST

DOB = "1984-03-14"
NUMBERS = list(OPENTEST)  # row n looks up NUMBERS[n - 1]; fifty rows at the most
Handler = Callable[[int, httpx.Request], httpx.Response | None]


class Provider:
    """A MockTransport whose handler may answer for a row; otherwise the sandbox answers."""

    def __init__(self, sandbox: SandboxServer, credentials: SandboxCredentials,
                 handler: Handler) -> None:
        context = ssl.create_default_context(cafile=str(credentials.ca_cert))
        context.load_cert_chain(credentials.client_cert, credentials.client_key)
        self._real = httpx.Client(verify=context)
        self._url = sandbox.url
        self._handler = handler
        self.seen: list[int] = []
        self._lock = threading.Lock()

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        found = re.search(rb'extension="(\d{10})"', request.content)
        assert found is not None
        row = NUMBERS.index(found.group(1).decode()) + 1
        with self._lock:
            self.seen.append(row)
        answer = self._handler(row, request)
        if answer is not None:
            return answer
        real = self._real.post(self._url, content=request.content, headers=request.headers)
        return httpx.Response(real.status_code, content=real.content, headers=real.headers)


@pytest.fixture
def make_provider(
    sandbox: SandboxServer, credentials: SandboxCredentials
) -> Callable[[Handler], Provider]:
    return lambda handler: Provider(sandbox, credentials, handler)


def _lookup(sandbox: SandboxServer, credentials: SandboxCredentials, provider: Provider,
            *, limiter: RateLimiter | None = None) -> RowLookup:
    values = {**settings_for(sandbox.url, credentials), "max_attempts": "1"}
    settings = resolve(gather({}, {}, values))
    return RowLookup(settings, connections=4, limiter=limiter, transport=provider.transport())


def _jobs(count: int, *, invalid: frozenset[int] = frozenset()) -> Iterator[Job]:
    columns = plan(operations.GET, ("nhs_number", "dob", "id"), {})
    for number in range(1, count + 1):
        nhs = "123" if number in invalid else NUMBERS[number - 1]
        row = InputRow(number, {"nhs_number": nhs, "dob": DOB, "id": f"r{number}"}, 0)
        yield prepare(row, operations.GET, columns, api="smsp")


def _run(lookup: RowLookup, jobs: Iterator[Job], *, concurrency: int = 4,
         window: int | None = None) -> tuple[Scheduler, list[RowOutcome]]:
    written: list[RowOutcome] = []
    scheduler = Scheduler(lookup, written.append, concurrency=concurrency, window=window,
                          on_stop=lookup.stop)
    try:
        scheduler.run(jobs)
    finally:
        lookup.close()
    return scheduler, written


def test_rows_finishing_out_of_order_are_written_in_input_order(
    sandbox: SandboxServer, credentials: SandboxCredentials,
    make_provider: Callable[[Handler], Provider],
) -> None:
    def slow_some(row: int, request: httpx.Request) -> None:
        time.sleep((row * 7 % 5) * 0.01)  # later rows often finish first

    provider = make_provider(slow_some)
    scheduler, written = _run(_lookup(sandbox, credentials, provider), _jobs(40))
    assert scheduler.stopped is None
    assert [outcome.number for outcome in written] == list(range(1, 41))
    assert [outcome.line["id"] for outcome in written] == [f"r{n}" for n in range(1, 41)]
    assert all(outcome.line["result"]["response_code"] == "DEMOG-0001" for outcome in written)
    assert scheduler.most_held <= scheduler.window
    assert sorted(provider.seen) == list(range(1, 41))  # each row sent exactly once


def test_a_held_up_row_stops_the_scheduler_running_ahead_of_the_window(
    sandbox: SandboxServer, credentials: SandboxCredentials,
    make_provider: Callable[[Handler], Provider],
) -> None:
    release = threading.Event()

    def hold_row_one(row: int, request: httpx.Request) -> None:
        if row == 1:
            release.wait(30)

    provider = make_provider(hold_row_one)
    lookup = _lookup(sandbox, credentials, provider)
    result: list[tuple[Scheduler, list[RowOutcome]]] = []
    runner = threading.Thread(target=lambda: result.append(_run(lookup, _jobs(30), window=6)))
    runner.start()
    deadline = time.monotonic() + 20
    while len(provider.seen) < 6 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.5)  # room for any row the scheduler should not send
    ahead = sorted(provider.seen)
    release.set()
    runner.join(30)
    assert ahead == [1, 2, 3, 4, 5, 6]  # rows 1 .. window, no further
    scheduler, written = result[0]
    assert [outcome.number for outcome in written] == list(range(1, 31))
    assert scheduler.most_held <= 6


@pytest.mark.parametrize("status", [401, 403])
def test_http_401_or_403_stops_the_batch_and_later_rows_stay_out(
    sandbox: SandboxServer, credentials: SandboxCredentials,
    make_provider: Callable[[Handler], Provider], status: int,
) -> None:
    def refuse_row_5(row: int, request: httpx.Request) -> httpx.Response | None:
        if row >= 5:
            return httpx.Response(status, content=b"")
        time.sleep(0.05)  # earlier rows are still on their way when row 5 is refused
        return None

    provider = make_provider(refuse_row_5)
    scheduler, written = _run(_lookup(sandbox, credentials, provider), _jobs(50),
                              concurrency=2)
    assert scheduler.stopped is not None
    assert scheduler.stopped.row == 5
    assert isinstance(scheduler.stopped.error, ProviderRejected)
    assert scheduler.stopped.error.http_status == status
    assert [outcome.number for outcome in written] == [1, 2, 3, 4]  # answers already coming
    assert max(provider.seen) <= 5 + scheduler.window  # nothing sent long after the stop


def test_ten_unreachable_rows_in_a_row_stop_the_batch(
    sandbox: SandboxServer, credentials: SandboxCredentials,
    make_provider: Callable[[Handler], Provider],
) -> None:
    def refuse(row: int, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    provider = make_provider(refuse)
    scheduler, written = _run(_lookup(sandbox, credentials, provider), _jobs(50))
    assert scheduler.stopped is not None
    assert isinstance(scheduler.stopped.error, Unreachable)
    assert scheduler.stopped.error.message.startswith(
        "10 rows in a row could not reach the provider, so the batch stopped; the last: "
    )
    assert scheduler.stopped.row <= 10 + scheduler.window
    assert len(provider.seen) < 50
    assert all(outcome.exit_code == 5 for outcome in written)
    assert [outcome.number for outcome in written] == list(range(1, len(written) + 1))


def test_one_at_a_time_the_tenth_unreachable_row_is_the_stop(
    sandbox: SandboxServer, credentials: SandboxCredentials,
    make_provider: Callable[[Handler], Provider],
) -> None:
    def refuse(row: int, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    provider = make_provider(refuse)
    # One lookup at a time and one attempt each (max_attempts 1): "in a row" is input order.
    scheduler, written = _run(_lookup(sandbox, credentials, provider), _jobs(30),
                              concurrency=1)
    assert scheduler.stopped is not None
    assert scheduler.stopped.row == 10
    assert [outcome.number for outcome in written] == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    # Row 11 is queued for the lone worker when row 10 fails, and is never sent.
    assert provider.seen == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]


def test_unreachable_rows_between_answers_do_not_stop_the_batch(
    sandbox: SandboxServer, credentials: SandboxCredentials,
    make_provider: Callable[[Handler], Provider],
) -> None:
    def refuse_most(row: int, request: httpx.Request) -> httpx.Response | None:
        if row % 8:
            raise httpx.ConnectError("[Errno 111] Connection refused")
        return None

    provider = make_provider(refuse_most)
    # One lookup at a time, so "in a row" is the input's order.
    scheduler, written = _run(_lookup(sandbox, credentials, provider), _jobs(40),
                              concurrency=1)
    assert scheduler.stopped is None
    assert len(written) == 40
    assert sum(outcome.exit_code == 5 for outcome in written) == 35


def test_invalid_rows_are_written_without_being_sent(
    sandbox: SandboxServer, credentials: SandboxCredentials,
    make_provider: Callable[[Handler], Provider],
) -> None:
    provider = make_provider(lambda row, request: None)
    _, written = _run(_lookup(sandbox, credentials, provider),
                      _jobs(10, invalid=frozenset({3, 7})))
    assert [outcome.number for outcome in written] == list(range(1, 11))
    assert [outcome.exit_code for outcome in written if outcome.number in (3, 7)] == [2, 2]
    assert written[2].line["error"]["type"] == "usage"
    assert "NHS number" in written[2].line["error"]["message"]
    assert sorted(provider.seen) == [1, 2, 4, 5, 6, 8, 9, 10]


# --- the rate limiter ------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_spaces_starts_evenly() -> None:
    clock = FakeClock()
    limiter = RateLimiter(50, clock=clock)
    assert limiter.try_start() == 0.0
    assert limiter.try_start() == pytest.approx(0.02)  # too soon: wait 20 ms
    clock.now += 0.02
    assert limiter.try_start() == 0.0
    clock.now += 0.005
    assert limiter.try_start() == pytest.approx(0.015)


def test_a_start_a_little_late_keeps_the_schedule() -> None:
    clock = FakeClock()
    limiter = RateLimiter(50, clock=clock)
    assert limiter.try_start() == 0.0  # due next at 100.02
    clock.now = 100.025  # 5 ms late
    assert limiter.try_start() == 0.0
    clock.now = 100.039
    assert limiter.try_start() == pytest.approx(0.001)  # due at 100.04, not 100.045


def test_rate_limiter_does_not_burst_to_catch_up_after_a_stall() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock)
    assert limiter.try_start() == 0.0
    clock.now += 5.0  # the machine stalled; 50 starts went by unused
    assert limiter.try_start() == 0.0
    assert limiter.try_start() == pytest.approx(0.1)  # the next one a full interval later
    clock.now += 0.1
    assert limiter.try_start() == 0.0
    assert limiter.try_start() == pytest.approx(0.1)


def test_many_threads_share_the_rate() -> None:
    limiter = RateLimiter(100)
    starts: list[float] = []
    lock = threading.Lock()

    def start_five() -> None:
        for _ in range(5):
            assert limiter.wait()
            with lock:
                starts.append(time.monotonic())

    threads = [threading.Thread(target=start_five) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    starts.sort()
    assert len(starts) == 40
    assert starts[-1] - starts[0] >= 39 * 0.01 * 0.99  # never faster than the rate


def test_cancel_releases_a_waiting_caller_at_once() -> None:
    limiter = RateLimiter(0.1)  # a slot every 10 s
    assert limiter.wait() is True
    threading.Timer(0.1, limiter.cancel).start()
    started = time.monotonic()
    assert limiter.wait() is False
    assert time.monotonic() - started < 5


def test_a_429_halves_the_rate_for_30_seconds_without_compounding() -> None:
    from smsp_cli.batch.ratelimit import RateLimiter

    now = [100.0]
    limiter = RateLimiter(10.0, clock=lambda: now[0])
    assert limiter.interval == pytest.approx(0.1)
    limiter.slow_down()
    limiter.slow_down()  # a second 429 inside the window: still half the rate
    assert limiter.interval == pytest.approx(0.2)
    assert limiter.slowdowns == 2
    assert limiter.try_start() == 0.0
    assert limiter.try_start() == pytest.approx(0.2)
    now[0] = 130.5  # the window has passed: the agreed rate is back
    assert limiter.try_start() == 0.0
    assert limiter.interval == pytest.approx(0.1)


def test_rows_waiting_for_room_at_the_end_of_the_input_are_still_sent() -> None:
    # Row 1 is slow; rows 2 and 3 are taken meanwhile and row 3 waits for room in the window.
    # A worker that then finds the input at its end must not halt the one holding row 3.
    def look_up(job: Job) -> RowOutcome:
        if job.number == 1:
            time.sleep(0.3)
        return RowOutcome(job.number, 0, {"row": job.number})

    written: list[RowOutcome] = []
    scheduler = Scheduler(look_up, written.append, concurrency=3, window=2)
    assert scheduler.run(Job(n, None) for n in range(1, 4)) is None
    assert [outcome.number for outcome in written] == [1, 2, 3]
