"""The sockets under httpx, each operation bounded by the attempt's deadline.

httpcore's own sync backend gives every ``recv``/``send`` the full read or write timeout and
loops ``send`` with a fresh timeout each time, so a provider that drips its status line, its
headers, its chunk sizes or its TLS records a byte at a time keeps an attempt alive for ever.
This backend does the same work, but every operation first cuts its timeout to the time left
(:func:`smsp_cli.transport.deadline.bounded`) and none starts once the deadline has passed:

* DNS: ``getaddrinfo`` in a daemon thread, waited for at most the time left;
* TCP connect: each address with the time left;
* TLS handshake: bounded as a whole by the connect timeout (however the server splits its
  records);
* reads and writes: tried at once on the non-blocking socket and, while one would block,
  again after a ``poll`` of at most the time left (:mod:`smsp_cli.transport.sockio`, which
  also runs TLS over memory buffers: one ``recv`` a reply, not two a TLS record).

No stale bytes: a kept-alive connection is reused only if nothing is waiting on it. A reply
followed by bytes nobody asked for (a provider that sends one reply twice, or a body longer
than its Content-Length) would otherwise become the next request's answer: another row's
patient in a batch. Such bytes sit in one of three places, and each is looked at before the
pool hands the connection out again (:class:`StrictConnection`), so that the connection is
closed and never reused: h11's receive buffer (read with the reply, beyond its end), the TLS
layer's buffers (bytes received but not yet asked for), and the socket itself (``poll``,
once, when the connection is handed to a request: not for every idle connection each time
the pool assigns one, as httpcore would).

Framing: every byte a stream reads is first followed by :class:`~smsp_cli.transport.framing.
ReplyFraming`, which refuses a head, chunk-size line or trailers over its limits, a status line
that is not HTTP/1.x and an unasked-for 101, before h11 buffers any of it
(:class:`FramingRefused`, which httpx passes on as a RemoteProtocolError).

Stopping from another thread: a batch that stops cuts off the calls still in flight. Closing
their sockets from the stopping thread would free each descriptor number while a worker thread
may still be about to read or write it; the next file opened (the audit trail's) takes the
number, and that worker's TLS bytes land in the file. :meth:`DeadlineBackend.interrupt` shuts
the sockets down instead: every wait on them ends at once and every later read or write fails,
while each descriptor stays the socket's until the thread using it closes it.

Only :mod:`smsp_cli.transport.http` imports this module (it imports httpx and httpcore).
Its ``ssl_object`` (for the -v trace and the server certificate) is an ``ssl.SSLObject``.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from smsp_cli.transport.deadline import bounded
from smsp_cli.transport.framing import FramingError, ReplyFraming
from smsp_cli.transport.netaddr import resolve_within
from smsp_cli.transport.sockio import PlainChannel, TlsChannel, readable_now, wait


class FramingRefused(httpcore.RemoteProtocolError):
    """A reply's framing broke a limit: its cause is the :class:`FramingError` saying which."""


