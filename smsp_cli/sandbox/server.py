"""The embedded SMSP provider: HTTPS with mutual TLS, answering from synthetic patients.

Each request goes checks → patient index → responses. The server is built on the standard
library (``ssl`` + ``http.server``) so it runs wherever smsp runs:

* TLS 1.2 or later, and a client certificate is required and must chain to the sandbox CA,
  the only trust anchor (spec §5.8): a client without one, or with one from another CA, fails
  the handshake and never reaches HTTP.
* The handshake happens in the connection's own thread, not in the accept loop, and every
  socket has a timeout, so a slow or silent client cannot hold up anyone else.
* Bodies are bounded before they are read (:data:`checks.MAX_BODY_BYTES`); keep-alive works.
* Nothing is logged: request bodies carry patient data, so http.server's stderr log is off.
* Any unexpected error inside a request answers fault 2200 and never stops the server.
"""

from __future__ import annotations

import collections
import contextlib
import re
import ssl
import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from smsp_cli.domain.codes import FAULT_CODES
from smsp_cli.fastclasses import dataclass
from smsp_cli.sandbox import checks, responses
from smsp_cli.sandbox.matching import Answer, PatientIndex
from smsp_cli.sandbox.tls_http import TlsHttpServer

if TYPE_CHECKING:
    from smsp_cli.sandbox.certs import SandboxCredentials
    from smsp_cli.sandbox.patients import SandboxPatient

DEFAULT_PATH = "/smsp/pds"  # the NHS Digital context path (spec §5.5)
DEFAULT_TIMEOUT = 15.0  # seconds a connection may sit idle, in the handshake or between requests
PROCESSING_FAILED = "2200"
# A body refused unread is still read and dropped, up to this much, so that the client, still
# sending, gets the reply rather than a connection reset; anything larger closes the connection.
_DISCARD_LIMIT = 8 * 1024 * 1024
_SMSP_0001 = "SMSP-0001"
# A long `smsp sandbox serve` keeps only the most recent records, so memory stays bounded.
MAX_RECORDS = 10_000


@dataclass(frozen=True)
class RecordedRequest:
    """One request the sandbox answered: who asked, what, and the outcome. No patient data."""

    method: str
    path: str
    http_status: int
    outcome: str  # the response code (SMSP-0000...), the fault ErrorCode (1000...) or "HTTP 404"
    operation: str | None = None  # WSDL operation name, when the SOAPAction named one
    message_id: str | None = None
    tracking_id: str | None = None
    audit_ids: tuple[str, ...] = ()
    username: str | None = None  # wsse:Username
    client_cn: str | None = None  # Subject CN of the client's TLS certificate
    detail: str | None = None  # why a request was refused (never quotes patient values)
    rule: str | None = None  # the rule the refused request broke (spec section, ITK rule id)
    warnings: tuple[str, ...] = ()  # rules only recommended, or bent when lenient


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes
    content_type: str
    record: RecordedRequest
    allow: str | None = None


