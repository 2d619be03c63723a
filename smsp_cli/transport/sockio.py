"""Reads and writes on a non-blocking socket, plain or TLS, each wait bounded by the deadline.

Every operation is tried at once; only when it would block is it waited for, with one
``poll`` of at most the time left (:func:`smsp_cli.transport.deadline.bounded`), and none
starts once the deadline has passed. A socket timeout set before each operation instead would
cost a system call each time (``ioctl FIONBIO``), and CPython polls before every send on a
socket with a timeout, ready or not: each system call releases the GIL, a chance for a batch's
threads to hand off.

TLS runs over memory buffers (``ssl.MemoryBIO``) rather than ``SSLSocket``: OpenSSL reading
the socket itself asks for a record's 5-byte header, then its body, two ``recv`` calls a
record; here one ``recv`` takes whatever has arrived (a whole reply, as a rule) and TLS
decrypts it from memory. The bytes on the wire are the same.
"""

from __future__ import annotations

import math
import select
import socket
import ssl
import sys
import time

from smsp_cli.transport.deadline import bounded

_RECEIVE_BYTES = 64 * 1024  # what one recv takes from the socket for TLS to decrypt
_WOULD_BLOCK = (BlockingIOError, InterruptedError)


class PlainChannel:
    """A TCP socket, non-blocking."""

    def __init__(self, sock: socket.socket) -> None:
        if sock.gettimeout() != 0.0:
            sock.settimeout(0.0)
        self.sock = sock

    def buffered(self) -> bool:
        """True when bytes of the peer's wait in memory, where ``poll`` cannot see them."""
        return False

    def receive(self, max_bytes: int, timeout: float | None) -> bytes:
        """At most ``max_bytes``, once some have arrived (b"" at the end of the stream)."""
        while True:
            bounded(timeout)  # none starts once the deadline has passed, even with bytes there
            try:
                return self.sock.recv(max_bytes)
            except _WOULD_BLOCK:
                wait(self.sock, False, bounded(timeout))

    def send_all(self, data: bytes, timeout: float | None) -> None:
        """Every byte of ``data``: ``send`` in a loop, waiting only when it would block."""
        view = memoryview(data)
        while view:
            bounded(timeout)
            try:
                sent = self.sock.send(view)
            except _WOULD_BLOCK:
                wait(self.sock, True, bounded(timeout))
                continue
            view = view[sent:]


class TlsChannel(PlainChannel):
    """TLS over a non-blocking TCP socket, through memory buffers (see the module's note)."""

    def __init__(self, sock: socket.socket, tls: ssl.SSLObject, incoming: ssl.MemoryBIO,
                 outgoing: ssl.MemoryBIO) -> None:
        super().__init__(sock)
        self.tls = tls
        self._incoming = incoming
        self._outgoing = outgoing

    @classmethod
    def handshake(cls, sock: socket.socket, context: ssl.SSLContext,
                  server_hostname: str | None, timeout: float | None) -> TlsChannel:
        """The client's handshake on ``sock``, within ``timeout`` (cut to the deadline) as a
        whole, however the server splits its records. TimeoutError or ssl.SSLError."""
        limit = bounded(timeout)
        ends = None if limit is None else time.monotonic() + limit
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = context.wrap_bio(incoming, outgoing, server_hostname=server_hostname)
        channel = cls(sock, tls, incoming, outgoing)
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                channel._flush(_left(ends))
                channel._fill(_left(ends))
            except ssl.SSLError:
                channel._flush_what_can_go()  # the alert that tells the server why
                raise
        channel._flush(_left(ends))  # our last flight (our certificate, Finished)
        return channel

    def buffered(self) -> bool:
        return self.tls.pending() > 0 or self._incoming.pending > 0

    def receive(self, max_bytes: int, timeout: float | None) -> bytes:
        while True:
            bounded(timeout)
            try:
                data = self.tls.read(max_bytes)
            except ssl.SSLWantReadError:
                self._flush(bounded(timeout))  # what TLS must say first (a key update's reply)
                self._fill(bounded(timeout))
                continue
            except ssl.SSLEOFError:
                return b""  # the connection ended without close_notify, as SSLSocket allows
            if self._outgoing.pending:
                self._flush(bounded(timeout))
            return data

    def send_all(self, data: bytes, timeout: float | None) -> None:
        view = memoryview(data)
        while view:
            bounded(timeout)
            try:
                written = self.tls.write(view)  # as a rule whole: the buffer takes every record
            except ssl.SSLWantReadError:  # TLS 1.2 renegotiation: the peer must speak first
                self._flush(bounded(timeout))
                self._fill(bounded(timeout))
                continue
            view = view[written:]
        self._flush(bounded(timeout))

    def _fill(self, timeout: float | None) -> None:
        """What has arrived on the socket, handed to TLS: after one wait, if nothing had (the
        caller tries again, with the time then left)."""
        try:
            data = self.sock.recv(_RECEIVE_BYTES)
        except _WOULD_BLOCK:
            wait(self.sock, False, timeout)
            try:
                data = self.sock.recv(_RECEIVE_BYTES)
            except _WOULD_BLOCK:
                return
        if data:
            self._incoming.write(data)
        else:
            self._incoming.write_eof()

    def _flush(self, timeout: float | None) -> None:
        """Everything TLS has to send, onto the socket."""
        if self._outgoing.pending:
            PlainChannel.send_all(self, self._outgoing.read(), timeout)

    def _flush_what_can_go(self) -> None:
        try:
            if self._outgoing.pending:
                self.sock.send(self._outgoing.read())
        except OSError:
            pass  # a failed handshake is reported for its own cause


def _left(ends: float | None) -> float | None:
    """Seconds until ``ends`` (None: no end); TimeoutError once it has passed."""
    if ends is None:
        return None
    left = ends - time.monotonic()
    if left <= 0:
        raise TimeoutError("the TLS handshake timed out")
    return left


def wait(sock: socket.socket, writing: bool, timeout: float | None) -> None:
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
        ready = bool(poller.poll(None if timeout is None else _milliseconds(timeout)))
    if not ready:
        raise TimeoutError("timed out")


def readable_now(sock: socket.socket) -> bool:
    """True when the socket has bytes or its end was closed (one poll, no wait)."""
    descriptor = sock.fileno()
    if descriptor == -1:
        return True
    if sys.platform == "win32" or not hasattr(select, "poll"):
        ready, _, _ = select.select([descriptor], [], [], 0)
        return bool(ready)
    poller = select.poll()
    poller.register(descriptor, select.POLLIN)
    return bool(poller.poll(0))


def _milliseconds(timeout: float) -> int:
    """``timeout`` as poll counts it: whole milliseconds, rounded up (so that a wait never
    ends early and spins), at most what poll takes."""
    return min(math.ceil(timeout * 1000), 2**31 - 1)
