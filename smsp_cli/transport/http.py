"""The only module that talks HTTP: mutual TLS with httpx, one deadline, a bounded reply body.

A :class:`Session` holds one TLS context and one keep-alive connection pool; each of its
requests runs under its own deadline (connect + read timeout) that bounds every socket
operation (:mod:`smsp_cli.transport.deadline_net`), and its reply is decoded and capped a piece at
a time (:mod:`smsp_cli.transport.decoding`). :func:`post` is one request on a one-shot session.

httpx errors are translated here, so nothing above this module sees them::

    httpx.TransportError
    ├── httpx.TimeoutException (Connect/Read/Write/Pool)  -> Unreachable "too slow"
    ├── httpx.ConnectError      DNS, refused, TLS handshake -> Unreachable, cause named
    │                           (server certificate not verified -> UntrustedServer)
    ├── httpx.ReadError / WriteError, a connection dropped mid-reply -> Transient...
    ├── httpx.RemoteProtocolError for broken or oversized framing -> MalformedHttp (exit 4)
    │   (a TLS alert refusing our certificate, in the handshake or on TLS 1.3's first
    │    read, from any of these -> CertificateRefused)
    └── ...

Timeouts, refused or reset connections and connections dropped mid-exchange are raised as
:class:`TransientNetworkError`, the failures :mod:`smsp_cli.transport.retry` may try again (spec
§5.9);
DNS, TLS and certificate failures are not, because sending again cannot fix them.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from smsp_cli.domain.errors import (
    CertificateRefused,
    ConfigError,
    MalformedHttp,
    ProviderFailed,
    Unreachable,
    UnsafeReply,
    UntrustedServer,
)
from smsp_cli.fastclasses import dataclass
from smsp_cli.transport import deadline, tls_alerts
from smsp_cli.transport.budget import FREE_BYTES, ReplyBudget
from smsp_cli.transport.deadline import Deadline
from smsp_cli.transport.decoding import decoded
from smsp_cli.transport.phases import Progress
from smsp_cli.untrusted.bounds import MAX_BODY_BYTES

if TYPE_CHECKING:
    import httpx

    from smsp_cli.settings.clientcert import TlsClient
    from smsp_cli.transport.trace import Trace


@dataclass(frozen=True)
class HttpReply:
    """What came back over the wire, read within the size bound."""

    status_code: int
    headers: Mapping[str, str]
    body: bytes
    elapsed: float  # seconds from sending to the last byte
    # The certificate the server presented on the connection that carried this reply (DER;
    # None without TLS, as with httpx.MockTransport): who answered, which no header can fake.
    server_certificate: bytes | None = None


class TransientNetworkError(Unreachable):
    """A timeout or a refused, reset or dropped connection: it may pass (spec §5.9)."""


_SLOT_POLL_SECONDS = 0.25  # how often a request waiting for a connection looks for a halt
_TLS_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def ssl_context(
    ca_bundle: Path,
    cert: Path,
    key: Path | None = None,
    *,
    client: TlsClient | None = None,
    min_tls_version: str = "1.2",
) -> ssl.SSLContext:
    """A client context: TLS 1.2+, our CA bundle, our certificate; server always verified.

    ``client`` is the already loaded certificate and key (see :mod:`smsp_cli.settings.clientcert`);
    without it, ``cert`` and ``key`` are read here and must not be encrypted. Only ``ca_bundle``
    is trusted, not the system's store (whose loading would also cost more than a handshake).
    """
    files = ((ca_bundle, "CA bundle"), (cert, "client certificate"), (key, "client key"))
    for path, what in files if client is None else files[:1]:
        if path is not None and not path.is_file():
            raise ConfigError(f"{what} {path} does not exist or is not a file")
    try:
        # Spec §5.8: the provider's certificate is checked against the configured CA bundle.
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_bundle))
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"CA bundle {ca_bundle} is not readable PEM: {_reason(exc)}") from None
    # Spec §5.8: TLS 1.2 or later; a profile may insist on 1.3.
    context.minimum_version = _TLS_VERSIONS.get(min_tls_version, ssl.TLSVersion.TLSv1_2)
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    from smsp_cli.settings import clientcert

    # The key goes through clientcert, which never writes it to disk in the clear.
    (client or clientcert.load(cert, key)).load_into(context)
    return context


class Session:
    """One TLS context and one keep-alive connection pool for many requests, thread-safe.

    Each :meth:`post` runs under its own deadline (connect + read timeout, from its start), so
    requests sharing the pool from several threads never lend each other time. ``transport``
    replaces the network for tests (``httpx.MockTransport``); ``client`` is the loaded client
    certificate behind ``context``, when the caller has one (its CN is the default username).

    At most ``max_connections`` requests are on the wire at once; more threads than that may
    share the session (a batch runs extra ones, so that the next rows' audit records reach the
    disk while these rows are on the wire): each waits for a free connection *before* its
    deadline starts, so the wait costs it none of its time. :meth:`halt` ends those waits.
    """

    def __init__(
        self,
        context: ssl.SSLContext | None,
        *,
        transport: httpx.BaseTransport | None = None,
        client: TlsClient | None = None,
        max_connections: int = 10,
    ) -> None:
        import httpx

        if transport is None:
            from smsp_cli.transport.deadline_net import DeadlineTransport

            tls = context if context is not None else ssl.create_default_context()
            transport = DeadlineTransport(tls, max_connections=max_connections)
        self.client = client
        self._transport = transport
        self._slots = _Slots(max_connections)
        self._halted = threading.Event()
        self._keeping = False
        self._held = threading.local()
        self._turns: Callable[[], contextlib.AbstractContextManager[None]] | None = None
        self._budget: ReplyBudget | None = None
        # For the words of a "protocol version" alert: the oldest TLS this session offers.
        self._min_tls = "1.3" if context is not None and (
            context.minimum_version == ssl.TLSVersion.TLSv1_3) else "1.2"
        self._http = httpx.Client(
            transport=transport,
            trust_env=False,
            follow_redirects=False,
            # Replies are wanted as sent; anything encoded anyway is decoded here, bounded.
            headers={"Accept-Encoding": "identity"},
        )
        self._urls = _Urls()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every pooled connection (after :meth:`interrupt`, if threads may still be
        using some: then each is closed by its own thread)."""
        self.halt()
        self.interrupt()
        self._http.close()

    def interrupt(self) -> None:
        """Send nothing more and cut off the requests on the wire, from any thread: each fails
        at once in the thread that sent it, which closes its connection itself."""
        self.halt()
        cut_off: Callable[[], None] | None = getattr(self._transport, "interrupt", None)
        if cut_off is not None:
            cut_off()

    def halt(self) -> None:
        """Send nothing more: a request waiting for a connection fails at once, unsent."""
        self._halted.set()

    def keep_slots(self) -> None:
        """From now on a thread keeps its connection slot after a request, for its retries and
        until :meth:`release_slot`: a batch frees it only once the row has been judged, so that
        a row that stops the batch stops it before another request can take its place."""
        self._keeping = True

    def take_turns(self, turn: Callable[[], contextlib.AbstractContextManager[None]]) -> None:
        """From now on a request waits for a free connection inside ``turn()``: a caller that
        lets one thread in at a time, in its own order, decides the order they go on the wire
        (a batch at concurrency 1 sends its rows in input order)."""
        self._turns = turn

    def limit_replies(self, budget: ReplyBudget) -> None:
        """From now on a large reply reserves its bytes from ``budget`` before it is read
        (see :mod:`smsp_cli.transport.budget`); the caller releases them once it is parsed."""
        self._budget = budget

    def release_slot(self) -> None:
        """Free the slot this thread kept (see :meth:`keep_slots`), if it holds one."""
        if getattr(self._held, "slot", False):
            self._held.slot = False
            self._slots.give_back()

    @contextlib.contextmanager
    def _slot(self, url: str) -> Iterator[None]:
        if getattr(self._held, "slot", False):
            yield  # kept from this thread's last attempt
            return
        with self._turns() if self._turns is not None else contextlib.nullcontext():
            while not self._slots.take(timeout=_SLOT_POLL_SECONDS):
                if self._halted.is_set():
                    raise NotSent(f"not sent to {_host(url)}: the batch stopped first")
        if self._halted.is_set():
            self._slots.give_back()
            raise NotSent(f"not sent to {_host(url)}: the batch stopped first")
        if self._keeping:
            self._held.slot = True
            yield
            return
        try:
            yield
        finally:
            self._slots.give_back()

    def post(
        self,
        url: str,
        body: bytes,
        *,
        soap_action: str,
        quote_soap_action: bool = False,
        connect_timeout: float,
        read_timeout: float,
        max_bytes: int = MAX_BODY_BYTES,
        trace: Trace | None = None,
    ) -> HttpReply:
        """POST a SOAP envelope and read the reply, within one deadline and ``max_bytes``.

        ``trace`` (for -v, --trace-file and doctor) records phase timings, headers and bodies.
        """
        headers = {
            "Content-Type": "text/xml; charset=utf-8",
            # The NHS examples send SOAPAction unquoted; WS-I BP quotes it: configurable (§5.5).
            "SOAPAction": f'"{soap_action}"' if quote_soap_action else soap_action,
        }
        return self.send(
            "POST", url, headers=headers, content=body, connect_timeout=connect_timeout,
            read_timeout=read_timeout, max_bytes=max_bytes, trace=trace,
        )

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        content: bytes | None = None,
        params: Sequence[tuple[str, str]] | None = None,
        connect_timeout: float,
        read_timeout: float,
        max_bytes: int = MAX_BODY_BYTES,
        trace: Trace | None = None,
    ) -> HttpReply:
        """Send one request of any method and read the reply, within one deadline and
        ``max_bytes`` (what both adapters share: SOAP POSTs and PDS FHIR's GETs and token POST).
        """
        with self._slot(url):
            return self._send(method, url, headers=headers, content=content, params=params,
                              connect_timeout=connect_timeout, read_timeout=read_timeout,
                              max_bytes=max_bytes, trace=trace)

    def _send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        content: bytes | None,
        params: Sequence[tuple[str, str]] | None,
        connect_timeout: float,
        read_timeout: float,
        max_bytes: int,
        trace: Trace | None,
    ) -> HttpReply:
        import httpx

        # One deadline from connect to last byte bounds every socket operation.
        limit = Deadline.after(connect_timeout + read_timeout)
        timeout = httpx.Timeout(read_timeout, connect=connect_timeout, pool=limit.seconds)
        started = time.monotonic()
        # Every exchange notes its phase, so a timeout can say which one (as doctor does).
        progress = Progress(trace.on_event if trace is not None else None)
        try:
            with deadline.applied(limit):
                request = self._request(method, url, content, params, headers, timeout,
                                        progress)
                if trace is not None:
                    trace.on_request(request, within=limit.remaining())
                response = self._exchange(request)
                presented = _server_certificate(response)
                try:
                    if trace is not None:
                        trace.on_response(response)
                    data = _read_bounded(response, max_bytes, limit, self._budget)
                finally:
                    response.close()
        except httpx.TimeoutException as exc:
            raise _too_slow(
                url, exc, limit, connect_timeout, read_timeout, progress.phase()) from None
        except httpx.ConnectError as exc:
            _raise_if_certificate_refused(url, exc)
            failure = TransientNetworkError if _transient(exc) else Unreachable
            if isinstance(_root_cause(exc), ssl.SSLCertVerificationError):
                failure = UntrustedServer  # no row of a batch can get past it
            raise failure(_connect_failure(url, exc, self._min_tls)) from None
        except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:
            # TLS 1.3: the server judges our certificate after our handshake is done, so its
            # refusal is the error of the first read (or write).
            _raise_if_certificate_refused(url, exc)
            if isinstance(exc, httpx.RemoteProtocolError) and not _dropped(exc):
                raise _malformed(url, exc) from None
            raise TransientNetworkError(
                f"connection to {_host(url)} failed: {_reason(exc)}"
            ) from None
        except httpx.InvalidURL as exc:
            raise ConfigError(f"endpoint {url!r} is not a valid URL: {exc}") from None
        except httpx.HTTPError as exc:
            raise ProviderFailed(
                f"HTTP exchange with {_host(url)} failed: {_reason(exc)}"
            ) from None
        if trace is not None:
            trace.on_body(data)
        return HttpReply(
            status_code=response.status_code,
            headers=dict(response.headers),
            body=data,
            elapsed=time.monotonic() - started,
            server_certificate=presented,
        )

    def _request(self, method: str, url: str, content: bytes | None,
                 params: Sequence[tuple[str, str]] | None, headers: Mapping[str, str],
                 timeout: httpx.Timeout, progress: Progress) -> httpx.Request:
        """The request as httpx's client builds it: its default headers first (ours
        replacing theirs in place), then the rest, the timeouts and trace as extensions."""
        import httpx

        extensions = {"trace": progress.on_event, "timeout": timeout.as_dict()}
        if self._http.cookies.jar:  # a provider set a cookie: the client sends it back
            return self._http.build_request(
                method, self._urls.parsed(url), content=content,
                params=list(params) if params else None, headers=headers, timeout=timeout,
                extensions=extensions)
        merged = httpx.Headers(self._http.headers)
        merged.update(headers)
        return httpx.Request(method, self._urls.parsed(url), content=content,
                             params=list(params) if params else None, headers=merged,
                             extensions=extensions)

    def _exchange(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the transport, as httpx's client would with no auth and
        no redirects followed, but without its layers' cost (about a tenth of a lookup's
        CPU): the reply is bound to its request and any cookie it sets is kept by httpx's
        own handling. A reply without ``Set-Cookie`` is not handed to it: httpx would build
        urllib request and response wrappers to look in it, as long as building the request."""
        response = self._transport.handle_request(request)
        response.request = request
        headers = response.headers
        if "set-cookie" in headers or "set-cookie2" in headers:
            self._http.cookies.extract_cookies(response)
        return response


class _Slots:
    """At most ``count`` taken at once: a semaphore, as a queue of tokens.

    threading's semaphores are written in Python over a Condition (a lock made for every
    wait, a notify for every release); a batch takes and gives back a slot for every row, from
    threads that contend for them. ``queue.SimpleQueue`` does the same in C.
    """

    def __init__(self, count: int) -> None:
        self._free: queue.SimpleQueue[None] = queue.SimpleQueue()
        for _ in range(count):
            self._free.put(None)

    def take(self, *, timeout: float) -> bool:
        """One slot, waiting at most ``timeout`` seconds for it; False if none came free."""
        try:
            self._free.get(timeout=timeout)
        except queue.Empty:
            return False
        return True

    def give_back(self) -> None:
        """Free a slot taken with :meth:`take` (each exactly once: the caller keeps count)."""
        self._free.put(None)


class _Urls:
    """Each endpoint URL parsed once, not for every request (httpx parses a string each time:
    tens of microseconds a row). A handful are remembered: a batch posts to one endpoint,
    while a PDS FHIR read's URL names its patient, so those are parsed afresh."""

    _MOST = 8

    def __init__(self) -> None:
        self._parsed: dict[str, httpx.URL] = {}

    def parsed(self, url: str) -> httpx.URL | str:
        known = self._parsed.get(url)
        if known is not None:
            return known
        import httpx

        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL:
            return url  # httpx raises it again where its message is turned into ours
        if len(self._parsed) < self._MOST:
            self._parsed[url] = parsed
        return parsed


