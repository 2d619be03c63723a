"""A hostile SMSP provider for tests: real mutual TLS on 127.0.0.1, scripted raw replies.

It trusts the sandbox's throwaway CA and client certificate, so smsp reaches it exactly as it
reaches a real provider. What it sends on each connection is a :class:`Behaviour`: the raw
bytes of its reply in :class:`Part` s, each sent at once or dripped. Two kinds of drip:

* ``pace``: the plain bytes a few at a time, each piece its own TLS record (a status line,
  headers, body or chunk sizes that trickle in);
* ``records``: the part's TLS records sent whole to the TLS layer, but their ciphertext
  trickling onto the wire (a TLS record that never quite arrives).

``Behaviour.handshake`` drips the server's TLS handshake flight the same way. TLS runs on
memory buffers (``ssl.MemoryBIO``), so every byte on the wire is the script's to time.

Adding a behaviour is adding a function that returns a :class:`Behaviour` to
``tests/hostile_behaviours.py``, where builders (``http_reply``, ``encode``, ``patient_reply``...)
cover the parts.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smsp_cli.sandbox.certs import SandboxCredentials


@dataclass(frozen=True)
class Pace:
    """``size`` bytes, then a pause of ``every`` seconds, until the part is sent."""

    every: float = 0.3
    size: int = 1


@dataclass(frozen=True)
class Part:
    """Raw bytes of the reply, sent at once, dripped as plain text, or dripped as TLS."""

    data: bytes
    pace: Pace | None = None  # each piece its own TLS record
    records: Pace | None = None  # one write, its ciphertext dripped


@dataclass(frozen=True)
class Behaviour:
    """What the provider does on every connection: its handshake pace and its reply.

    With ``respond``, the connection is kept alive: every request on it is answered with the
    raw bytes ``respond`` makes of it (``parts`` unused), until the client closes it.
    """

    parts: tuple[Part, ...]
    handshake: Pace | None = None
    name: str = ""
    respond: Callable[[bytes], bytes] | None = None


class _Stopped(Exception):
    """The provider is shutting down."""


class Channel:
    """One server-side TLS connection over memory buffers: every byte's timing is ours."""

    def __init__(self, sock: socket.socket, context: ssl.SSLContext, stop: threading.Event):
        self._sock = sock
        self._stop = stop
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)

    def handshake(self, pace: Pace | None) -> None:
        """Complete the TLS handshake, the server's flights sent at ``pace``."""
        while True:
            try:
                self._tls.do_handshake()
            except ssl.SSLWantReadError:
                self._flush(pace)
                self._fill()
                continue
            self._flush(pace)
            return

    def read_request(self) -> bytes:
        """The request's head and body (Content-Length), as received."""
        data = b""
        while b"\r\n\r\n" not in data:
            data += self._read()
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            body += self._read()
        return head + b"\r\n\r\n" + body

    def send(self, part: Part) -> None:
        """Send one part of the reply as it says."""
        if part.pace is None:
            self._tls.write(part.data)
            self._flush(part.records)
            return
        step = part.pace.size
        for start in range(0, len(part.data), step):
            self._tls.write(part.data[start : start + step])
            self._flush(part.records)
            self._wait(part.pace.every)

    def _read(self) -> bytes:
        while True:
            try:
                chunk = self._tls.read(65536)
            except ssl.SSLWantReadError:
                self._flush(None)
                self._fill()
                continue
            if not chunk:
                raise ConnectionError("the client closed the connection")
            return chunk

    def _fill(self) -> None:
        chunk = self._sock.recv(65536)
        if not chunk:
            raise ConnectionError("the client closed the connection")
        self._incoming.write(chunk)

    def _flush(self, pace: Pace | None) -> None:
        data = self._outgoing.read()
        if pace is None:
            self._sock.sendall(data)
            return
        for start in range(0, len(data), pace.size):
            self._sock.sendall(data[start : start + pace.size])
            self._wait(pace.every)

    def _wait(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise _Stopped


@dataclass
class HostileProvider:
    """A provider on 127.0.0.1 that answers every connection with :attr:`behaviour`."""

    credentials: SandboxCredentials
    behaviour: Behaviour = field(default_factory=lambda: _ok_reply())
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    # PDS FHIR clients present no certificate: such a provider asks for none.
    client_certificates: bool = True

    def __post_init__(self) -> None:
        import ssl

        from smsp_cli.sandbox.server import server_context

        self._context = server_context(self.credentials)
        if not self.client_certificates:
            self._context.verify_mode = ssl.CERT_NONE
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="hostile", daemon=True)

    @property
    def url(self) -> str:
        """The endpoint smsp is pointed at."""
        return f"https://127.0.0.1:{self._listener.getsockname()[1]}/smsp/pds"

    def env(self) -> dict[str, str]:
        """SMSP_* variables that point smsp here with the sandbox's client certificate."""
        from smsp_cli.sandbox.embedded import variables_for

        return variables_for(self.url, self.credentials) | {"SMSP_KIND": "test"}

    def serve(self, behaviour: Behaviour) -> HostileProvider:
        """Answer every connection from now on with ``behaviour``."""
        with self._lock:
            self.behaviour = behaviour
            self.connections = 0
            self.requests = []
        return self

    def __enter__(self) -> HostileProvider:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                behaviour = self.behaviour
            threading.Thread(
                target=self._answer, args=(sock, behaviour), name="hostile-conn", daemon=True
            ).start()

    def _answer(self, sock: socket.socket, behaviour: Behaviour) -> None:
        sock.settimeout(30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with contextlib.closing(sock), contextlib.suppress(_Stopped, OSError, ValueError):
            channel = Channel(sock, self._context, self._stop)
            channel.handshake(behaviour.handshake)
            while True:
                request = channel.read_request()
                with self._lock:
                    self.requests.append(request)
                if behaviour.respond is None:
                    for part in behaviour.parts:
                        channel.send(part)
                    return
                channel.send(Part(behaviour.respond(request)))


@contextlib.contextmanager
def provider(credentials: SandboxCredentials) -> Iterator[HostileProvider]:
    """A running hostile provider."""
    with HostileProvider(credentials) as running:
        yield running


def _ok_reply() -> Behaviour:
    from tests.lib.hostile_behaviours import ok_reply

    return ok_reply()
