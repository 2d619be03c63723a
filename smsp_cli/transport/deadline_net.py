"""The connections under httpx: HTTP/1.1 on sockets whose every wait ends by the deadline.

:class:`DeadlineTransport` is the transport httpx's client sends each request through. It
keeps its own pool of kept-alive connections and speaks HTTP/1.1 itself
(:mod:`smsp_cli.transport.http11`), a request at a time on each connection: for the few shapes
of exchange smsp makes, the general machinery of httpcore and h11 cost as much CPU a lookup as
building the envelope and parsing the reply together. What it does, for every request:

* DNS: ``getaddrinfo`` in a daemon thread, waited for at most the time left;
* TCP connect: each address with the time left;
* TLS handshake: bounded as a whole by the connect timeout (however the server splits its
  records);
* reads and writes: tried at once on the non-blocking socket and, while one would block,
  again after a ``poll`` of at most the time left (:mod:`smsp_cli.transport.sockio`, which
  also runs TLS over memory buffers: one ``recv`` a reply, not two a TLS record). Every
  operation first cuts its timeout to the attempt's deadline
  (:func:`smsp_cli.transport.deadline.bounded`) and none starts once it has passed, so a
  provider that drips its reply a byte at a time cannot keep an attempt alive for ever;
* the request's head and body go out in one ``send``.

No stale bytes: a kept-alive connection is reused only if nothing is waiting on it. A reply
followed by bytes nobody asked for (a provider that sends one reply twice, or a body longer
than its Content-Length) would otherwise become the next request's answer: another row's
patient in a batch. Such bytes sit in one of three places, and each is looked at before the
connection is handed out again: the reader's leftover (read with the reply, beyond its end),
the TLS layer's buffers (bytes received but not yet asked for), and the socket itself
(``poll``, once, when the connection is handed to a request).

Framing: the reader refuses a head, chunk-size line or trailers over the limits of
:mod:`smsp_cli.transport.framing` as soon as the bytes read show it, a reply that does not
begin as HTTP/1.x at its first bytes, and an unasked-for 101.

Errors are httpx's own (ConnectError, ReadTimeout, RemoteProtocolError...), each raised from
its cause, so :mod:`smsp_cli.transport.http` translates them as it always has. Progress is
reported through the request's ``trace`` extension with httpcore's event names
(``connection.connect_tcp.started`` and so on), which the ``-v`` trace and the timeout
messages read.

Stopping from another thread: a batch that stops cuts off the calls still in flight. Closing
their sockets from the stopping thread would free each descriptor number while a worker thread
may still be about to read or write it; the next file opened (the audit trail's) takes the
number, and that worker's TLS bytes land in the file. :meth:`DeadlineTransport.interrupt` shuts
the sockets down instead: every wait on them ends at once and every later read or write fails,
while each descriptor stays the socket's until the thread using it closes it.

Only :mod:`smsp_cli.transport.http` imports this module (it imports httpx).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx

from smsp_cli.transport.deadline import bounded
from smsp_cli.transport.framing import FramingError
from smsp_cli.transport.http11 import (
    Dropped,
    ProtocolFault,
    ReplyHead,
    ReplyReader,
    RequestFault,
    request_bytes,
)
from smsp_cli.transport.netaddr import resolve_within
from smsp_cli.transport.sockio import PlainChannel, TlsChannel, readable_now, wait

_RECEIVE_BYTES = 64 * 1024
KEEPALIVE_SECONDS = 5.0  # an idle connection older than this is closed, not reused (as httpx)
_DEFAULT_PORTS = {"http": 80, "https": 443}

Trace = Callable[[str, Mapping[str, Any]], None]
Origin = tuple[str, str, int]  # scheme, host, port


class Connection:
    """One TCP (or TLS) connection carrying one request at a time."""

    def __init__(self, origin: Origin, channel: PlainChannel, sockets: OpenSockets) -> None:
        self.origin = origin
        self.channel = channel
        self.sock = channel.sock
        self._sockets = sockets
        self._reader = ReplyReader(self._receive)
        self._read_timeout: float | None = None
        self._awaiting_reply = False  # the request is out and nothing of its reply read yet
        self.reusable = False  # the last reply was read to its end, and keeps the connection
        self.idle_since = 0.0
        sockets.add(self.sock)

    # --- what httpx and the -v trace ask of a connection ----------------------------------

    def get_extra_info(self, info: str) -> Any:
        """``ssl_object``, ``client_addr``, ``server_addr`` or ``socket``; None otherwise."""
        if info == "ssl_object":
            return self.channel.tls if isinstance(self.channel, TlsChannel) else None
        if info == "client_addr":
            return self.sock.getsockname()
        if info == "server_addr":
            return self.sock.getpeername()
        if info == "socket":
            return self.sock
        return None

    def holds_bytes(self) -> bool:
        """True when bytes nobody asked for wait on it (or its peer has closed it)."""
        return bool(self._reader.leftover) or self.channel.buffered() or readable_now(self.sock)

    def close(self) -> None:
        self.reusable = False
        self._sockets.discard(self.sock)
        self.sock.close()

    # --- one exchange -----------------------------------------------------------------------

    def send(self, data: bytes, timeout: float | None) -> None:
        """The whole request, in one send as a rule."""
        self.reusable = False
        self._awaiting_reply = True
        self.channel.send_all(data, timeout)

    def read_head(self, method: str, timeout: float | None) -> ReplyHead:
        self._read_timeout = timeout
        return self._reader.head(method)

    def read_body(self, head: ReplyHead) -> Iterator[bytes]:
        yield from self._reader.body(head)
        # Read to its end: reused only if the reply keeps the connection and left nothing.
        self.reusable = head.keep_alive and not self._reader.leftover

    def _receive(self) -> bytes:
        timeout = self._read_timeout
        if self._awaiting_reply and not self.channel.buffered():
            # Just sent: the reply cannot be there yet, so wait before trying.
            wait(self.sock, False, bounded(timeout))
        self._awaiting_reply = False
        return self.channel.receive(_RECEIVE_BYTES, timeout)


class OpenSockets:
    """The sockets a transport has open, so that another thread can interrupt them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def discard(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)

    def shut_down(self) -> None:
        """End every wait on the open sockets and fail their later reads and writes, without
        freeing a descriptor: each is closed by the thread that uses it."""
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