class NotSent(Unreachable):
    """A request given up before it left, waiting for a connection of a halted session."""

    reason = "the batch stopped before the request was sent"  # for its `failed` record


def post(
    url: str,
    body: bytes,
    *,
    soap_action: str,
    quote_soap_action: bool = False,
    context: ssl.SSLContext | None,
    connect_timeout: float,
    read_timeout: float,
    max_bytes: int = MAX_BODY_BYTES,
    transport: httpx.BaseTransport | None = None,
    trace: Trace | None = None,
) -> HttpReply:
    """One POST on a connection of its own (a one-shot :class:`Session`)."""
    with Session(context, transport=transport, max_connections=1) as session:
        return session.post(
            url,
            body,
            soap_action=soap_action,
            quote_soap_action=quote_soap_action,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_bytes=max_bytes,
            trace=trace,
        )


def _server_certificate(response: httpx.Response) -> bytes | None:
    """The leaf certificate the server proved it holds on this reply's own connection."""
    stream = response.extensions.get("network_stream")
    tls = stream.get_extra_info("ssl_object") if stream is not None else None
    if tls is None:
        return None
    try:
        der = tls.getpeercert(True)  # binary form; positional, as ssl's private object takes it
    except (ValueError, ssl.SSLError):
        return None
    return der if isinstance(der, bytes) else None


