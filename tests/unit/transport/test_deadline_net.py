"""The deadline backend connects as socket.create_connection does: address after address."""

from __future__ import annotations

import os
import socket
import stat
import threading
import time
from collections.abc import Iterator

import httpcore
import pytest

from smsp_cli.transport.deadline_net import DeadlineBackend

HOST = "provider.test"


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.create_server(("127.0.0.1", 0))
    yield server
    server.close()


def _two_addresses(monkeypatch: pytest.MonkeyPatch, first: str) -> list[str]:
    """Resolve HOST to ``first`` then 127.0.0.1; note the address of every connect tried."""
    tried: list[str] = []
    connect, lookup = socket.create_connection, socket.getaddrinfo

    def getaddrinfo(host: str, port: int, *args: object, **kwargs: object) -> list[object]:
        if host != HOST:
            return lookup(host, port, *args, **kwargs)  # type: ignore[arg-type]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
                for address in (first, "127.0.0.1")]

    def create_connection(address: tuple[str, int], *args: object, **kwargs: object) -> object:
        tried.append(address[0])
        if address[0] == first:
            raise TimeoutError("timed out")  # a route that silently drops packets
        return connect(address, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    return tried


def test_an_address_that_times_out_gives_way_to_the_next(
    monkeypatch: pytest.MonkeyPatch, listener: socket.socket
) -> None:
    tried = _two_addresses(monkeypatch, "192.0.2.1")
    stream = DeadlineBackend().connect_tcp(HOST, listener.getsockname()[1], timeout=2)
    stream.close()
    assert tried == ["192.0.2.1", "127.0.0.1"]


def test_when_every_address_times_out_the_connect_times_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _two_addresses(monkeypatch, "192.0.2.1")

    def never(address: tuple[str, int], *args: object, **kwargs: object) -> object:
        raise TimeoutError("timed out")

    monkeypatch.setattr(socket, "create_connection", never)
    with pytest.raises(httpcore.ConnectTimeout):
        DeadlineBackend().connect_tcp(HOST, 9, timeout=2)


def test_an_interrupt_ends_a_blocked_read_at_once_and_leaves_the_descriptor_to_its_owner(
    listener: socket.socket,
) -> None:
    backend = DeadlineBackend()
    stream = backend.connect_tcp("127.0.0.1", listener.getsockname()[1], timeout=30)
    peer, _ = listener.accept()  # a provider that never answers
    descriptor = stream.get_extra_info("socket").fileno()
    failed: list[BaseException] = []
    ended = threading.Event()

    def read() -> None:
        try:
            stream.read(1024, timeout=30)
        except BaseException as exc:  # what the reading thread saw is the point
            failed.append(exc)
        ended.set()

    worker = threading.Thread(target=read)
    worker.start()
    time.sleep(0.2)  # the worker is inside recv by now
    began = time.monotonic()
    backend.interrupt()
    assert ended.wait(5)
    assert time.monotonic() - began < 1.0
    # The read ended (nothing read, or an error), and no write can go anywhere but this socket:
    # its descriptor is still a socket, not free for the next file to take.
    assert not failed or isinstance(failed[0], httpcore.ReadError)
    assert stat.S_ISSOCK(os.fstat(descriptor).st_mode)
    with pytest.raises(httpcore.WriteError):
        stream.write(b"POST / HTTP/1.1\r\n\r\n", timeout=2)
    stream.close()
    peer.close()
    worker.join()
