"""Low-level TLS probes for ``smsp doctor``: what the server does, in facts, not judgements.

Three things the standard library does not simply hand over, and how they are found:

* Whether the server accepted our client certificate. In TLS 1.3 the client finishes its
  handshake before the server has checked the client certificate, so a rejection only shows
  as an alert on the first read. :func:`handshake` therefore sends a one-line ``HEAD`` request
  and reads the first line of the answer: an alert there is the server's verdict.
* Whether the server asks for a client certificate, and which CA names it accepts. Python
  3.11's ``ssl`` does not expose the CertificateRequest message. In TLS 1.2 that message (and
  the server's certificate chain) travels in clear, so :func:`server_flight` lets ``ssl``
  write a TLS 1.2 ClientHello into a memory buffer, sends it, and reads the server's answer
  records itself, stopping at ServerHelloDone: nothing is ever sent on our behalf. A server
  that only speaks TLS 1.3 encrypts both, and then they are reported as not available.
* Whether the port speaks plain HTTP: :func:`plain_http_status` sends a ``HEAD`` in clear.

Certificates and names stay DER bytes here; :mod:`smsp_cli.diagnose` reads them.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import time
from dataclasses import replace

from smsp_cli.fastclasses import dataclass
from smsp_cli.transport.deadline import Deadline
from smsp_cli.transport.netaddr import is_ip

_HANDSHAKE_RECORD = 22
_ALERT_RECORD = 21
_CERTIFICATE = 11
_CERTIFICATE_REQUEST = 13
_SERVER_HELLO_DONE = 14
_MAX_FLIGHT_BYTES = 256 * 1024
# Seconds to wait for a TLS 1.3 server's verdict on our certificate: one round trip is enough.
VERDICT_WAIT = 2.0

# X.520 attribute types shown in CA names, as in RFC 4514.
_NAME_ATTRIBUTES = {
    "2.5.4.3": "CN",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "1.2.840.113549.1.9.1": "emailAddress",
    "0.9.2342.19200300.100.1.25": "DC",
}
_STRING_CODECS = {
    0x0C: "utf-8",
    0x13: "latin-1",
    0x14: "latin-1",
    0x16: "latin-1",
    0x1E: "utf-16-be",
}


@dataclass(frozen=True)
class Handshake:
    """One full handshake with our settings, and the server's first answer line."""

    version: str | None = None
    cipher: str | None = None
    peer_der: bytes | None = None  # the server's certificate
    chain_der: tuple[bytes, ...] | None = None  # None: this Python does not expose the chain
    answer: str | None = None  # e.g. "HTTP/1.1 405 Method Not Allowed"
    error: BaseException | None = None
    stage: str = "connect"  # where it stopped: connect, handshake, probe or done
    seconds: float = 0.0  # how long the handshake itself took


@dataclass(frozen=True)
class ServerFlight:
    """What a server sent in clear after a TLS 1.2 ClientHello."""

    chain_der: tuple[bytes, ...]  # the certificates as the server sent them, leaf first
    asks_for_certificate: bool  # a CertificateRequest was in the flight
    ca_names: tuple[str, ...]  # the distinguished names it named as acceptable issuers


def handshake(
    address: tuple[str, int],
    server_hostname: str,
    context: ssl.SSLContext,
    *,
    timeout: float,
    probe_request: bytes | None = None,
    budget: float | None = None,
) -> Handshake:
    """Connect, shake hands and, with ``probe_request``, send it and read one answer line.

    Every socket operation waits at most ``timeout``, and all of them together at most
    ``budget`` seconds (default ``timeout``): a server that drips cannot stretch the probe.
    """
    limit = Deadline.after(timeout if budget is None else budget)
    try:
        raw = socket.create_connection(address, timeout=limit.bound(timeout))
    except OSError as exc:  # TimeoutError included
        return Handshake(error=exc, stage="connect")
    with contextlib.closing(raw):
        started = time.perf_counter()
        try:
            # One do_handshake call: CPython bounds it as a whole by the socket timeout.
            raw.settimeout(limit.bound(timeout))
            tls = context.wrap_socket(raw, server_hostname=server_hostname)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            return Handshake(error=exc, stage="handshake")
        with contextlib.closing(tls):
            session = replace(_session(tls), seconds=time.perf_counter() - started)
            if probe_request is None:
                return session
            rejection = _tls13_verdict(tls, max(min(timeout, VERDICT_WAIT, limit.remaining()), 0))
            if rejection is not None:
                return replace(session, error=rejection, stage="probe")
            try:
                tls.settimeout(limit.bound(timeout))
                tls.sendall(probe_request)
                answer = _first_line(tls, limit, timeout)
            except OSError as exc:
                return replace(session, error=exc, stage="probe")
            return replace(session, answer=answer)