class DeadlineStream(httpcore.NetworkStream):
    """A TCP or TLS connection whose every wait ends by the deadline in force.

    Its socket is non-blocking, each wait a ``poll`` of at most the time left
    (:mod:`smsp_cli.transport.sockio`). A request head that declares a body is held until the
    body's write and sent with it, in one ``send`` (httpcore writes them apart): the same
    bytes on the wire, one system call (and one TLS record) fewer.
    """

    def __init__(self, channel: PlainChannel, sockets: OpenSockets) -> None:
        self._channel = channel
        self._sock = channel.sock
        self._sockets = sockets
        self._framing = ReplyFraming()
        self._held = b""  # a request head, waiting for its body
        self._requesting = False  # a request is being written (its reply not yet read)
        self._awaiting_reply = False  # the request is out and nothing of its reply read yet
        sockets.add(self._sock)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """At most ``max_bytes``, as soon as some arrive (and only if framed within limits)."""
        if self._held:
            self._send_held(timeout)
        self._requesting = False
        try:
            if self._awaiting_reply and not self._channel.buffered():
                # Just sent: the reply cannot be there yet, so wait before trying.
                wait(self._sock, False, bounded(timeout))
            self._awaiting_reply = False
            data = self._channel.receive(max_bytes, timeout)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout(str(exc) or "timed out") from exc
        except OSError as exc:  # ssl.SSLError included
            raise httpcore.ReadError(str(exc)) from exc
        try:
            self._framing.received(data)
        except FramingError as exc:
            raise FramingRefused(str(exc)) from exc
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """All of ``buffer``; each wait for the socket lasts only for the time left."""
        self._framing.request_sent()  # h11 writes a request whole before reading its reply
        head = not self._requesting
        self._requesting = self._awaiting_reply = True
        if not buffer:
            return
        try:
            if head and _DECLARES_A_BODY.search(buffer, 0, _head_end(buffer)):
                bounded(timeout)  # the deadline may have passed already: then nothing is held
                self._held = bytes(buffer)
                return
            if self._held:
                buffer, self._held = self._held + buffer, b""
            self._channel.send_all(buffer, timeout)
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(str(exc) or "timed out") from exc
        except OSError as exc:
            raise httpcore.WriteError(str(exc)) from exc

    def _send_held(self, timeout: float | None) -> None:
        """A head whose body never came (it was empty): send it alone before the read."""
        held, self._held = self._held, b""
        try:
            self._channel.send_all(held, timeout)
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(str(exc) or "timed out") from exc
        except OSError as exc:
            raise httpcore.WriteError(str(exc)) from exc

    def close(self) -> None:
        """Close the socket."""
        self._sockets.discard(self._sock)
        self._sock.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        """The TLS handshake, bounded as a whole."""
        try:
            channel = TlsChannel.handshake(self._sock, ssl_context, server_hostname, timeout)
        except TimeoutError as exc:
            self.close()
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except OSError as exc:  # ssl.SSLError included
            self.close()
            raise httpcore.ConnectError(str(exc)) from exc
        return DeadlineStream(channel, self._sockets)  # the same socket, now carrying TLS

    def get_extra_info(self, info: str) -> Any:
        """What httpcore and the -v trace ask of a stream."""
        if info == "ssl_object":
            return self._channel.tls if isinstance(self._channel, TlsChannel) else None
        if info == "client_addr":
            return self._sock.getsockname()
        if info == "server_addr":
            return self._sock.getpeername()
        if info == "socket":
            return self._sock
        if info == "is_readable":
            # httpcore asks this of every idle connection each time its pool assigns one, a
            # poll each (most of the polls a batch made): only what is known without a system
            # call is said here; StrictConnection polls the one connection it hands out.
            return self._sock.fileno() == -1 or self._channel.buffered()
        if info == "tls_buffered":
            return self._channel.buffered()
        if info == "holds_bytes":
            return self._channel.buffered() or readable_now(self._sock)
        return None


class OpenSockets:
    """The sockets a backend has open, so that another thread can interrupt them."""

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
                # The plain socket's own shutdown: SSLSocket.shutdown would also drop its TLS
                # state under a thread that may be inside a read of it.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


class DeadlineBackend(httpcore.NetworkBackend):
    """Opens :class:`DeadlineStream` connections."""

    def __init__(self) -> None:
        self.sockets = OpenSockets()

    def interrupt(self) -> None:
        """Cut off every connection from any thread (see the module's note on stopping)."""
        self.sockets.shut_down()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        """Resolve ``host`` and connect to its addresses in turn, all within the deadline."""
        source = None if local_address is None else (local_address, 0)
        try:
            addresses = resolve_within(host, port, _finite(bounded(timeout)))
            failure: OSError = OSError(f"no address for {host}")
            for address in addresses:
                try:
                    sock = socket.create_connection(
                        (address, port), timeout=bounded(timeout), source_address=source
                    )
                except OSError as exc:  # a timeout too: the next address may answer
                    failure = exc
                    continue
                for option in socket_options or ():
                    sock.setsockopt(*option)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return DeadlineStream(PlainChannel(sock), self.sockets)
            raise failure
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc

    def sleep(self, seconds: float) -> None:
        """httpcore's retry pause (smsp sets no httpcore retries)."""
        time.sleep(seconds)


