"""The deadline transport: it connects as socket.create_connection does (address after address),
costs no system call per operation beyond the one it needs, and never reuses a connection that
went stale while idle."""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import stat
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, ClassVar

import httpx
import pytest

from smsp_cli.transport import http as transport
from smsp_cli.transport.deadline_net import Connection, DeadlineTransport, connect_tcp
from smsp_cli.transport.http11 import Dropped
from smsp_cli.transport.sockio import PlainChannel

if TYPE_CHECKING:
    from smsp_cli.sandbox.certs import SandboxCredentials
    from smsp_cli.sandbox.server import SandboxServer

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
    connect_tcp(HOST, listener.getsockname()[1], 2).close()
    assert tried == ["192.0.2.1", "127.0.0.1"]


def test_when_every_address_times_out_the_connect_times_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _two_addresses(monkeypatch, "192.0.2.1")

    def never(address: tuple[str, int], *args: object, **kwargs: object) -> object:
        raise TimeoutError("timed out")

    monkeypatch.setattr(socket, "create_connection", never)
    transport = DeadlineTransport(ssl.create_default_context(), max_connections=1)
    with pytest.raises(httpx.ConnectTimeout):
        transport.handle_request(httpx.Request("POST", f"http://{HOST}:9/smsp", content=b"x"))


def test_an_interrupt_ends_a_blocked_read_at_once_and_leaves_the_descriptor_to_its_owner(
    listener: socket.socket,
) -> None:
    transport = DeadlineTransport(ssl.create_default_context(), max_connections=1)
    sock = connect_tcp("127.0.0.1", listener.getsockname()[1], 30)
    connection = Connection(("http", "127.0.0.1", 0), PlainChannel(sock), transport.sockets)
    peer, _ = listener.accept()  # a provider that never answers
    descriptor = sock.fileno()
    failed: list[BaseException] = []
    ended = threading.Event()

    def read() -> None:
        try:
            connection.read_head("POST", 30)
        except BaseException as exc:  # what the reading thread saw is the point
            failed.append(exc)
        ended.set()

    worker = threading.Thread(target=read)
    worker.start()
    time.sleep(0.2)  # the worker is inside its wait by now
    began = time.monotonic()
    transport.interrupt()
    assert ended.wait(5)
    assert time.monotonic() - began < 1.0
    # The read ended (the connection read as closed, or an error), and no write can go
    # anywhere but this socket: its descriptor is still a socket, not free for the next file.
    assert [type(error) for error in failed] in ([Dropped], [OSError], [ConnectionResetError])
    assert stat.S_ISSOCK(os.fstat(descriptor).st_mode)
    with pytest.raises(BrokenPipeError):  # shut down: the socket takes no more writes
        connection.send(b"POST / HTTP/1.1\r\n\r\n", 2)
    connection.close()
    peer.close()
    worker.join()


