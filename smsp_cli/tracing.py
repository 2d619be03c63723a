"""What happened on the wire during one lookup: phase timings, headers, both envelopes.

A :class:`Trace` is handed to :func:`smsp_cli.transport.post`, which wires it into httpx:
httpcore reports connect, TLS, send and receive through the ``trace`` request extension, and
httpx's event hooks show the request as sent (with the headers httpx adds) and the response
headers. httpcore resolves the host name inside its TCP connect, so the DNS time shown is a
separate ``getaddrinfo`` made just before the request; the connect time therefore includes a
second (usually cached) resolution.

``-v`` prints the report to stderr with patient data redacted (:mod:`smsp_cli.redact`);
``--trace-file`` writes it to a new 0600 file; ``--reveal`` turns redaction off for both.
Nothing here imports httpx: the hooks only receive its objects.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import ipaddress
import os
import re
import socket
import stat
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from smsp_cli import redact
from smsp_cli.errors import ConfigError, SmspError

if TYPE_CHECKING:
    import httpx

    from smsp_cli.options import OutputOptions

TRACE_FILE_MODE = 0o600

# (phase, event that starts it, event that ends it); the event names are httpcore's.
_SPANS = (
    ("dns", "dns.started", "dns.complete"),
    ("connect", "connection.connect_tcp.started", "connection.connect_tcp.complete"),
    ("tls", "connection.start_tls.started", "connection.start_tls.complete"),
    ("request sent", "http11.send_request_headers.started", "http11.send_request_body.complete"),
    ("first byte", "http11.send_request_body.complete", "http11.receive_response_headers.complete"),
    ("body", "http11.receive_response_headers.complete", "body.complete"),
)
# Terminal control characters and bidi overrides from a provider must not reach the screen.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class Phase:
    """One step of the exchange, in seconds from its start."""

    name: str
    start: float
    duration: float
    completed: bool = True  # False: the step started and then failed or never finished


@dataclass(frozen=True)
class TlsSession:
    """The negotiated TLS session as httpx saw it."""

    version: str | None
    cipher: str | None
    server_subject: str | None


class Trace:
    """Collects one exchange; fed by httpx's hooks (see :mod:`smsp_cli.transport`)."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self.origin: float | None = None
        self.marks: dict[str, float] = {}
        self.method = ""
        self.url = ""
        self.addresses: tuple[str, ...] = ()
        self.dns_note: str | None = None
        self.peer: str | None = None
        self.tls: TlsSession | None = None
        self.request_headers: list[tuple[str, str]] = []
        self.request_body: bytes | None = None
        self.status: int | None = None
        self.reason = ""
        self.http_version = "HTTP/1.1"
        self.response_headers: list[tuple[str, str]] = []
        self.response_body: bytes | None = None
        self.error: str | None = None
        self.attempts = 0  # requests sent: more than one when service.call retried

    # --- hooks given to httpx ------------------------------------------------------------

    def hooks(self) -> dict[str, list[Callable[[Any], None]]]:
        """httpx ``event_hooks``: the request as sent, the response headers as received."""
        return {"request": [self.on_request], "response": [self.on_response]}

    def extensions(self) -> dict[str, Any]:
        """httpx request ``extensions``: httpcore's per-phase trace callback."""
        return {"trace": self.on_event}

    def on_request(self, request: httpx.Request) -> None:
        """Record the request httpx is about to send, and time a DNS lookup of its host."""
        self.attempts += 1
        if self.attempts > 1:
            # A retry: the report shows the last attempt, timed from the start of the first.
            self.marks = {}
            self.peer = self.tls = self.status = self.response_body = None
            self.response_headers = []
        self._mark("request")
        self.method = request.method
        self.url = str(request.url)
        self.request_headers = _raw_headers(request.headers.raw)
        self.request_body = request.content
        self._resolve(request.url.host, request.url.port or 443)

    def on_event(self, name: str, info: dict[str, Any]) -> None:
        """httpcore's callback: ``connection.connect_tcp.started`` and friends."""
        self.marks.setdefault(name, self._now())
        stream = info.get("return_value")
        if stream is None or not hasattr(stream, "get_extra_info"):
            return
        if name == "connection.connect_tcp.complete":
            self.peer = _address(stream.get_extra_info("server_addr"))
        elif name == "connection.start_tls.complete":
            self.tls = _tls_session(stream.get_extra_info("ssl_object"))

    def on_response(self, response: httpx.Response) -> None:
        """Record the status line and headers as soon as they arrive."""
        self._mark("response")
        self.status = response.status_code
        self.reason = response.reason_phrase
        self.http_version = response.http_version
        self.response_headers = _raw_headers(response.headers.raw)

    def on_body(self, body: bytes) -> None:
        """Record the response body once it has been read in full."""
        self.marks["body.complete"] = self._now()
        self.response_body = body

    def fail(self, error: BaseException) -> None:
        """Note why the exchange failed."""
        self.error = error.one_line() if isinstance(error, SmspError) else type(error).__name__

    def finish(self) -> None:
        """Stop the clock."""
        self.marks.setdefault("end", self._now())

    # --- reading it back -----------------------------------------------------------------

    def phases(self) -> list[Phase]:
        """Each step that started, in order; an unfinished one runs to the end of the trace."""
        end = self.marks.get("end", self._now())
        found = []
        for name, first, last in _SPANS:
            if first not in self.marks:
                continue
            failed = last.replace(".complete", ".failed")
            stop = self.marks.get(last, self.marks.get(failed, end))
            start = self.marks[first]
            found.append(
                Phase(name, self._offset(start), max(stop - start, 0.0), last in self.marks)
            )
        return found

    @property
    def total(self) -> float:
        """Seconds from the first hook to the end."""
        return self._offset(self.marks.get("end", self._now()))

    def _resolve(self, host: str, port: int) -> None:
        self._mark("dns.started")
        if _is_ip(host):
            self.addresses = (host,)
            self.dns_note = "an IP address: no lookup"
        else:
            try:
                found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
                self.addresses = tuple(dict.fromkeys(str(entry[4][0]) for entry in found))
            except OSError as exc:
                self.dns_note = f"lookup failed: {exc.strerror or exc}"
        self._mark("dns.complete")

    def _mark(self, name: str) -> None:
        now = self._now()
        if self.origin is None:
            self.origin = now
        self.marks.setdefault(name, now)

    def _now(self) -> float:
        return self._clock()

    def _offset(self, moment: float) -> float:
        return max(moment - (self.origin if self.origin is not None else moment), 0.0)


