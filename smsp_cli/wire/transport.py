"""The only module that talks HTTP: mutual TLS with httpx, timeouts, a bounded reply body.

httpx errors are translated here, so nothing above this module sees them::

    httpx.TransportError
    ├── httpx.TimeoutException (Connect/Read/Write/Pool)  -> Unreachable "timed out"
    ├── httpx.ConnectError      DNS, refused, TLS handshake -> Unreachable, cause named
    │                           (server certificate not verified -> UntrustedServer)
    ├── httpx.ReadError / WriteError / RemoteProtocolError  -> Unreachable / ProviderFailed
    └── ...

Timeouts, refused or reset connections and connections dropped mid-exchange are raised as
:class:`TransientNetworkError`, the failures :mod:`smsp_cli.wire.retry` may try again (spec §5.9);
DNS, TLS and certificate failures are not, because sending again cannot fix them.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from smsp_cli.errors import ConfigError, ProviderFailed, Unreachable, UnsafeReply, UntrustedServer
from smsp_cli.wire.xmlsafe import MAX_BODY_BYTES

if TYPE_CHECKING:
    import httpx

    from smsp_cli.settings.clientcert import ClientCredentials
    from smsp_cli.tracing import Trace


@dataclass(frozen=True)
class HttpReply:
    """What came back over the wire, read within the size bound."""

    status_code: int
    headers: Mapping[str, str]
    body: bytes
    elapsed: float  # seconds from sending to the last byte


class TransientNetworkError(Unreachable):
    """A timeout or a refused, reset or dropped connection: it may pass (spec §5.9)."""


_TLS_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def ssl_context(
    ca_bundle: Path,
    cert: Path,
    key: Path | None = None,
    *,
    client: ClientCredentials | None = None,
    min_tls_version: str = "1.2",
) -> ssl.SSLContext:
    """A client context: TLS 1.2+, our CA bundle, our certificate; server always verified.

    ``client`` is the already loaded certificate and key (see :mod:`smsp_cli.settings.clientcert`);
    without it, ``cert`` and ``key`` are read here and must not be encrypted.
    """
    files = ((ca_bundle, "CA bundle"), (cert, "client certificate"), (key, "client key"))
    for path, what in files if client is None else files[:1]:
        if path is not None and not path.is_file():
            raise ConfigError(f"{what} {path} does not exist or is not a file")
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    # Spec §5.8: TLS 1.2 or later; a profile may insist on 1.3.
    context.minimum_version = _TLS_VERSIONS.get(min_tls_version, ssl.TLSVersion.TLSv1_2)
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    try:
        context.load_verify_locations(cafile=str(ca_bundle))
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"CA bundle {ca_bundle} is not readable PEM: {_reason(exc)}") from None
    from smsp_cli.settings import clientcert

    # The key goes through clientcert, which never writes it to disk in the clear.
    (client or clientcert.load(cert, key)).load_into(context)
    return context


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
    """POST a SOAP envelope and read the reply, refusing bodies over ``max_bytes``.

    ``trace`` (for -v, --trace-file and doctor) records phase timings, headers and bodies.
    """
    import httpx

    timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
    headers = {
        "Content-Type": "text/xml; charset=utf-8",
        # The NHS examples send SOAPAction unquoted; WS-I BP quotes it: configurable (spec §5.5).
        "SOAPAction": f'"{soap_action}"' if quote_soap_action else soap_action,
    }
    # A server that drips one byte at a time never trips the per-read timeout, so the whole
    # exchange also has a deadline.
    deadline = time.monotonic() + connect_timeout + read_timeout
    started = time.monotonic()
    try:
        with (
            httpx.Client(
                verify=context if context is not None else True,
                timeout=timeout,
                transport=transport,
                trust_env=False,
                follow_redirects=False,
                event_hooks=trace.hooks() if trace is not None else None,
            ) as client,
            client.stream(
                "POST",
                url,
                content=body,
                headers=headers,
                extensions=trace.extensions() if trace is not None else None,
            ) as response,
        ):
            data = _read_bounded(response, max_bytes, deadline)
            if trace is not None:
                trace.on_body(data)
            return HttpReply(
                status_code=response.status_code,
                headers=dict(response.headers),
                body=data,
                elapsed=time.monotonic() - started,
            )
    except httpx.TimeoutException:
        raise TransientNetworkError(
            f"timed out talking to {_host(url)} "
            f"(connect {connect_timeout:g}s, read {read_timeout:g}s)",
            hint="check the endpoint, or raise --timeout",
        ) from None
    except httpx.ConnectError as exc:
        failure = TransientNetworkError if _transient(exc) else Unreachable
        if isinstance(_root_cause(exc), ssl.SSLCertVerificationError):
            failure = UntrustedServer
        raise failure(_connect_failure(url, exc)) from None
    except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:
        raise TransientNetworkError(
            f"connection to {_host(url)} failed: {_reason(exc)}"
        ) from None
    except httpx.InvalidURL as exc:
        raise ConfigError(f"endpoint {url!r} is not a valid URL: {exc}") from None
    except httpx.HTTPError as exc:
        raise ProviderFailed(f"HTTP exchange with {_host(url)} failed: {_reason(exc)}") from None


def _read_bounded(response: httpx.Response, max_bytes: int, deadline: float) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise UnsafeReply(f"reply of {declared} bytes is over the {max_bytes}-byte limit")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise UnsafeReply(f"reply is over the {max_bytes}-byte limit; stopped reading")
        if time.monotonic() > deadline:
            raise TransientNetworkError("the provider is sending its reply too slowly; gave up")
        chunks.append(chunk)
    return b"".join(chunks)


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.netloc or url


_TLS_ALERTS = {
    "unknown ca": "the server does not trust our client certificate's CA",
    "bad certificate": "the server rejected our client certificate",
    "certificate required": "the server requires a client certificate",
    "certificate expired": "the server says a certificate has expired",
    "certificate unknown": "the server rejected our client certificate",
    "handshake failure": "TLS handshake failure (no common protocol or cipher, or the server "
    "refused our certificate)",
    "wrong version number": "the server did not answer with TLS (is it plain HTTP?)",
    "record layer failure": "the server did not answer with TLS (is it plain HTTP?)",
    "protocol version": "the server does not support TLS 1.2 or later",
}


def _connect_failure(url: str, exc: Exception) -> str:
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


@dataclass(frozen=True)
class KeptAlivePool:
    """A connection pool shared by many :func:`post` calls (smsp batch), and its closer."""

    transport: httpx.BaseTransport
    close: Callable[[], None]


def kept_alive(context: ssl.SSLContext, connections: int) -> KeptAlivePool:
    """One pool of up to ``connections`` kept-alive connections, with one TLS context.

    Each post's client closes its transport when done; the pool's transport ignores that, so
    connections and TLS sessions outlive every post until ``close()``.
    """
    import httpx

    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    pool = httpx.HTTPTransport(verify=context, limits=limits, trust_env=False)

    class Shared(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            return pool.handle_request(request)

        def close(self) -> None:
            """Left open: the pool belongs to the batch, not to one post."""

    return KeptAlivePool(Shared(), pool.close)