class _Provider:
    """A plain-HTTP loopback provider: each request answered ``ok`` on a kept-alive
    connection; after its first reply, the first connection also sends ``late`` bytes."""

    REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

    def __init__(self, late: bytes = b"", *, hang_up: bool = False, reply: bytes = REPLY) -> None:
        self.reply = reply
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}/smsp"
        self.late = late
        self.hang_up = hang_up  # the first connection is closed after its first reply
        self.received: list[bytes] = []  # each request's bytes, as they came off the wire
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                peer, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._answer, args=(peer, self.connections == 1),
                             daemon=True).start()

    def _answer(self, peer: socket.socket, first: bool) -> None:
        with peer, contextlib.suppress(OSError):  # a client may reset a retired connection
            data = b""
            while True:
                while b"\r\n\r\n" not in data:
                    more = peer.recv(65536)
                    if not more:
                        return
                    data += more
                head, _, rest = data.partition(b"\r\n\r\n")
                length = int(next((line.split(b":")[1] for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length:")), b"0"))
                while len(rest) < length:
                    rest += peer.recv(65536)
                self.received.append(head + b"\r\n\r\n" + rest[:length])
                data = rest[length:]
                peer.sendall(self.reply)
                if first and self.hang_up:
                    return
                if first and self.late:
                    time.sleep(0.1)  # after the client has read the whole reply
                    peer.sendall(self.late)
                first = False

    def close(self) -> None:
        self.server.close()


class _CountingSocket(socket.socket):
    """A TCP socket that notes its sends and timeout changes (the system calls in question)."""

    made: ClassVar[list[_CountingSocket]] = []

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.sends: list[bytes] = []
        self.timeouts: list[float | None] = []
        self.receives = 0
        _CountingSocket.made.append(self)

    def recv(self, size: int, *args: object) -> bytes:
        self.receives += 1
        return super().recv(size, *args)  # type: ignore[arg-type]

    def send(self, data: object, *args: object) -> int:  # type: ignore[override]
        sent = super().send(data, *args)  # type: ignore[arg-type]
        self.sends.append(bytes(data)[:sent])  # type: ignore[call-overload]
        return sent

    def settimeout(self, value: float | None) -> None:
        self.timeouts.append(value)
        super().settimeout(value)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[_CountingSocket]:
    def create_connection(address: tuple[str, int], timeout: float | None = None,
                          source_address: object = None) -> socket.socket:
        sock = _CountingSocket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(address)
        return sock

    _CountingSocket.made = []
    monkeypatch.setattr(socket, "create_connection", create_connection)
    return _CountingSocket.made


def _post(session: transport.Session, url: str, body: bytes) -> transport.HttpReply:
    return session.post(url, body, soap_action="urn:test", connect_timeout=5, read_timeout=5)


def test_a_request_goes_out_in_one_send_and_no_socket_timeout_is_set_per_operation(
    counted: list[_CountingSocket],
) -> None:
    provider = _Provider()
    body = b"<Envelope>" + b"x" * 3000 + b"</Envelope>"
    try:
        with transport.Session(None, max_connections=1) as session:
            replies = [_post(session, provider.url, body) for _ in range(3)]
        (sock,) = counted
        sends = list(sock.sends)
        # ...and exactly the bytes httpx's own transport sends for the same request.
        with httpx.Client(trust_env=False, headers={"Accept-Encoding": "identity"}) as plain:
            plain.post(provider.url, content=body, headers={
                "Content-Type": "text/xml; charset=utf-8", "SOAPAction": "urn:test"})
    finally:
        provider.close()
    assert [reply.body for reply in replies] == [b"ok"] * 3
    # Head and body in one send each request...
    assert sends == provider.received[:3]
    assert provider.received[0] == provider.received[3]
    assert provider.received[0].endswith(b"Content-Length: 3021\r\n\r\n" + body)
    # The connect's own timeout, then non-blocking for good: none per read or write.
    assert sock.timeouts == [5.0, 0.0]


def test_a_request_without_a_body_goes_out_in_one_send(counted: list[_CountingSocket]) -> None:
    provider = _Provider()
    try:
        with transport.Session(None, max_connections=1) as session:
            reply = session.send("GET", provider.url, headers={"Accept": "text/plain"},
                                 connect_timeout=5, read_timeout=5)
    finally:
        provider.close()
    assert reply.body == b"ok"
    assert [len(sent) for sent in counted[0].sends] == [len(provider.received[0])]
    assert provider.received[0].startswith(b"GET /smsp HTTP/1.1\r\n")
    assert provider.received[0].endswith(b"\r\n\r\n")


def test_bytes_arriving_on_an_idle_connection_after_its_reply_retire_it() -> None:
    # Read whole and in time, the reply leaves nothing behind in h11 or TLS: the late bytes
    # reach only the socket, where the connection's next request must look before using it.
    provider = _Provider(late=b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale")
    try:
        with transport.Session(None, max_connections=1) as session:
            first = _post(session, provider.url, b"<one/>")
            time.sleep(0.4)  # the late bytes are there by now
            second = _post(session, provider.url, b"<two/>")
    finally:
        provider.close()
    assert (first.body, second.body) == (b"ok", b"ok")
    assert provider.connections == 2
    assert [request.endswith(b"<two/>") for request in provider.received] == [False, True]


def test_a_connection_the_provider_closed_while_idle_is_replaced_without_a_failure() -> None:
    provider = _Provider(hang_up=True)
    try:
        with transport.Session(None, max_connections=1) as session:
            first = _post(session, provider.url, b"<one/>")
            time.sleep(0.4)  # the provider has closed its end by now
            second = _post(session, provider.url, b"<two/>")
    finally:
        provider.close()
    assert (first.body, second.body) == (b"ok", b"ok")
    assert provider.connections == 2


def test_a_cookie_the_provider_sets_is_sent_back_as_httpx_sends_it() -> None:
    # A load balancer's affinity cookie: httpx's own handling, kept.
    provider = _Provider(reply=b"HTTP/1.1 200 OK\r\nSet-Cookie: lb=one; Path=/\r\n"
                              b"Content-Length: 2\r\n\r\nok")
    try:
        with transport.Session(None, max_connections=1) as session:
            _post(session, provider.url, b"<one/>")
            _post(session, provider.url, b"<two/>")
    finally:
        provider.close()
    assert b"\r\ncookie:" not in provider.received[0].lower()
    assert b"\r\nCookie: lb=one\r\n" in provider.received[1]


def test_over_tls_a_request_is_one_send_and_its_reply_one_recv(
    counted: list[_CountingSocket], sandbox: SandboxServer, credentials: SandboxCredentials,
) -> None:
    from smsp_cli.adapters.smsp.envelope import EnvelopeSettings, build_request
    from smsp_cli.domain import operations
    from smsp_cli.domain.models import build_query
    from smsp_cli.settings.identity import AuditId

    context = transport.ssl_context(credentials.ca_cert, credentials.client_cert,
                                    credentials.client_key)
    query = build_query(operations.GET, nhs_number="9991000003", dob="1984-03-14")
    envelope = EnvelopeSettings(sandbox.url, credentials.client_cn,
                                (AuditId("868000003114", None),))
    with transport.Session(context, max_connections=1) as session:
        def post() -> transport.HttpReply:
            built = build_request(query, envelope)
            return session.post(sandbox.url, built.body, soap_action=built.soap_action,
                                connect_timeout=5, read_timeout=10)

        assert post().status_code == 200  # connected and shaken hands
        (sock,) = counted
        sends, receives = len(sock.sends), sock.receives
        replies = [post() for _ in range(3)]
    assert [reply.status_code for reply in replies] == [200] * 3
    assert b"9991000003" in replies[0].body
    assert len(sock.sends) - sends == 3  # head and body in one TLS record, one send
    # A reply of one TLS record, read whole by one recv (OpenSSL on the socket takes two).
    # (one more allowed, should a busy machine split a reply's segments)
    assert sock.receives - receives <= 3 + 1, sock.receives - receives
    assert sock.timeouts == [5.0, 0.0]


def test_an_exchange_reports_its_steps_by_httpcores_event_names_in_order() -> None:
    # What the timeout messages and the -v trace read: a fresh connection, then a kept one.
    provider = _Provider()
    seen: list[str] = []
    transport = DeadlineTransport(ssl.create_default_context(), max_connections=1)
    try:
        for _ in range(2):
            request = httpx.Request("POST", provider.url, content=b"<a/>", extensions={
                "trace": lambda name, info: seen.append(name), "timeout": {"read": 5.0}})
            response = transport.handle_request(request)
            assert b"".join(response.stream) == b"ok"
            response.close()
    finally:
        transport.close()
        provider.close()
    exchange = [f"{step}.{stage}" for step in (
        "http11.send_request_headers", "http11.send_request_body",
        "http11.receive_response_headers", "http11.receive_response_body",
        "http11.response_closed") for stage in ("started", "complete")]
    connect = ["connection.connect_tcp.started", "connection.connect_tcp.complete"]
    assert seen == connect + exchange + exchange
    assert provider.connections == 1