def _read_bounded(response: httpx.Response, max_bytes: int, limit: Deadline,
                  budget: ReplyBudget | None = None) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise UnsafeReply(f"reply of {declared} bytes is over the {max_bytes}-byte limit")
    with contextlib.ExitStack() as extended:

        def reserve(size: int) -> None:
            # The time a reply waits for the budget is smsp's, not the provider's: the
            # deadline moves on by exactly that much, and no more.
            nonlocal limit
            assert budget is not None
            waited = budget.reserve(size)
            if waited > 0:
                limit = Deadline(limit.at + waited, limit.seconds)
                extended.enter_context(deadline.applied(limit))

        if budget is not None and declared.isdigit() and int(declared) > FREE_BYTES:
            reserve(int(declared))  # before a byte of it is held
        size = 0
        pieces: list[bytes] = []
        chunks: Iterable[bytes]
        if response.is_stream_consumed:
            # A reply built in memory (httpx.MockTransport in tests): httpx has already read it.
            chunks, encoding = [response.content], None
        else:
            # Raw bytes, decoded here a piece at a time so the cap holds for what they inflate
            # to.
            chunks, encoding = response.iter_raw(), response.headers.get("content-encoding")
        for piece in decoded(chunks, encoding, max_bytes):
            # Socket reads end by the deadline; this also stops a transport without sockets.
            if limit.expired:
                import httpx

                raise httpx.ReadTimeout("the deadline passed while the reply was arriving")
            size += len(piece)
            if budget is not None and size > max(budget.held(), FREE_BYTES):
                reserve(max_bytes)  # no length said (or a coding inflates it): the cap
            pieces.append(piece)
        return b"".join(pieces)