class SandboxServer:
    """An SMSP PDS provider on loopback, for new users and for every end-to-end test."""

    def __init__(
        self,
        credentials: SandboxCredentials,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        patients: Iterable[SandboxPatient] | None = None,
        path: str = DEFAULT_PATH,
        timeout: float = DEFAULT_TIMEOUT,
        on_request: Callable[[RecordedRequest], None] | None = None,
        on_body: Callable[[bytes], None] | None = None,
        lenient: bool = False,
    ) -> None:
        if patients is None:
            from smsp_cli.sandbox.builtin import BUILT_IN

            patients = BUILT_IN
        self.credentials = credentials
        self.host = host
        self.port = port
        self.path = path
        self.timeout = timeout
        self.on_request = on_request
        # Each SOAP body exactly as it arrived, in-process only (the patients are synthetic):
        # how a test compares what a send put on the wire with what --dry-run printed.
        self.on_body = on_body
        # As third-party providers are for their own clients: a wsse:Username other than the
        # CN, a charset other than UTF-8 and a SOAPAction other than wsa:Action are accepted,
        # each with a warning in the request's record. Off by default (and in the tests).
        self.lenient = lenient
        self.index = PatientIndex(patients)
        # Built now, so bad credentials fail here rather than on the first connection.
        self.ssl_context = server_context(credentials)
        self._records: collections.deque[RecordedRequest] = collections.deque(maxlen=MAX_RECORDS)
        self._records_lock = threading.Lock()
        self._httpd: _TlsHttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The endpoint, e.g. ``https://127.0.0.1:50123/smsp/pds`` (once started)."""
        if self._httpd is None:
            raise RuntimeError("the sandbox server has not been started")
        host, port = self._httpd.server_name, self._httpd.server_port
        # Listening on every interface: the loopback address is one the certificate names.
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
        shown = f"[{host}]" if ":" in host else host
        return f"https://{shown}:{port}{self.path}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the requests answered so far (the latest MAX_RECORDS), oldest first."""
        with self._records_lock:
            return list(self._records)

    def start(self) -> SandboxServer:
        """Listen, and serve in a daemon thread; calling it again does nothing."""
        if self._httpd is None:
            self._httpd = _TlsHttpServer((self.host, self.port), self)
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2},
                name="smsp-sandbox", daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve until :meth:`stop` is called or Ctrl-C is pressed (for ``smsp sandbox serve``)."""
        self.start()
        thread = self._thread
        try:
            while thread is not None and thread.is_alive():
                thread.join(timeout=0.5)  # short waits keep Ctrl-C responsive
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop accepting and close the listening socket; open connections time out."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def record(self, entry: RecordedRequest) -> None:
        """Keep a request's record (before its reply is sent, so a client that has the reply
        always finds the record)."""
        with self._records_lock:
            self._records.append(entry)

    def notify(self, entry: RecordedRequest) -> None:
        """Tell ``on_request`` about an answered request; its errors are ignored."""
        if self.on_request is not None:
            with contextlib.suppress(Exception):
                self.on_request(entry)


def server_context(credentials: SandboxCredentials) -> ssl.SSLContext:
    """TLS 1.2+, the sandbox server certificate, and client certificates required from its CA."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(credentials.server_cert, credentials.server_key)
    # The sandbox CA is the only trust anchor: no system store, so only its clients get in.
    context.load_verify_locations(cafile=credentials.ca_cert)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


_XML = "text/xml; charset=utf-8"
_TEXT = "text/plain; charset=utf-8"


class _TlsHttpServer(TlsHttpServer):
    sandbox: SandboxServer

    def __init__(self, address: tuple[str, int], sandbox: SandboxServer) -> None:
        super().__init__(address, sandbox, _Handler)


# http.client's limits on a request's header section, kept (431 beyond them).
_MAX_HEADER_LINE = 65536
_MAX_HEADERS = 100
# A header line as the standard library's email parser takes one: a field name (printable
# ASCII but the colon) and a colon; or a continuation of the line before (space or tab).
_FIELD = re.compile(r"[\x21-\x39\x3b-\x7e]*:")


class _Headers:
    """A request's header fields, looked up without case, the first of a name winning (as
    http.client's message does), read without the email parser: that parser cost a third of
    the sandbox's time a request."""

    def __init__(self, lines: list[str]) -> None:
        self._fields: dict[str, str] = {}
        name: str | None = None
        parts: list[str] = []
        for line in lines:
            if line[:1] in (" ", "\t") and name is not None:
                parts.append(line)  # folded onto the line before
                continue
            if name is not None:
                self._fields.setdefault(name, "".join(parts).rstrip("\r\n"))
                name = None
            if not _FIELD.match(line):
                break  # the email parser takes the rest as a body: no more fields
            field, _, value = line.partition(":")
            name, parts = field.lower(), [value.lstrip(" \t")]
        if name is not None:
            self._fields.setdefault(name, "".join(parts).rstrip("\r\n"))

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._fields.get(name.lower(), default)

    def __getitem__(self, name: str) -> str | None:
        return self._fields.get(name.lower())


