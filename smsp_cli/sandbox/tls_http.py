"""The HTTPS server both sandboxes run on: threads, with each TLS handshake in its own thread."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import ssl
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol


class TlsSandbox(Protocol):
    """What the server needs of the sandbox it serves."""

    @property
    def timeout(self) -> float: ...

    @property
    def ssl_context(self) -> ssl.SSLContext: ...


class TlsHttpServer(ThreadingHTTPServer):
    """A threading HTTP server whose connections do their TLS handshake in their own thread."""

    daemon_threads = True
    block_on_close = False  # stop() must not wait for idle keep-alive connections

    def __init__(self, address: tuple[str, int], sandbox: TlsSandbox,
                 handler: type[BaseHTTPRequestHandler]) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.sandbox = sandbox
        self._handler = handler
        super().__init__(address, handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can stall on DNS; not needed.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def finish_request(self, request: Any, client_address: Any) -> None:
        sock: socket.socket = request
        # Here, in the connection's own thread, a silent client only ever blocks itself.
        sock.settimeout(self.sandbox.timeout)
        # A reply's last segment must not wait for the client's delayed ACK (Nagle): with
        # keep-alive that stall is 40 ms a lookup.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.sandbox.ssl_context.wrap_socket(sock, server_side=True)
        except (ssl.SSLError, OSError):
            return  # no or untrusted client certificate, not TLS, or silence until the timeout
        try:
            self._handler(tls, client_address, self)
        finally:
            with contextlib.suppress(OSError):
                tls.shutdown(socket.SHUT_RDWR)
            tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver prints a traceback to stderr by default; stay silent (no patient data).
        return