def _too_slow(
    url: str, exc: Exception, limit: Deadline, connect_timeout: float, read_timeout: float,
    phase: str | None = None,
) -> TransientNetworkError:
    import httpx

    host = _host(url)
    hint = "check the endpoint, or raise --timeout"
    budget = (f"deadline {limit.seconds:g}s: "
              f"connect {connect_timeout:g}s + read {read_timeout:g}s")
    if isinstance(exc, httpx.ConnectTimeout) and not limit.expired:
        budget = f"connect timeout {connect_timeout:g}s"  # it covers TCP and the TLS handshake
    if phase == "TLS handshake":
        detail = ("timed out in the TLS handshake: TCP connected, the server never finished "
                  f"it ({budget})")
        hint = ("the port may not be TLS, or the server is stuck: check the port in the "
                "endpoint, or raise --timeout")
    elif phase in (None, "connect") and isinstance(exc, httpx.ConnectTimeout):
        detail = f"timed out connecting ({budget})"
    elif phase is not None and phase != "connect":
        detail = f"timed out {phase} ({budget})"  # sending the request, waiting for the reply...
    else:
        detail = f"timed out before its reply was complete ({budget})"
    return TransientNetworkError(f"the provider at {host} was too slow: {detail}", hint=hint)


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.netloc or url