class _NoHeaders:
    """What the standard parser reads as the header section: none (they are read after)."""

    @staticmethod
    def readline(limit: int = -1) -> bytes:
        return b"\r\n"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server_version = "smsp-sandbox"
    # Buffered, so the status line, headers and body leave in one write (handle_one_request
    # flushes after each request) rather than as several small TLS records.
    wbufsize = 64 * 1024
    server: _TlsHttpServer

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        return  # never log: requests carry patient data

    def parse_request(self) -> bool:
        """The request line by the standard library (an ``HTTP/1.1`` one here, as it would
        take it: its email parser costs even with no headers); the headers by
        :class:`_Headers`."""
        rfile = self.rfile
        raw: bytes = self.raw_requestline  # type: ignore[attr-defined]
        requestline = str(raw, "iso-8859-1").rstrip("\r\n")
        words = requestline.split()
        if len(words) == 3 and words[2] == "HTTP/1.1" and not words[1].startswith("//"):
            self.requestline, self.request_version = requestline, words[2]
            self.command, self.path = words[0], words[1]
            self.close_connection = False
        else:
            self.rfile = _NoHeaders()  # type: ignore[assignment]
            try:
                if not super().parse_request():
                    return False
            finally:
                self.rfile = rfile
        lines: list[str] = []
        while True:
            line = rfile.readline(_MAX_HEADER_LINE + 1)
            if len(line) > _MAX_HEADER_LINE:
                self.send_error(431, "Line too long", "header line")
                return False
            if line in (b"\r\n", b"\n", b""):
                break
            lines.append(line.decode("iso-8859-1"))
            if len(lines) > _MAX_HEADERS:
                self.send_error(431, "Too many headers", f"got more than {_MAX_HEADERS} headers")
                return False
        self.headers = _Headers(lines)  # type: ignore[assignment]
        connection = (self.headers.get("Connection") or "").lower()
        if connection == "close":
            self.close_connection = True
        elif connection == "keep-alive" and self.protocol_version >= "HTTP/1.1":
            self.close_connection = False
        expect = (self.headers.get("Expect") or "").lower()
        if (expect == "100-continue" and self.protocol_version >= "HTTP/1.1"
                and self.request_version >= "HTTP/1.1"):
            return self.handle_expect_100()
        return True

    def do_POST(self) -> None:
        self._serve()

    do_GET = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_POST

    def _serve(self) -> None:
        sandbox = self.server.sandbox
        base = RecordedRequest(method=self.command, path=self.path, http_status=0, outcome="",
                               client_cn=self._client_cn())
        try:
            reply = self._reply(sandbox, base)
        except Exception as exc:  # any bug must become fault 2200, not a dead thread
            self.close_connection = True  # the body may be half read
            reply = _fault_reply(base, PROCESSING_FAILED,
                                 "The sandbox failed to process the request",
                                 diagnostic=f"internal error: {type(exc).__name__}")
        if reply is None:
            self.close_connection = True  # the client stopped sending: nobody to answer
            return
        sandbox.record(reply.record)
        self._send(reply)
        sandbox.notify(reply.record)

    def _reply(self, sandbox: SandboxServer, base: RecordedRequest) -> _Reply | None:
        warnings: list[str] = []
        problem = checks.check_transport(
            self.command, self.path, path=sandbox.path,
            content_type=self.headers.get("Content-Type"),
            content_length=self.headers.get("Content-Length"),
            transfer_encoding=self.headers.get("Transfer-Encoding"),
            lenient=sandbox.lenient, warnings=warnings,
        )
        base = _with(base, warnings=tuple(warnings))
        if problem is None:
            body = self._read(int(self.headers["Content-Length"]))
            if body is None:
                return None
            if sandbox.on_body is not None:
                sandbox.on_body(body)
            return _soap_reply(sandbox.index, body, soap_action=self.headers.get("SOAPAction"),
                               client_cn=base.client_cn, base=base, lenient=sandbox.lenient)
        if not self._discard_body():
            self.close_connection = True
        if isinstance(problem, checks.HttpProblem):
            return _http_reply(base, problem)
        return _problem_reply(base, problem)

    def _read(self, length: int) -> bytes | None:
        try:
            body = self.rfile.read(length)
        except OSError:  # includes the socket timeout
            return None
        return body if len(body) == length else None

    def _discard_body(self) -> bool:
        """Read and drop a refused body; False when it cannot be, and the connection must close."""
        if self.headers.get("Transfer-Encoding") is not None:
            return False
        length = self.headers.get("Content-Length", "0").strip()
        if not length.isdigit() or int(length) > _DISCARD_LIMIT:
            return False
        remaining = int(length)
        while remaining:
            chunk = self._read(min(remaining, 64 * 1024))
            if not chunk:
                return False
            remaining -= len(chunk)
        return True

    def _send(self, reply: _Reply) -> None:
        self.send_response(reply.status)  # also sends Server and Date
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        if reply.allow is not None:
            self.send_header("Allow", reply.allow)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def _client_cn(self) -> str | None:
        connection = self.connection
        if not isinstance(connection, ssl.SSLSocket):
            return None
        subject = (connection.getpeercert() or {}).get("subject", ())
        for entry in subject if isinstance(subject, tuple) else ():
            for pair in entry:
                if isinstance(pair, tuple) and pair[0] == "commonName":
                    return str(pair[1])
        return None