def server_flight(
    address: tuple[str, int], server_hostname: str, *, timeout: float, budget: float | None = None
) -> ServerFlight | None:
    """The server's clear-text TLS 1.2 flight, or None when it does not speak TLS 1.2.

    Bounded like :func:`handshake`: ``timeout`` an operation, ``budget`` (or ``timeout``) in all.
    """
    limit = Deadline.after(timeout if budget is None else budget)
    context = unverified_context()  # we only look; this connection is never used
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_2
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    sni = None if is_ip(server_hostname) else server_hostname
    tls = context.wrap_bio(incoming, outgoing, server_hostname=sni)
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.do_handshake()  # writes the ClientHello into ``outgoing`` and waits for more
    try:
        with socket.create_connection(address, timeout=limit.bound(timeout)) as raw:
            raw.settimeout(limit.bound(timeout))
            raw.sendall(outgoing.read())
            messages = _read_flight(raw, limit, timeout)
    except OSError:
        return None
    return _flight(messages)


def unverified_context() -> ssl.SSLContext:
    """A client context that checks nothing: only for looking at what a server does."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def plain_http_status(address: tuple[str, int], *, timeout: float) -> str | None:
    """The status line if the port answers a clear-text HEAD with HTTP, else None.

    The whole probe takes at most ``timeout`` seconds.
    """
    limit = Deadline.after(timeout)
    try:
        with socket.create_connection(address, timeout=limit.bound(timeout)) as raw:
            raw.settimeout(limit.bound(timeout))
            raw.sendall(b"HEAD / HTTP/1.0\r\n\r\n")
            line = _first_line(raw, limit, timeout)
    except OSError:
        return None
    return line if line and line.startswith("HTTP/") else None


def parse_certificate_request(body: bytes) -> tuple[str, ...]:
    """The CA names in a TLS 1.2 CertificateRequest body (RFC 5246 §7.4.4)."""
    types_length = body[0]
    offset = 1 + types_length
    algorithms_length = int.from_bytes(body[offset : offset + 2], "big")
    offset += 2 + algorithms_length
    names_end = offset + 2 + int.from_bytes(body[offset : offset + 2], "big")
    offset += 2
    names = []
    while offset + 2 <= names_end:
        length = int.from_bytes(body[offset : offset + 2], "big")
        names.append(name_text(body[offset + 2 : offset + 2 + length]))
        offset += 2 + length
    return tuple(names)


def name_text(der: bytes) -> str:
    """An X.501 distinguished name, DER-encoded, as ``CN=..., O=...`` (most specific first)."""
    try:
        parts = [_attribute_text(attribute) for attribute in _name_attributes(der)]
    except (IndexError, ValueError):
        return "(unreadable name)"
    from smsp_cli.untrusted.sanitize import provider_text

    # The server's words: identifiers masked and made visible, like any provider text.
    return provider_text(", ".join(reversed(parts))) or "(empty name)"


def _session(tls: ssl.SSLSocket) -> Handshake:
    cipher = tls.cipher()
    chain = getattr(tls, "get_verified_chain", None)  # Python 3.13+
    return Handshake(
        version=tls.version(),
        cipher=cipher[0] if cipher else None,
        peer_der=tls.getpeercert(binary_form=True),
        chain_der=tuple(bytes(c) for c in chain()) if callable(chain) else None,
        stage="done",
    )


def _tls13_verdict(tls: ssl.SSLSocket, wait: float) -> BaseException | None:
    """In TLS 1.3, wait for the server's word on our certificate before sending anything.

    After checking a client certificate the server sends either an alert or its session
    tickets. Sending the HEAD at once would race a rejection: a server that closes with our
    request unread resets the connection, and the reset can destroy the alert in flight.
    Returns the rejection, or None for tickets, silence or TLS 1.2 (decided in the handshake).
    """
    if tls.version() != "TLSv1.3":
        return None
    previous = tls.gettimeout()
    tls.setblocking(False)
    try:
        readable, _, _ = select.select([tls], [], [], wait)
        if not readable:
            return None  # a server that sends no tickets: the HEAD will tell
        try:
            if not tls.recv(1):
                return ConnectionResetError("the server closed the connection")
        except ssl.SSLWantReadError:
            return None  # a session ticket was read: the server accepted us
        except OSError as exc:  # the alert, as ssl.SSLError
            return exc
        return None
    finally:
        tls.settimeout(previous)


def _first_line(sock: socket.socket, limit: Deadline, timeout: float) -> str | None:
    """The first line of the answer; each read waits only for the time left in ``limit``."""
    data = b""
    while b"\r\n" not in data and len(data) < 512:
        sock.settimeout(limit.bound(timeout))
        chunk = sock.recv(512)
        if not chunk:
            break
        data += chunk
    line = data.split(b"\r\n", 1)[0].decode("latin-1").strip()
    return line or None


def _read_flight(raw: socket.socket, limit: Deadline, timeout: float) -> list[tuple[int, bytes]]:
    """Read TLS records until ServerHelloDone, an alert, the end, the deadline or the size bound."""
    data = b""
    while len(data) < _MAX_FLIGHT_BYTES:
        try:
            raw.settimeout(limit.bound(timeout))
            chunk = raw.recv(16384)
        except TimeoutError:
            break
        if not chunk:
            break
        data += chunk
        handshake_bytes, alerted = _records(data)
        messages = _messages(handshake_bytes)
        if alerted or any(kind == _SERVER_HELLO_DONE for kind, _ in messages):
            return messages
    return _messages(_records(data)[0])


def _records(data: bytes) -> tuple[bytes, bool]:
    """The concatenated handshake record payloads, and whether an alert record arrived."""
    handshake_bytes = b""
    offset = 0
    while offset + 5 <= len(data):
        kind = data[offset]
        length = int.from_bytes(data[offset + 3 : offset + 5], "big")
        if offset + 5 + length > len(data):
            break
        if kind == _ALERT_RECORD:
            return handshake_bytes, True
        if kind != _HANDSHAKE_RECORD:
            break  # ChangeCipherSpec or application data: the clear part is over
        handshake_bytes += data[offset + 5 : offset + 5 + length]
        offset += 5 + length
    return handshake_bytes, False


def _messages(handshake_bytes: bytes) -> list[tuple[int, bytes]]:
    messages = []
    offset = 0
    while offset + 4 <= len(handshake_bytes):
        kind = handshake_bytes[offset]
        length = int.from_bytes(handshake_bytes[offset + 1 : offset + 4], "big")
        if offset + 4 + length > len(handshake_bytes):
            break
        messages.append((kind, handshake_bytes[offset + 4 : offset + 4 + length]))
        offset += 4 + length
    return messages


def _flight(messages: list[tuple[int, bytes]]) -> ServerFlight | None:
    if not messages:
        return None
    chain: tuple[bytes, ...] = ()
    request: bytes | None = None
    for kind, body in messages:
        if kind == _CERTIFICATE:
            chain = _certificate_list(body)
        elif kind == _CERTIFICATE_REQUEST:
            request = body
    try:
        names = parse_certificate_request(request) if request is not None else ()
    except IndexError:
        names = ("(unreadable CertificateRequest)",)
    return ServerFlight(chain, request is not None, names)


def _certificate_list(body: bytes) -> tuple[bytes, ...]:
    end = 3 + int.from_bytes(body[0:3], "big")
    offset = 3
    certificates = []
    while offset + 3 <= min(end, len(body)):
        length = int.from_bytes(body[offset : offset + 3], "big")
        certificates.append(body[offset + 3 : offset + 3 + length])
        offset += 3 + length
    return tuple(certificates)


def _tlv(data: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, start of value, end of value) of the DER element at ``offset``."""
    tag = data[offset]
    length = data[offset + 1]
    start = offset + 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    end = start + length
    if end > len(data):
        raise ValueError("DER element runs past its container")
    return tag, start, end


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    found = []
    offset = start
    while offset < end:
        element = _tlv(data, offset)
        found.append(element)
        offset = element[2]
    return found


def _name_attributes(der: bytes) -> list[tuple[str, int, bytes]]:
    """(OID, string tag, value bytes) of every attribute, in DER order."""
    _, start, end = _tlv(der, 0)
    attributes = []
    for _, set_start, set_end in _children(der, start, end):
        for _, seq_start, seq_end in _children(der, set_start, set_end):
            (_, oid_start, oid_end), (tag, value_start, value_end) = _children(
                der, seq_start, seq_end
            )[:2]
            attributes.append((_oid(der[oid_start:oid_end]), tag, der[value_start:value_end]))
    return attributes


def _attribute_text(attribute: tuple[str, int, bytes]) -> str:
    oid, tag, value = attribute
    text = value.decode(_STRING_CODECS.get(tag, "latin-1"), "replace")
    return f"{_NAME_ATTRIBUTES.get(oid, oid)}={text}"


def _oid(data: bytes) -> str:
    if not data:
        raise ValueError("empty OID")
    arcs = [data[0] // 40, data[0] % 40] if data[0] < 80 else [2, data[0] - 80]
    value = 0
    for byte in data[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    return ".".join(str(arc) for arc in arcs)