def connect_tcp(host: str, port: int, timeout: float | None,
                source: tuple[str, int] | None = None) -> socket.socket:
    """Resolve ``host`` and connect to its addresses in turn, all within the deadline
    (TimeoutError, or the last address's OSError)."""
    addresses = resolve_within(host, port, _finite(bounded(timeout)))
    failure: OSError = OSError(f"no address for {host}")
    for address in addresses:
        try:
            sock = socket.create_connection((address, port), timeout=bounded(timeout),
                                            source_address=source)
        except OSError as exc:  # a timeout too: the next address may answer
            failure = exc
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    raise failure


class DeadlineTransport(httpx.BaseTransport):
    """httpx's transport: a pool of kept-alive connections, each request under its deadline.

    At most ``max_connections`` idle connections are kept (the session never has more
    requests on the wire than that).
    """

    def __init__(self, context: ssl.SSLContext, *, max_connections: int) -> None:
        self._context = context
        self._most_idle = max_connections
        self._idle: list[Connection] = []  # the most recently used last
        self._lock = threading.Lock()
        self._closed = False
        self.sockets = OpenSockets()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.scheme
        if scheme not in _DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"Request URL has an unsupported protocol "
                                            f"'{scheme}://'.")
        origin = (scheme, url.raw_host.decode("ascii"), url.port or _DEFAULT_PORTS[scheme])
        timeouts = request.extensions.get("timeout") or {}
        trace: Trace | None = request.extensions.get("trace")
        try:
            data = request_bytes(request.method, url.raw_path, request.headers.raw,
                                 request.read())
        except RequestFault as exc:
            raise httpx.LocalProtocolError(str(exc)) from exc
        connection = self._idle_connection(origin)
        if connection is None:
            connection = self._connect(origin, timeouts, trace)
        try:
            try:
                with _step(trace, "http11.send_request_headers", request=request):
                    _sending(connection, data, timeouts.get("write"))
            except httpx.WriteError:
                # A server may close its end before reading the request and still have said
                # why (a TLS alert refusing our certificate, an error reply): read it.
                pass
            with _step(trace, "http11.send_request_body", request=request):
                pass  # sent with the head
            with _step(trace, "http11.receive_response_headers", request=request) as step:
                head = _receiving(connection.read_head, request.method, timeouts.get("read"))
                step.result = (head.version, head.status, head.reason, head.headers)
        except BaseException:
            connection.close()
            raise
        return httpx.Response(
            head.status,
            headers=head.headers,
            stream=_ReplyBody(self, connection, head, trace, request),
            extensions={"http_version": head.version, "reason_phrase": head.reason,
                        "network_stream": connection},
        )

    def close(self) -> None:
        """Close every idle connection; the ones in use close as their replies end."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def interrupt(self) -> None:
        """Cut off every connection in use, from any thread, without closing one under it."""
        self.sockets.shut_down()

    # --- the pool ---------------------------------------------------------------------------

    def _idle_connection(self, origin: Origin) -> Connection | None:
        """A kept-alive connection to ``origin`` with nothing waiting on it, if there is one;
        those gone stale on the way are closed."""
        while True:
            with self._lock:
                found = next((n for n in range(len(self._idle) - 1, -1, -1)
                              if self._idle[n].origin == origin), None)
                if found is None:
                    return None
                connection = self._idle.pop(found)
            fresh = time.monotonic() - connection.idle_since < KEEPALIVE_SECONDS
            if fresh and not connection.holds_bytes():
                return connection
            connection.close()

    def give_back(self, connection: Connection) -> None:
        """A connection whose reply has ended: kept for the next request, or closed."""
        if connection.reusable:
            connection.idle_since = time.monotonic()
            with self._lock:
                if not self._closed and len(self._idle) < self._most_idle:
                    self._idle.append(connection)
                    return
        connection.close()

    def _connect(self, origin: Origin, timeouts: Mapping[str, float | None],
                 trace: Trace | None) -> Connection:
        scheme, host, port = origin
        timeout = timeouts.get("connect")
        with _step(trace, "connection.connect_tcp", host=host, port=port) as step:
            try:
                sock = connect_tcp(host, port, timeout)
            except TimeoutError as exc:
                raise httpx.ConnectTimeout(str(exc) or "timed out") from exc
            except OSError as exc:
                raise httpx.ConnectError(str(exc)) from exc
            connection = Connection(origin, PlainChannel(sock), self.sockets)
            step.result = connection
        if scheme != "https":
            return connection
        with _step(trace, "connection.start_tls", server_hostname=host) as step:
            try:
                channel = TlsChannel.handshake(sock, self._context, host, timeout)
            except TimeoutError as exc:
                connection.close()
                raise httpx.ConnectTimeout(str(exc) or "timed out") from exc
            except OSError as exc:  # ssl.SSLError included
                connection.close()
                raise httpx.ConnectError(str(exc)) from exc
            connection.channel = channel
            step.result = connection
        return connection


class _ReplyBody(httpx.SyncByteStream):
    """A reply's body as it arrives; its connection goes back to the pool when it is closed."""

    def __init__(self, transport: DeadlineTransport, connection: Connection, head: ReplyHead,
                 trace: Trace | None, request: httpx.Request) -> None:
        self._transport = transport
        self._connection: Connection | None = connection
        self._head = head
        self._trace = trace
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        connection = self._connection
        if connection is None:
            return
        with _step(self._trace, "http11.receive_response_body", request=self._request):
            pieces = connection.read_body(self._head)
            while (piece := _receiving(next, pieces, None)) is not None:
                if piece:
                    yield piece

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        with _step(self._trace, "http11.response_closed"):
            self._transport.give_back(connection)