def _soap_reply(index: PatientIndex, body: bytes, *, soap_action: str | None,
                client_cn: str | None, base: RecordedRequest, lenient: bool = False) -> _Reply:
    """The reply to one POSTed SOAP message: checks, then the patient index, then responses."""
    result = checks.check_request(body, soap_action=soap_action, client_cn=client_cn,
                                  lenient=lenient)
    base = _with(base, warnings=base.warnings + result.warnings)
    if isinstance(result, checks.EnvelopeProblem):
        return _problem_reply(base, result)
    envelope = result.envelope
    base = _with(base, operation=envelope.operation.name, message_id=envelope.message_id,
                 tracking_id=envelope.tracking_id, username=envelope.username,
                 audit_ids=tuple(audit.uri for audit in envelope.audit_ids))
    local_id: tuple[str, str] | None = None
    if isinstance(result, checks.PayloadProblem):
        # PROV-COMMON SMSP-VAL-001: payload validation failures are a response code.
        answer = Answer(_SMSP_0001, None)
        detail: str | None = result.reason
    else:
        criteria = result.criteria
        answer = index.answer(envelope.operation, criteria)
        if criteria.local_id_root is not None and criteria.local_id is not None:
            local_id = (criteria.local_id_root, criteria.local_id)  # echoed (spec §3.2)
        detail = None
    if answer.fault is not None:
        meaning = FAULT_CODES.get(answer.fault, ("Processing Error",))[0]
        return _fault_reply(
            base, answer.fault,
            f"sandbox scenario: this synthetic patient always answers fault {answer.fault}",
            diagnostic=meaning, relates_to=envelope.message_id)
    payload = responses.business_reply(envelope.operation, answer,
                                       relates_to=envelope.message_id, local_id=local_id)
    record = _with(base, http_status=200, outcome=answer.response_code, detail=detail)
    return _Reply(200, payload, _XML, record)


def _http_reply(base: RecordedRequest, problem: checks.HttpProblem) -> _Reply:
    record = _with(base, http_status=problem.status, outcome=f"HTTP {problem.status}",
                   detail=problem.reason)
    return _Reply(problem.status, (problem.reason + "\n").encode(), _TEXT, record,
                  allow="POST" if problem.status == 405 else None)


def _problem_reply(base: RecordedRequest, problem: checks.EnvelopeProblem) -> _Reply:
    base = _with(base, operation=problem.operation.name if problem.operation else None,
                 message_id=problem.message_id, username=problem.username, rule=problem.rule)
    return _fault_reply(base, problem.error_code, problem.reason, diagnostic=problem.rule,
                        faultcode=problem.faultcode, relates_to=problem.message_id)


def _fault_reply(
    base: RecordedRequest, error_code: str, text: str, *, diagnostic: str | None = None,
    faultcode: str | None = None, relates_to: str | None = None,
) -> _Reply:
    body = responses.fault_reply(error_code, text, diagnostic=diagnostic, faultcode=faultcode,
                                 relates_to=relates_to)
    record = _with(base, http_status=500, outcome=error_code, detail=text)
    # Spec §5.7 (WS-ADR-04 (5)): a SOAP fault travels on HTTP 500.
    return _Reply(500, body, _XML, record)


def _with(record: RecordedRequest, **changes: Any) -> RecordedRequest:
    return replace(record, **changes)
