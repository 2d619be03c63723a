"""The deadline backend connects as socket.create_connection does: address after address."""

from __future__ import annotations

import socket
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