# --- the report --------------------------------------------------------------------------


def render(trace: Trace, *, reveal: bool, pretty: bool) -> str:
    """The exchange as text, curl -v style: ``*`` notes, ``>`` sent, ``<`` received."""
    lines = [f"* {trace.method or 'POST'} {trace.url or '(not sent)'}"]
    if trace.attempts > 1:
        lines.append(f"* attempt {trace.attempts}: the earlier attempts failed; this is the last")
    lines += _connection_notes(trace)
    if trace.request_headers:
        target = urlsplit(trace.url)
        path = target.path + (f"?{target.query}" if target.query else "")
        lines.append(f"> {trace.method} {path or '/'} HTTP/1.1")
        lines += _header_lines(">", trace.request_headers, reveal)
        lines += _body_lines(">", trace.request_body, reveal, pretty)
    if trace.status is not None:
        lines.append(f"< {trace.http_version} {trace.status} {trace.reason}".rstrip())
        lines += _header_lines("<", trace.response_headers, reveal)
        lines += _body_lines("<", trace.response_body, reveal, pretty)
    if trace.error:
        lines.append(f"* failed: {trace.error if reveal else redact.scrub(trace.error)}")
    lines += timing_lines(trace.phases(), trace.total)
    lines.append(
        "* NOT REDACTED: contains patient data (NHS Confidential)"
        if reveal
        else "* patient data redacted; --reveal shows it"
    )
    return "\n".join(_printable(line) for line in lines) + "\n"


def timing_lines(phases: list[Phase], total: float, *, width: int = 30) -> list[str]:
    """A text waterfall: each phase's start, duration and a bar on a common time axis."""
    lines = [f"* {'phase':<15}{'start':>10}{'took':>10}"]
    for phase in phases:
        note = "" if phase.completed else "  (did not finish)"
        lines.append(
            f"*   {phase.name:<13}{format_seconds(phase.start):>10}"
            f"{format_seconds(phase.duration):>10}  "
            f"|{bar(phase.start, phase.duration, total, width, '#'):<{width}}|{note}"
        )
    lines.append(f"*   {'total':<13}{'':>10}{format_seconds(total):>10}")
    return lines


def bar(start: float, duration: float, total: float, width: int, mark: str) -> str:
    """A bar placed on a ``width``-character axis for ``total`` seconds (at least one mark)."""
    if total <= 0:
        return mark
    left = min(int(start / total * width), width - 1)
    length = max(1, round(duration / total * width))
    return " " * left + mark * min(length, width - left)


def format_seconds(seconds: float) -> str:
    """``0.4 ms``, ``12 ms``, ``1.25 s``."""
    if seconds >= 1:
        return f"{seconds:.2f} s"
    milliseconds = seconds * 1000
    return f"{milliseconds:.1f} ms" if milliseconds < 10 else f"{milliseconds:.0f} ms"


def _connection_notes(trace: Trace) -> list[str]:
    notes = []
    if trace.dns_note or trace.addresses:
        shown = ", ".join(trace.addresses)
        notes.append(f"* resolved {shown}" + (f" ({trace.dns_note})" if trace.dns_note else ""))
    if trace.peer:
        notes.append(f"* connected to {trace.peer}")
    if trace.tls:
        tls = trace.tls
        notes.append(
            f"* TLS {tls.version or '?'}, cipher {tls.cipher or '?'}, "
            f"server certificate {tls.server_subject or '(not shown)'}"
        )
    return notes


