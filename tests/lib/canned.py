"""A provider with a canned answer: real HTTPS and mutual TLS on 127.0.0.1, one fixed reply.

It uses the sandbox's certificates, so the settings that reach the sandbox (the
``sandbox_env`` fixture) reach it too, with ``--endpoint`` pointing here.
"""

from __future__ import annotations

import contextlib
import email.utils
import re
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from smsp_cli.sandbox.certs import SandboxCredentials
from smsp_cli.sandbox.server import server_context

_MESSAGE_ID = re.compile(rb"<(?:\w+:)?MessageID>([^<]*)</(?:\w+:)?MessageID>")
_RELATES_TO = re.compile(rb"(<(?:\w+:)?RelatesTo>)[^<]*(</(?:\w+:)?RelatesTo>)")


def answering(body: bytes, request: bytes) -> bytes:
    """``body`` with its wsa:RelatesTo (if any) naming the request's MessageID."""
    sent = _MESSAGE_ID.search(request)
    if sent is None:
        return body
    return _RELATES_TO.sub(lambda found: found[1] + sent[1] + found[2], body, count=1)


class CannedProvider(ThreadingHTTPServer):
    """Answers every POST with ``status`` and ``body``; asks for a client certificate.

    The body answers the request it is sent for: a RelatesTo in it names that request's
    MessageID, as a provider's would.

    ``clock_offset`` (seconds) moves the clock its ``Date`` header tells, as a provider whose
    clock is wrong would. ``respond``, when set, makes each reply's body from the request's
    bytes instead (a simulator filling its templates' tags from the request); it counts the
    requests in ``requests``.
    """

    daemon_threads = True

    def __init__(
        self, credentials: SandboxCredentials, body: bytes, *, status: int = 200,
        clock_offset: float = 0.0,
    ) -> None:
        self.body = body
        self.respond: Callable[[bytes], bytes] | None = None
        self.requests = 0
        self.status = status
        self.clock_offset = clock_offset
        self.context = server_context(credentials)
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        """The endpoint to give smsp."""
        return f"https://127.0.0.1:{self.server_address[1]}/smsp/pds"

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(5)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except OSError:
            return
        with contextlib.closing(tls):
            _Handler(tls, client_address, self)


class _Handler(BaseHTTPRequestHandler):
    server: CannedProvider

    def do_POST(self) -> None:
        request = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.requests += 1
        made = self.server.respond
        body = answering(self.server.body if made is None else made(request), request)
        self.send_response(self.server.status)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def date_time_string(self, timestamp: float | None = None) -> str:
        moment = (timestamp or time.time()) + self.server.clock_offset
        return email.utils.formatdate(moment, usegmt=True)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextlib.contextmanager
def canned(credentials: SandboxCredentials, body: bytes, *, status: int = 200) -> Iterator[str]:
    """Serve ``body`` for the block; yield the endpoint URL."""
    server = CannedProvider(credentials, body, status=status)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def soap_fault(code: str, text: str, diagnostic: str = "") -> bytes:
    """A SOAP 1.1 fault with an ITK ToolkitErrorInfo detail (spec §5.7), as the sandbox builds
    one: the text is escaped, so any characters can be sent."""
    from smsp_cli.sandbox.responses import fault_reply

    return fault_reply(code, text, diagnostic=diagnostic or None)
