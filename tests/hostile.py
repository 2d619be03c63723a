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

Adding a behaviour is adding a function that returns a :class:`Behaviour`; the builders below
(:func:`http_reply`, :func:`encode`, :func:`patient_reply`...) cover the parts.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import ssl
import threading
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smsp_cli.results import Patient
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
    """What the provider does on every connection: its handshake pace and its reply."""

    parts: tuple[Part, ...]
    handshake: Pace | None = None
    name: str = ""


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
    behaviour: Behaviour = field(default_factory=lambda: ok_reply())
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        from smsp_cli.sandbox.server import server_context

        self._context = server_context(self.credentials)
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
        from smsp_cli.sandbox.embedded import settings_for
        from smsp_cli.settings.connection import KEYS

        values = settings_for(self.url, self.credentials) | {"kind": "test"}
        return {KEYS[key][1]: value for key, value in values.items()}

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
            request = channel.read_request()
            with self._lock:
                self.requests.append(request)
            for part in behaviour.parts:
                channel.send(part)


# --- Builders -----------------------------------------------------------------------------------


def http_reply(
    body: bytes,
    *,
    status: str = "200 OK",
    headers: Sequence[tuple[str, str]] = (("Content-Type", "text/xml; charset=utf-8"),),
) -> bytes:
    """A whole HTTP/1.1 response with Content-Length, closing the connection."""
    lines = [f"HTTP/1.1 {status}", *(f"{name}: {value}" for name, value in headers)]
    lines += [f"Content-Length: {len(body)}", "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def encode(body: bytes, codings: Sequence[str]) -> bytes:
    """``body`` encoded with each coding in turn (as Content-Encoding lists them)."""
    for coding in codings:
        if coding == "gzip":
            body = gzip.compress(body, mtime=0)
        elif coding == "deflate":
            body = zlib.compress(body)
        elif coding == "br":
            import brotli  # type: ignore[import-untyped, unused-ignore]

            body = brotli.compress(body)
        elif coding == "zstd":
            import zstandard  # type: ignore[import-untyped, unused-ignore]

            body = zstandard.ZstdCompressor().compress(body)
        else:
            raise ValueError(coding)
    return body


def patient_reply(patient: Patient | None = None, *, code: str = "SMSP-0000") -> bytes:
    """A valid getPatientDetailsResponse envelope (the sandbox's own builder)."""
    from smsp_cli import operations
    from smsp_cli.sandbox.builtin import BUILT_IN
    from smsp_cli.sandbox.matching import Answer
    from smsp_cli.sandbox.responses import business_reply

    chosen = patient or BUILT_IN[0].patient
    return business_reply(operations.GET, Answer(code, chosen))


def huge_patient_reply(given_length: int = 8_000_000, addresses: int = 3000) -> bytes:
    """A legal getPatientDetailsResponse just under the body cap: a huge name, many addresses."""
    from copy import deepcopy

    from lxml import etree

    from smsp_cli.sandbox.builtin import BUILT_IN

    patient = replace(BUILT_IN[0].patient, given_names=("G" * given_length,))
    root = etree.fromstring(patient_reply(patient), etree.XMLParser(huge_tree=True))
    holder = root.find(".//{urn:hl7-org:v3}subject/{urn:hl7-org:v3}patient")
    assert holder is not None
    found = holder.findall("{urn:hl7-org:v3}addr")
    first = found[0]
    parent = first.getparent()
    assert parent is not None
    for _ in range(addresses - len(found)):
        parent.insert(parent.index(first), deepcopy(first))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def huge_reply() -> Behaviour:
    """:func:`huge_patient_reply`, at once."""
    return Behaviour((Part(http_reply(huge_patient_reply())),), name="huge")


# Legal in XML 1.0 and hostile on a terminal: the 8-bit CSI and NEL (C1), DEL, bidi overrides
# and isolates, rich markup and XML markup (escaped on the wire, text once parsed).
HOSTILE_TEXT = "\x9b31m[bold red]<b>\u202eevil\u2066x\u2069\x85\x7f[/]"


def hostile_patient() -> Patient:
    """The built-in patient with :data:`HOSTILE_TEXT` in every text field."""
    from smsp_cli.results import Address, GpPractice, Telecom
    from smsp_cli.sandbox.builtin import BUILT_IN

    evil = HOSTILE_TEXT
    address = Address("home", (f"1 {evil} Street", evil), f"BO1{evil}")
    return replace(
        BUILT_IN[0].patient,
        title=evil,
        given_names=(evil, f"Mary{evil}"),
        family_name=f"Fair{evil}weather",
        addresses=(address,),
        telecoms=(Telecom("home", f"tel:{evil}"),),
        gp_practice=GpPractice(f"Y1{evil}", f"Surgery {evil}", address, f"tel:{evil}"),
    )


def hostile_text_reply() -> Behaviour:
    """A valid reply with escapes, markup and bidi in every field."""
    return Behaviour((Part(http_reply(patient_reply(hostile_patient()))),), name="hostile text")


# What a careless provider echoes back: the patient's NHS number and date of birth.
ECHOED = "NHS number 9434765919 (943 476 5919), date of birth 1984-03-14 (14/03/1984)"


def fault_echoing_the_patient() -> Behaviour:
    """A SOAP fault 1000 whose ErrorText and diagnostic echo the patient's identifiers."""
    from smsp_cli.sandbox.responses import fault_reply

    body = fault_reply("1000", f"Invalid request for {ECHOED}", diagnostic=ECHOED)
    return Behaviour(
        (Part(http_reply(body, status="500 Internal Server Error")),), name="fault echo"
    )


def http_body_echoing_the_patient() -> Behaviour:
    """A plain-text HTTP 503 whose body echoes the patient's identifiers."""
    headers = (("Content-Type", "text/plain; charset=utf-8"),)
    body = f"Service unavailable while looking up {ECHOED}".encode()
    return Behaviour(
        (Part(http_reply(body, status="503 Service Unavailable", headers=headers)),),
        name="body echo",
    )


def ok_reply() -> Behaviour:
    """A well-behaved provider: one valid reply, at once."""
    return Behaviour((Part(http_reply(patient_reply())),), name="ok")


def encoded_reply(codings: Sequence[str]) -> Behaviour:
    """A valid reply, compressed with ``codings`` whatever the request asked for."""
    body = encode(patient_reply(), codings)
    headers = (("Content-Type", "text/xml"), ("Content-Encoding", ", ".join(codings)))
    return Behaviour((Part(http_reply(body, headers=headers)),), name="encoded")


@cache
def gzip_bomb(inflated: int = 2 << 30) -> bytes:
    """``gzip, gzip``: a few KiB that inflate to ``inflated`` bytes of zeros."""
    inner = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    zeros = bytes(1 << 24)
    pieces = [inner.compress(zeros) for _ in range(inflated // len(zeros))]
    pieces.append(inner.flush())
    return gzip.compress(b"".join(pieces), compresslevel=9, mtime=0)


def bomb_reply() -> Behaviour:
    """A 2 GiB gzip bomb, doubly gzipped so it travels in a few KiB."""
    headers = (("Content-Type", "text/xml"), ("Content-Encoding", "gzip, gzip"))
    return Behaviour((Part(http_reply(gzip_bomb(), headers=headers)),), name="bomb")


# Drips never end on their own: each lasts far longer than any deadline a test sets.
_ENDLESS = 10_000


def drip_status_line(pace: Pace = Pace()) -> Behaviour:
    """The status line one byte at a time (a long reason phrase)."""
    return Behaviour((Part(b"HTTP/1.1 200 " + b"O" * _ENDLESS, pace=pace),), name="status")


def drip_headers(pace: Pace = Pace()) -> Behaviour:
    """The status line at once, then a header one byte at a time."""
    return Behaviour(
        (Part(b"HTTP/1.1 200 OK\r\n"), Part(b"X-Drip: " + b"d" * _ENDLESS, pace=pace)),
        name="headers",
    )


def drip_body(pace: Pace = Pace()) -> Behaviour:
    """Headers at once, then the body one byte at a time."""
    head = f"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {_ENDLESS}\r\n\r\n"
    return Behaviour((Part(head.encode()), Part(b" " * _ENDLESS, pace=pace)), name="body")


def drip_chunk_sizes(pace: Pace = Pace(every=0.15)) -> Behaviour:
    """A chunked body of one-byte chunks whose size lines trickle in."""
    head = Part(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunks = [part for _ in range(_ENDLESS) for part in (Part(b"1\r\n", pace=pace), Part(b" \r\n"))]
    return Behaviour((head, *chunks), name="chunk sizes")


def drip_tls_records(pace: Pace = Pace(every=0.05)) -> Behaviour:
    """A valid reply in one TLS record whose bytes trickle onto the wire."""
    return Behaviour((Part(http_reply(patient_reply()), records=pace),), name="tls records")


def drip_tls_handshake(pace: Pace = Pace(every=0.05)) -> Behaviour:
    """The server's handshake flight one byte at a time."""
    return replace(ok_reply(), handshake=pace, name="tls handshake")


def drips() -> list[Behaviour]:
    """Every phase dripped."""
    return [
        drip_tls_handshake(),
        drip_status_line(),
        drip_headers(),
        drip_body(),
        drip_chunk_sizes(),
        drip_tls_records(),
    ]


@contextlib.contextmanager
def provider(credentials: SandboxCredentials) -> Iterator[HostileProvider]:
    """A running hostile provider."""
    with HostileProvider(credentials) as running:
        yield running