def _header_lines(arrow: str, headers: list[tuple[str, str]], reveal: bool) -> list[str]:
    shown = headers if reveal else redact.headers(headers)
    return [f"{arrow} {name}: {value}" for name, value in shown]


def _body_lines(arrow: str, body: bytes | None, reveal: bool, pretty: bool) -> list[str]:
    if not body:
        return []
    text = redact.revealed(body, pretty=pretty) if reveal else redact.envelope(body, pretty=pretty)
    return [arrow] + [f"{arrow} {line}" for line in text.splitlines()]


def _raw_headers(raw: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    # The raw list keeps each name as it went over the wire (httpx lower-cases the rest).
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw]


def _printable(line: str) -> str:
    return _UNPRINTABLE.sub("\ufffd", line)


def _tls_session(ssl_object: Any) -> TlsSession | None:
    if ssl_object is None:
        return None
    cipher = ssl_object.cipher()
    return TlsSession(
        version=ssl_object.version(),
        cipher=cipher[0] if cipher else None,
        server_subject=_subject(ssl_object.getpeercert()),
    )


def _subject(peer: Any) -> str | None:
    if not isinstance(peer, dict):
        return None
    parts = [f"{key}={value}" for entry in peer.get("subject", ()) for key, value in entry]
    return ", ".join(parts).replace("commonName=", "CN=") or None


def _address(address: Any) -> str | None:
    if isinstance(address, tuple) and len(address) >= 2:
        host = str(address[0])
        return f"[{host}]:{address[1]}" if ":" in host else f"{host}:{address[1]}"
    return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


# --- the trace file ----------------------------------------------------------------------


class TraceFile:
    """A private file for the trace, opened before anything is sent so a bad path fails fast.

    It is created with mode 0600. An existing file is reused only when it is a regular file of
    ours with no other hard links; a symbolic link is never followed (O_NOFOLLOW), so a link
    planted at the path cannot redirect the trace into another file.
    """

    def __init__(self, path: Path, descriptor: int) -> None:
        self.path = path
        self._descriptor = descriptor

    @classmethod
    def create(cls, path: Path) -> TraceFile:
        """Open ``path`` for the trace, or raise ConfigError saying why it cannot be."""
        flags = (
            os.O_WRONLY
            | os.O_CREAT
            | getattr(os, "O_NOFOLLOW", 0)
            | getattr(os, "O_NONBLOCK", 0)  # a FIFO with no reader fails instead of hanging
            | getattr(os, "O_CLOEXEC", 0)
            | getattr(os, "O_BINARY", 0)
        )
        try:
            descriptor = os.open(path, flags, TRACE_FILE_MODE)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EMLINK):
                raise ConfigError(
                    f"trace file {path} is a symbolic link; refusing to follow it",
                    hint="name a new file",
                ) from None
            raise ConfigError(f"cannot create trace file {path}: {exc.strerror}") from None
        try:
            _make_private(descriptor, path)
        except BaseException:
            os.close(descriptor)
            raise
        return cls(path, descriptor)

    def write(self, text: str) -> None:
        """Write the whole trace and close the file."""
        try:
            data = text.encode("utf-8")
            while data:
                written = os.write(self._descriptor, data)
                data = data[written:]
        finally:
            self.close()

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._descriptor >= 0:
            os.close(self._descriptor)
            self._descriptor = -1


def _make_private(descriptor: int, path: Path) -> None:
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"trace file {path} exists and is not a regular file")
    if info.st_nlink > 1:
        raise ConfigError(
            f"trace file {path} has other hard links; refusing to overwrite it",
            hint="name a new file",
        )
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise ConfigError(f"trace file {path} belongs to another user", hint="name a new file")
    if hasattr(os, "fchmod"):
        os.fchmod(descriptor, TRACE_FILE_MODE)  # an existing file may have been 0644
    os.ftruncate(descriptor, 0)


@contextlib.contextmanager
def session(out: OutputOptions) -> Iterator[Trace | None]:
    """A trace for one lookup when ``-v`` or ``--trace-file`` asks for one, else None.

    The report is shown and written when the block ends, also when the lookup failed: that
    is when it is needed most. A trace file that cannot be written is a warning, never a
    reason to lose the lookup's own result or error.
    """
    if not out.verbose and not out.trace_file:
        yield None
        return
    sink = TraceFile.create(Path(out.trace_file).expanduser()) if out.trace_file else None
    trace = Trace()
    try:
        yield trace
    except BaseException as error:
        trace.fail(error)
        raise
    finally:
        trace.finish()
        _deliver(trace, out, sink)


def _deliver(trace: Trace, out: OutputOptions, sink: TraceFile | None) -> None:
    if out.verbose:
        sys.stderr.write(render(trace, reveal=out.reveal, pretty=True))
        sys.stderr.flush()
    if sink is None:
        return
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        sink.write(f"* smsp trace, {stamp}\n" + render(trace, reveal=out.reveal, pretty=False))
    except OSError as exc:
        sys.stderr.write(f"smsp: warning: could not write trace file {sink.path}: {exc}\n")