# What the handshake's other failures mean (refusals of our certificate are raised before).
_TLS_ALERTS = {
    "handshake failure": "TLS handshake failure (no common protocol or cipher, or the server "
    "refused our certificate)",
    "wrong version number": "the server did not answer with TLS (is it plain HTTP?)",
    "record layer failure": "the server did not answer with TLS (is it plain HTTP?)",
    "protocol version": "the server does not support TLS 1.2 or later",
}
# With min_tls_version 1.3, "protocol version" means the server offers nothing that new.
_NO_TLS_1_3 = "the server does not support TLS 1.3, which min_tls_version 1.3 requires"


def _raise_if_certificate_refused(url: str, exc: Exception) -> None:
    """CertificateRefused when ``exc`` carries a TLS alert refusing our client certificate."""
    alert = tls_alerts.alert_name(exc)
    if alert is not None and tls_alerts.refuses_our_certificate(alert):
        raise CertificateRefused(
            f"the provider at {_host(url)} refused our client certificate: "
            f"{tls_alerts.cause(alert)} (TLS alert '{alert}')",
            alert=alert,
        ) from None


# What the transport says of a connection closed before its reply was whole: it may pass.
_DROPPED = ("server disconnected", "peer closed connection")


def _dropped(exc: Exception) -> bool:
    return _reason(exc).lower().startswith(_DROPPED)


