"""The only module that talks HTTP: mutual TLS with httpx, timeouts, a bounded reply body.

httpx errors are translated here, so nothing above this module sees them::

    httpx.TransportError
    ├── httpx.TimeoutException (Connect/Read/Write/Pool)  -> Unreachable "timed out"
    ├── httpx.ConnectError      DNS, refused, TLS handshake -> Unreachable, cause named
    ├── httpx.ReadError / WriteError / RemoteProtocolError  -> Unreachable / ProviderFailed
    └── ...
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from smsp_cli.errors import ConfigError, ProviderFailed, Unreachable, UnsafeReply
from smsp_cli.xmlsafe import MAX_BODY_BYTES

if TYPE_CHECKING:
    import httpx


@dataclass(frozen=True)
class HttpReply:
    """What came back over the wire, read within the size bound."""

    status_code: int
    headers: Mapping[str, str]
    body: bytes
    elapsed: float  # seconds from sending to the last byte


def ssl_context(ca_bundle: Path, cert: Path, key: Path) -> ssl.SSLContext:
    """A client context: TLS 1.2+, our CA bundle, our certificate; server always verified."""
    for path, what in ((ca_bundle, "CA bundle"), (cert, "client certificate"), (key, "client key")):
        if not path.is_file():
            raise ConfigError(f"{what} {path} does not exist or is not a file")
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    try:
        context.load_verify_locations(cafile=str(ca_bundle))
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"CA bundle {ca_bundle} is not readable PEM: {_reason(exc)}") from None
    try:
        context.load_cert_chain(certfile=str(cert), keyfile=str(key))
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc):
            raise ConfigError(f"client key {key} does not match certificate {cert}") from None
        raise ConfigError(
            f"client certificate {cert} or key {key} is not readable PEM: {_reason(exc)}"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read client certificate {cert} or key {key}: {exc}") from None
    return context


def post(
    url: str,
    body: bytes,
    *,
    soap_action: str,
    context: ssl.SSLContext | None,
    connect_timeout: float,
    read_timeout: float,
    max_bytes: int = MAX_BODY_BYTES,
    transport: httpx.BaseTransport | None = None,
) -> HttpReply:
    """POST a SOAP envelope and read the reply, refusing bodies over ``max_bytes``."""
    import httpx

    timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
    headers = {
        "Content-Type": "text/xml; charset=utf-8",
        # The NHS examples send SOAPAction unquoted (spec §5.5).
        "SOAPAction": soap_action,
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
            ) as client,
            client.stream("POST", url, content=body, headers=headers) as response,
        ):
            data = _read_bounded(response, max_bytes, deadline)
            return HttpReply(
                status_code=response.status_code,
                headers=dict(response.headers),
                body=data,
                elapsed=time.monotonic() - started,
            )
    except httpx.TimeoutException:
        raise Unreachable(
            f"timed out talking to {_host(url)} "
            f"(connect {connect_timeout:g}s, read {read_timeout:g}s)",
            hint="check the endpoint, or raise --timeout",
        ) from None
    except httpx.ConnectError as exc:
        raise Unreachable(_connect_failure(url, exc)) from None
    except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:
        raise Unreachable(f"connection to {_host(url)} failed: {_reason(exc)}") from None
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
            raise Unreachable("the provider is sending its reply too slowly; gave up")
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


def _root_cause(exc: BaseException) -> BaseException:
    seen = exc
    while seen.__cause__ is not None or seen.__context__ is not None:
        seen = seen.__cause__ or seen.__context__  # type: ignore[assignment]
    return seen


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())
