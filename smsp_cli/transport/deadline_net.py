"""The sockets under httpx, each operation bounded by the attempt's deadline.

httpcore's own sync backend gives every ``recv``/``send`` the full read or write timeout and
loops ``send`` with a fresh timeout each time, so a provider that drips its status line, its
headers, its chunk sizes or its TLS records a byte at a time keeps an attempt alive for ever.
This backend does the same work, but every operation first cuts its timeout to the time left
(:func:`smsp_cli.transport.deadline.bounded`) and none starts once the deadline has passed:

* DNS: ``getaddrinfo`` in a daemon thread, waited for at most the time left;
* TCP connect: each address with the time left;
* TLS handshake: one ``do_handshake`` call, which CPython bounds as a whole by the socket
  timeout (however the server splits its records);
* reads: one ``recv`` (one TLS record at most), tried at once on the non-blocking socket and,
  while it would block, after a ``poll`` of at most the time left;
* writes: ``send`` in a loop, likewise, each wait with the time left.

No stale bytes: a kept-alive connection is reused only if nothing is waiting on it. A reply
followed by bytes nobody asked for (a provider that sends one reply twice, or a body longer
than its Content-Length) would otherwise become the next request's answer: another row's
patient in a batch. Such bytes sit in one of three places, and each is looked at before the
pool hands the connection out again (:class:`StrictConnection`), so that the connection is
closed and never reused: h11's receive buffer (read with the reply, beyond its end), the TLS
layer's decrypted but unread bytes (``SSLSocket.pending``), and the socket itself (``poll``,
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
"""

from __future__ import annotations

import contextlib
import math
import re
import select
import socket
import ssl
import sys
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


class FramingRefused(httpcore.RemoteProtocolError):
    """A reply's framing broke a limit: its cause is the :class:`FramingError` saying which."""


class DeadlineStream(httpcore.NetworkStream):
    """A TCP or TLS socket whose every wait ends by the deadline in force.

    The socket is non-blocking once connected (and its TLS handshake done): each read or
    write is tried at once and, only when it would block, waited for with one ``poll`` of at
    most the time left. A socket timeout set before each operation would cost a system call
    (``ioctl FIONBIO``) every time, and CPython polls before every send on a socket with a
    timeout, ready or not; each system call releases the GIL, a chance for a batch's threads
    to hand off.

    A request head that declares a body is held until the body's write and sent with it, in
    one ``send`` (httpcore writes them apart): the same bytes on the wire, one system call
    (and one TLS record) fewer.
    """

    def __init__(self, sock: socket.socket, sockets: OpenSockets) -> None:
        sock.settimeout(0.0)  # non-blocking for good (start_tls sets the handshake's own)
        self._sock = sock
        self._sockets = sockets
        self._framing = ReplyFraming()
        self._held = b""  # a request head, waiting for its body
        self._requesting = False  # a request is being written (its reply not yet read)
        self._awaiting_reply = False  # the request is out and nothing of its reply read yet
        sockets.add(sock)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """At most ``max_bytes``, as soon as some arrive (and only if framed within limits)."""
        if self._held:
            self._send_held(timeout)
        self._requesting = False
        try:
            if self._awaiting_reply and not _decrypted_bytes_wait(self._sock):
                # Just sent: the reply cannot be there yet, so wait before trying.
                _wait(self._sock, False, bounded(timeout))
            self._awaiting_reply = False
            data = _receive(self._sock, max_bytes, timeout)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout(str(exc) or "timed out") from exc
        except OSError as exc:
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
            _send_all(self._sock, buffer, timeout)
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(str(exc) or "timed out") from exc
        except OSError as exc:
            raise httpcore.WriteError(str(exc)) from exc

    def _send_held(self, timeout: float | None) -> None:
        """A head whose body never came (it was empty): send it alone before the read."""
        held, self._held = self._held, b""
        try:
            _send_all(self._sock, held, timeout)
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
            self._sock.settimeout(bounded(timeout))
            wrapped = ssl_context.wrap_socket(self._sock, server_hostname=server_hostname)
        except TimeoutError as exc:
            self.close()
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except OSError as exc:  # ssl.SSLError included
            self.close()
            raise httpcore.ConnectError(str(exc)) from exc
        self._sockets.discard(self._sock)  # detached: its descriptor is the TLS socket's now
        return DeadlineStream(wrapped, self._sockets)

    def get_extra_info(self, info: str) -> Any:
        """What httpcore and the -v trace ask of a stream."""
        if info == "ssl_object" and isinstance(self._sock, ssl.SSLSocket):
            return self._sock._sslobj  # type: ignore[attr-defined]  # as httpcore's own backend
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
            return self._sock.fileno() == -1 or _decrypted_bytes_wait(self._sock)
        if info == "holds_bytes":
            return _readable(self._sock)
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
                return DeadlineStream(sock, self.sockets)
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
    sock = stream.get_extra_info("socket") if stream is not None else None
    return isinstance(sock, ssl.SSLSocket) and sock.pending() > 0


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
_WOULD_BLOCK = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


