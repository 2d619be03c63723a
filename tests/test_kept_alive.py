"""Many calls on one TLS context and one kept-alive pool: the batch's way to the provider."""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from smsp_cli import operations
from smsp_cli.models import build_query
from smsp_cli.sandbox.certs import SandboxCredentials
from smsp_cli.sandbox.embedded import settings_for
from smsp_cli.sandbox.server import SandboxServer
from smsp_cli.settings import clientcert
from smsp_cli.settings.connection import ConnectionSettings, gather, resolve
from smsp_cli.wire import service
from smsp_cli.wire import transport as http

QUERY = build_query(operations.GET, nhs_number="9991000003", dob="1984-03-14")


class CountingRelay:
    """A TCP relay in front of the sandbox that counts the connections made through it."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            upstream = socket.create_connection(self.target)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(source, sink), daemon=True).start()

    def close(self) -> None:
        self._listener.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def relay(sandbox: SandboxServer) -> Iterator[CountingRelay]:
    address = urlsplit(sandbox.url)
    relay = CountingRelay((str(address.hostname), int(address.port or 443)))
    yield relay
    relay.close()


def _settings(credentials: SandboxCredentials, port: int) -> ConnectionSettings:
    url = f"https://127.0.0.1:{port}/smsp/pds"
    return resolve(gather({}, {}, settings_for(url, credentials)))


def test_calls_through_one_pool_share_one_connection(
    credentials: SandboxCredentials, relay: CountingRelay
) -> None:
    settings = _settings(credentials, relay.port)
    client = clientcert.load(settings.cert, settings.key)
    context = http.ssl_context(settings.ca_bundle, settings.cert, client=client)
    settings = dataclasses.replace(settings, username=client.common_name)
    pool = http.kept_alive(context, connections=2)
    try:
        outcomes = [
            service.call(QUERY, settings, transport=pool.transport, context=context)
            for _ in range(10)
        ]
    finally:
        pool.close()
    assert [outcome.exit_code for outcome in outcomes] == [0] * 10
    assert len({outcome.message_id for outcome in outcomes}) == 10  # fresh ids every call
    assert relay.connections == 1


def test_calls_without_a_pool_open_a_connection_each(
    credentials: SandboxCredentials, relay: CountingRelay
) -> None:
    settings = _settings(credentials, relay.port)
    for _ in range(3):
        assert service.call(QUERY, settings).exit_code == 0
    assert relay.connections == 3


def test_a_given_context_spares_reading_the_certificate_again(
    credentials: SandboxCredentials, sandbox: SandboxServer, tmp_path: Path
) -> None:
    settings = resolve(gather({}, {}, settings_for(sandbox.url, credentials)))
    client = clientcert.load(settings.cert, settings.key)
    context = http.ssl_context(settings.ca_bundle, settings.cert, client=client)
    # Certificate and key paths that no longer exist: only the given context can be used.
    moved = dataclasses.replace(
        settings, cert=tmp_path / "gone.pem", key=tmp_path / "gone-key.pem",
        username=client.common_name,
    )
    assert service.call(QUERY, moved, context=context).exit_code == 0