class StrictConnection(httpcore.HTTPConnection):
    """An HTTP/1.1 connection that expires the moment it holds bytes nobody asked for."""

    def has_expired(self) -> bool:
        """Expired as httpcore decides, or idle with unread bytes after the last reply."""
        return super().has_expired() or (self.is_idle() and holds_unread_bytes(self))

    def handle_request(self, request: httpcore.Request) -> httpcore.Response:
        """The request on this connection, unless it went stale while idle: then closed, and
        the pool gives the request another (``ConnectionNotAvailable`` is how it learns to)."""
        if self._went_stale():
            raise httpcore.ConnectionNotAvailable()
        return super().handle_request(request)

    def _went_stale(self) -> bool:
        """Idle and holding bytes after its last reply (or closed by the server, whose end
        reads as bytes): if so, closed here. Judged under the connection's own state lock,
        so that no other thread can start a request on it meanwhile."""
        inner = getattr(self, "_connection", None)
        if inner is None:
            return False  # not connected yet: nothing can be waiting
        lock = getattr(inner, "_state_lock", None)
        with lock if lock is not None else contextlib.nullcontext():
            if not inner.is_idle():
                return False  # another request has it (httpcore refuses this one itself)
            stream = getattr(inner, "_network_stream", None)
            stale = holds_unread_bytes(self) or stream is None or bool(
                stream.get_extra_info("holds_bytes"))
            if stale:
                inner.close()  # unlocked in httpcore: closed before another thread can use it
        return stale


def holds_unread_bytes(connection: httpcore.HTTPConnection) -> bool:
    """True when bytes beyond the last reply's end wait in h11's buffer or the TLS layer.

    httpcore keeps its HTTP/1.1 state private; if a future version moves it, this answers
    True (no reuse) rather than risk giving one request another's reply.
    """
    inner = getattr(connection, "_connection", None)
    if inner is None:
        return False
    state = getattr(inner, "_h11_state", None)
    trailing = getattr(state, "trailing_data", None)
    if not isinstance(trailing, tuple) or not trailing or not isinstance(trailing[0], bytes):
        return True
    if trailing[0]:
        return True
    stream = getattr(inner, "_network_stream", None)
    return stream is not None and bool(stream.get_extra_info("tls_buffered"))


class _StrictPool(httpcore.ConnectionPool):
    """httpx's pool, its connections :class:`StrictConnection` s."""

    def create_connection(self, origin: httpcore.Origin) -> httpcore.ConnectionInterface:
        return StrictConnection(
            origin=origin,
            ssl_context=self._ssl_context,
            keepalive_expiry=self._keepalive_expiry,
            http1=self._http1,
            http2=self._http2,
            retries=self._retries,
            local_address=self._local_address,
            uds=self._uds,
            network_backend=self._network_backend,
            socket_options=self._socket_options,
        )


class DeadlineTransport(httpx.HTTPTransport):
    """httpx's own transport, its connection pool on :class:`DeadlineBackend` sockets."""

    def __init__(self, context: ssl.SSLContext, *, max_connections: int) -> None:
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        super().__init__(verify=context, trust_env=False, limits=limits)
        # httpx offers no way to choose the network backend; its pool is rebuilt with ours,
        # configured as HTTPTransport configures it (HTTP/1.1, no proxy).
        self._backend = DeadlineBackend()
        self._pool = _StrictPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=self._backend,
        )

    def interrupt(self) -> None:
        """Cut off every connection in use, from any thread, without closing one under it."""
        self._backend.interrupt()


# A head of h11's, declaring a body to follow in the next write: Content-Length over zero.
_DECLARES_A_BODY = re.compile(rb"\r\ncontent-length:[ \t]*0*[1-9]", re.IGNORECASE)
def _head_end(buffer: bytes) -> int:
    """Where the header section of ``buffer`` ends (0 when it holds no whole head)."""
    return max(buffer.find(b"\r\n\r\n"), 0)


def _finite(timeout: float | None) -> float:
    return 3600.0 if timeout is None else timeout