def _head_end(buffer: bytes) -> int:
    """Where the header section of ``buffer`` ends (0 when it holds no whole head)."""
    return max(buffer.find(b"\r\n\r\n"), 0)


def _receive(sock: socket.socket, max_bytes: int, timeout: float | None) -> bytes:
    """One ``recv``, tried at once and again after each wait it needs (each bounded)."""
    while True:
        bounded(timeout)  # none starts once the deadline has passed, even with bytes waiting
        try:
            return sock.recv(max_bytes)
        except _WOULD_BLOCK as exc:
            # TLS may need to write (a key update's reply) before it can read.
            _wait(sock, isinstance(exc, ssl.SSLWantWriteError), bounded(timeout))


def _send_all(sock: socket.socket, buffer: bytes, timeout: float | None) -> None:
    """Every byte of ``buffer``: ``send`` in a loop, waiting (bounded) only when it would block."""
    view = memoryview(buffer)
    while view:
        bounded(timeout)
        try:
            sent = sock.send(view)
        except _WOULD_BLOCK as exc:
            # Retried with the same bytes, as TLS requires after a write that would block.
            _wait(sock, not isinstance(exc, ssl.SSLWantReadError), bounded(timeout))
            continue
        view = view[sent:]


def _wait(sock: socket.socket, writing: bool, timeout: float | None) -> None:
    """Until ``sock`` is ready to read (or write), closed or failed; TimeoutError after
    ``timeout`` seconds (None: no limit)."""
    descriptor = sock.fileno()
    if descriptor == -1:
        raise OSError("the connection was closed")
    if sys.platform == "win32" or not hasattr(select, "poll"):
        reading, writes = ([], [descriptor]) if writing else ([descriptor], [])
        ready = any(select.select(reading, writes, [descriptor], timeout))
    else:
        poller = select.poll()
        poller.register(descriptor, select.POLLOUT if writing else select.POLLIN)
        # poll counts whole milliseconds: rounded up, so a wait never ends early in a loop.
        ready = bool(poller.poll(None if timeout is None else _milliseconds(timeout)))
    if not ready:
        raise TimeoutError("timed out")


def _milliseconds(timeout: float) -> int:
    """``timeout`` as poll counts it: whole milliseconds, rounded up (so that a wait never
    ends early and spins), at most what poll takes."""
    return min(math.ceil(timeout * 1000), 2**31 - 1)


def _decrypted_bytes_wait(sock: socket.socket) -> bool:
    """True when the TLS layer holds decrypted bytes, which ``poll`` cannot see."""
    return isinstance(sock, ssl.SSLSocket) and sock.pending() > 0


def _finite(timeout: float | None) -> float:
    return 3600.0 if timeout is None else timeout


def _readable(sock: socket.socket) -> bool:
    """True when an idle keep-alive socket has data or was closed (so it cannot be reused)."""
    descriptor = sock.fileno()
    if descriptor == -1:
        return True
    if isinstance(sock, ssl.SSLSocket) and sock.pending() > 0:
        return True  # decrypted bytes wait in the TLS layer, where poll cannot see them
    if sys.platform == "win32" or not hasattr(select, "poll"):
        ready, _, _ = select.select([descriptor], [], [], 0)
        return bool(ready)
    poller = select.poll()
    poller.register(descriptor, select.POLLIN)
    return bool(poller.poll(0))