def _malformed(url: str, exc: Exception) -> MalformedHttp:
    """Broken framing, in words: the limits' (transport.framing) whole, the reader's
    (transport.http11) up to any colon, so that no reply bytes are shown."""
    from smsp_cli.transport.framing import FramingError

    cause = _root_cause(exc)
    if isinstance(cause, FramingError):
        what = str(cause)
    else:
        what = f"the provider's reply is not valid HTTP/1.1 ({_reason(exc).split(':')[0]})"
    return MalformedHttp(f"{what}, from {_host(url)}", hint="report it to the provider")


def _connect_failure(url: str, exc: Exception, min_tls: str = "1.2") -> str:
    host = _host(url)
    cause = _root_cause(exc)
    if isinstance(cause, ssl.SSLCertVerificationError):
        return f"server certificate of {host} failed verification: {cause.verify_message}"
    if isinstance(cause, socket.gaierror):
        return f"cannot resolve host {host}: {cause.strerror}"
    if isinstance(cause, ConnectionRefusedError):
        return f"connection to {host} refused (is the provider running?)"
    text = _reason(exc).lower()
    for alert, meaning in _TLS_ALERTS.items():
        if alert in text:
            if alert == "protocol version" and min_tls == "1.3":
                meaning = _NO_TLS_1_3
            return f"TLS handshake with {host} failed: {meaning}"
    if "name or service not known" in text or "nodename nor servname" in text:
        return f"cannot resolve host {host}"
    if "connection refused" in text:
        return f"connection to {host} refused (is the provider running?)"
    return f"cannot connect to {host}: {_reason(exc)}"


def _transient(exc: Exception) -> bool:
    """A refused, reset or timed-out connection may succeed later; DNS and TLS failures won't."""
    cause = _root_cause(exc)
    if isinstance(cause, ssl.SSLError | socket.gaierror):
        return False
    if isinstance(cause, ConnectionError | TimeoutError):
        return True
    text = _reason(exc).lower()
    return "connection refused" in text or "connection reset" in text


def _root_cause(exc: BaseException) -> BaseException:
    seen = exc
    while seen.__cause__ is not None or seen.__context__ is not None:
        seen = seen.__cause__ or seen.__context__  # type: ignore[assignment]
    return seen


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())