def _sending(connection: Connection, data: bytes, timeout: float | None) -> None:
    try:
        connection.send(data, timeout)
    except TimeoutError as exc:
        raise httpx.WriteTimeout(str(exc) or "timed out") from exc
    except OSError as exc:
        raise httpx.WriteError(str(exc)) from exc


def _receiving(read: Callable[..., Any], *args: Any) -> Any:
    """``read(*args)``, its failures httpx's: a timeout, a read error, broken framing."""
    try:
        return read(*args)
    except TimeoutError as exc:
        raise httpx.ReadTimeout(str(exc) or "timed out") from exc
    except (FramingError, ProtocolFault, Dropped) as exc:
        raise httpx.RemoteProtocolError(str(exc)) from exc
    except OSError as exc:  # ssl.SSLError included
        raise httpx.ReadError(str(exc)) from exc


class _Step:
    """One traced step: ``result`` is what its ``.complete`` event carries."""

    __slots__ = ("result",)

    def __init__(self) -> None:
        self.result: Any = None


@contextlib.contextmanager
def _step(trace: Trace | None, name: str, **info: Any) -> Iterator[_Step]:
    """``name.started``, then ``name.complete`` (or ``name.failed``), as httpcore reports."""
    step = _Step()
    if trace is None:
        yield step
        return
    trace(f"{name}.started", info)
    try:
        yield step
    except BaseException as exc:
        trace(f"{name}.failed", {"exception": exc})
        raise
    trace(f"{name}.complete", {"return_value": step.result})


def _finite(timeout: float | None) -> float:
    return 3600.0 if timeout is None else timeout
