"""The budget for reply bytes in flight: large replies are held a few at a time, small ones
never wait, and a wait for the budget is not counted against the provider's deadline."""

from __future__ import annotations

import threading
import time

import httpx

from smsp_cli.transport import http as transport
from smsp_cli.transport.budget import ReplyBudget

MIB = 1024 * 1024


def _session(body: bytes, budget: ReplyBudget) -> transport.Session:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    session = transport.Session(None, transport=httpx.MockTransport(handler), max_connections=8)
    session.limit_replies(budget)
    return session


def _post(session: transport.Session, *, read_timeout: float = 5) -> bytes:
    return session.post("https://provider.test/smsp/pds", b"<x/>", soap_action="a",
                        connect_timeout=1, read_timeout=read_timeout).body


def test_large_replies_are_held_no_more_than_the_budget_at_once() -> None:
    budget = ReplyBudget(3 * MIB)
    session = _session(b"x" * (MIB + 1), budget)  # two fit in the budget, not three
    holding = threading.Semaphore(0)
    lengths: list[int] = []

    def row() -> None:
        lengths.append(len(_post(session)))
        holding.release()
        time.sleep(0.2)  # parsing it: the reservation is kept until the row is done
        budget.release()

    threads = [threading.Thread(target=row) for _ in range(6)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    elapsed = time.monotonic() - started
    session.close()
    assert lengths == [MIB + 1] * 6
    assert budget.most_held == 2 * (MIB + 1)
    assert elapsed >= 3 * 0.2  # six replies, two at a time
    assert budget.held() == 0


def test_small_replies_never_touch_the_budget() -> None:
    budget = ReplyBudget(1)  # nothing would fit
    session = _session(b"<ok/>" * 1000, budget)
    assert _post(session) == b"<ok/>" * 1000
    assert budget.most_held == 0
    session.close()


def test_a_reply_larger_than_the_budget_waits_until_it_is_alone() -> None:
    budget = ReplyBudget(MIB)
    session = _session(b"y" * (2 * MIB), budget)
    assert len(_post(session)) == 2 * MIB
    assert budget.most_held == MIB  # the whole budget, no more
    budget.release()
    session.close()


def test_waiting_for_the_budget_does_not_use_up_the_read_deadline() -> None:
    budget = ReplyBudget(2 * MIB)
    session = _session(b"z" * (2 * MIB), budget)
    assert len(_post(session)) == 2 * MIB  # this thread holds the whole budget
    got: list[int] = []
    waiter = threading.Thread(target=lambda: got.append(len(_post(session, read_timeout=0.3))))
    waiter.start()
    time.sleep(1.6)  # longer than the waiter's deadline, connect 1 s + read 0.3 s
    budget.release()
    waiter.join(10)
    session.close()
    assert got == [2 * MIB]


def test_a_stop_ends_the_wait_for_the_budget() -> None:
    stopping = threading.Event()
    budget = ReplyBudget(MIB, stopped=stopping.is_set)
    budget.reserve(MIB)
    done: list[float] = []
    waiter = threading.Thread(target=lambda: done.append(budget.reserve(MIB)))
    waiter.start()
    time.sleep(0.1)
    stopping.set()
    waiter.join(5)
    assert not waiter.is_alive()
    assert len(done) == 1
    assert done[0] > 0  # it waited, then gave up unreserved
    assert budget.held() == MIB  # this thread's own, still held
