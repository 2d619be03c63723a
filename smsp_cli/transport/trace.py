"""Collecting one exchange: the transport and its trace events feed a :class:`Trace`.

Nothing here imports httpx: the hooks only receive its objects.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from smsp_cli.domain.errors import SmspError
from smsp_cli.fastclasses import dataclass
from smsp_cli.transport.netaddr import hostport, is_ip, resolve_within

if TYPE_CHECKING:
    import httpx

# (phase, event that starts it, event that ends it); the event names are httpcore's, which
# the transport keeps.
_SPANS = (
    ("dns", "dns.started", "dns.complete"),
    ("connect", "connection.connect_tcp.started", "connection.connect_tcp.complete"),
    ("tls", "connection.start_tls.started", "connection.start_tls.complete"),
    ("request sent", "http11.send_request_headers.started", "http11.send_request_body.complete"),
    ("first byte", "http11.send_request_body.complete", "http11.receive_response_headers.complete"),
    ("body", "http11.receive_response_headers.complete", "body.complete"),
)


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
    """Collects one exchange; fed by :class:`smsp_cli.transport.http.Session`."""

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

    def extensions(self) -> dict[str, Any]:
        """httpx request ``extensions``: the transport's per-phase trace callback."""
        return {"trace": self.on_event}

    def on_request(self, request: httpx.Request, *, within: float = 10.0) -> None:
        """Record the request httpx is about to send, and time a DNS lookup of its host.

        The lookup waits at most ``within`` seconds (the time left in the attempt).
        """
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
        self._resolve(request.url.host, request.url.port or 443, within)

    def on_event(self, name: str, info: dict[str, Any]) -> None:
        """The transport's callback: ``connection.connect_tcp.started`` and friends."""
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
    def headers_sent(self) -> bool:
        """The request's head went out (a reply also proves it, where no events came)."""
        return "http11.send_request_headers.complete" in self.marks or "response" in self.marks

    @property
    def body_sent(self) -> bool:
        """The request's body went out in full."""
        return "http11.send_request_body.complete" in self.marks or "response" in self.marks

    @property
    def total(self) -> float:
        """Seconds from the first hook to the end."""
        return self._offset(self.marks.get("end", self._now()))

    def _resolve(self, host: str, port: int, within: float) -> None:
        self._mark("dns.started")
        if is_ip(host):
            self.addresses = (host,)
            self.dns_note = "an IP address: no lookup"
        else:
            try:
                self.addresses = resolve_within(host, port, within)
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


def _raw_headers(raw: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    # The raw list keeps each name as it went over the wire (httpx lower-cases the rest).
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw]


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
        return hostport(str(address[0]), address[1])
    return None
