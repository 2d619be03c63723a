"""Transport: headers sent, reply size bounded, network failures named (httpx.MockTransport)."""

from __future__ import annotations

import ssl

import httpx
import pytest

from smsp_cli.domain.errors import (
    CertificateRefused,
    ConfigError,
    ExitCode,
    Unreachable,
    UnsafeReply,
)
from smsp_cli.transport import http as transport
from smsp_cli.transport.retry import is_retryable

URL = "https://provider.test/smsp/pds"


def _post(handler: object, *, max_bytes: int = 1024) -> transport.HttpReply:
    return transport.post(
        URL,
        b"<x/>",
        soap_action="urn:nhs-itk:services:201005:getNHSNumber-v1-0",
        context=None,
        connect_timeout=1,
        read_timeout=1,
        max_bytes=max_bytes,
        transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
    )


def test_soap_headers_and_body_are_sent() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"<ok/>")

    reply = _post(handler)
    assert reply.status_code == 200
    assert reply.body == b"<ok/>"
    assert seen[0].method == "POST"
    assert seen[0].headers["SOAPAction"] == "urn:nhs-itk:services:201005:getNHSNumber-v1-0"
    assert seen[0].headers["Content-Type"] == "text/xml; charset=utf-8"
    assert seen[0].content == b"<x/>"


def test_declared_oversized_reply_refused_before_reading() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": "999999"}, content=b"x" * 10)

    with pytest.raises(UnsafeReply, match="over the 1024-byte limit") as caught:
        _post(handler)
    assert caught.value.exit_code == ExitCode.PROVIDER_FAILED


def test_streamed_oversized_reply_refused() -> None:
    def chunks() -> object:
        for _ in range(100):
            yield b"y" * 100

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=chunks())  # type: ignore[arg-type]

    with pytest.raises(UnsafeReply, match="stopped reading"):
        _post(handler)


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (httpx.ConnectTimeout("slow"), "timed out"),
        (httpx.ReadTimeout("slow"), "too slow: timed out"),
        (httpx.ConnectError("[Errno 111] Connection refused"), "refused"),
        (httpx.ConnectError("[Errno -2] Name or service not known"), "cannot resolve"),
        (
            httpx.ConnectError(
                "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required"
            ),
            "requires a client certificate",
        ),
        (
            httpx.ConnectError("[SSL: SSLV3_ALERT_BAD_CERTIFICATE] sslv3 alert bad certificate"),
            "rejected your client certificate as invalid",
        ),
        (httpx.ConnectError("[SSL: WRONG_VERSION_NUMBER] wrong version number"), "plain HTTP"),
        (httpx.RemoteProtocolError("Server disconnected"), "failed"),
    ],
)
def test_network_failures_exit_5_with_the_cause(error: Exception, text: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    with pytest.raises(Unreachable) as caught:
        _post(handler)
    assert caught.value.exit_code == ExitCode.UNREACHABLE
    assert text in caught.value.one_line()
    assert "provider.test" in caught.value.one_line()


def test_missing_credential_files_are_configuration_errors(tmp_path: object) -> None:
    from pathlib import Path

    base = Path(str(tmp_path))
    with pytest.raises(ConfigError, match="CA bundle") as caught:
        transport.ssl_context(base / "ca.pem", base / "cert.pem", base / "key.pem")
    assert caught.value.exit_code == ExitCode.CONFIG
    (base / "ca.pem").write_text("not a certificate")
    (base / "cert.pem").write_text("junk")
    (base / "key.pem").write_text("junk")
    with pytest.raises(ConfigError, match="not readable PEM"):
        transport.ssl_context(base / "ca.pem", base / "cert.pem", base / "key.pem")


def test_reply_dripped_slower_than_the_deadline_is_abandoned() -> None:
    import time

    def drip() -> object:
        for _ in range(200):  # 10 s in all: far past the 0.3 s deadline
            time.sleep(0.05)
            yield b"z"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=drip())  # type: ignore[arg-type]

    started = time.monotonic()
    with pytest.raises(Unreachable, match="was too slow"):
        transport.post(
            URL,
            b"<x/>",
            soap_action="a",
            context=None,
            connect_timeout=0.1,
            read_timeout=0.2,
            transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
        )
    assert time.monotonic() - started < 3  # the deadline is 0.3 s; the whole drip takes 10


def _ssl_error(reason: str, text: str) -> ssl.SSLError:
    error = ssl.SSLError(1, text)
    error.reason = reason  # as OpenSSL's errors carry it
    return error


@pytest.mark.parametrize("raised", [httpx.ConnectError, httpx.ReadError, httpx.WriteError])
@pytest.mark.parametrize(
    ("reason", "alert", "cause"),
    [
        ("TLSV1_ALERT_UNKNOWN_CA", "unknown ca",
         "the server does not trust the CA that issued your client certificate"),
        ("SSLV3_ALERT_CERTIFICATE_EXPIRED", "certificate expired",
         "the server says your client certificate (or a CA in its chain) has expired"),
        ("SSLV3_ALERT_CERTIFICATE_REVOKED", "certificate revoked",
         "the server says your client certificate has been revoked"),
        ("TLSV1_ALERT_ACCESS_DENIED", "access denied", "the server refuses this client"),
        ("TLSV13_ALERT_CERTIFICATE_REQUIRED", "certificate required",
         "the server requires a client certificate and none was sent"),
    ],
)
def test_an_alert_refusing_our_certificate_is_its_own_failure_wherever_it_arrives(
    raised: type[httpx.TransportError], reason: str, alert: str, cause: str
) -> None:
    # TLS 1.2 ends the handshake with it (ConnectError); TLS 1.3 sends it after our side of
    # the handshake is over, so it is the error of the first read (or write).
    def handler(request: httpx.Request) -> httpx.Response:
        try:
            raise _ssl_error(reason, f"[SSL: {reason}] alert ({alert})")
        except ssl.SSLError as exc:
            raise raised("TLS failed") from exc

    with pytest.raises(CertificateRefused) as caught:
        _post(handler)
    assert caught.value.alert == alert
    assert caught.value.exit_code == ExitCode.UNREACHABLE
    assert caught.value.one_line() == (
        f"the provider at provider.test refused our client certificate: {cause} "
        f"(TLS alert '{alert}')"
    )
    assert not is_retryable(caught.value)


def test_other_alerts_on_a_read_stay_a_dropped_connection() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        try:
            raise _ssl_error("TLSV1_ALERT_INTERNAL_ERROR", "internal error")
        except ssl.SSLError as exc:
            raise httpx.ReadError("TLS failed") from exc

    with pytest.raises(Unreachable) as caught:
        _post(handler)
    assert not isinstance(caught.value, CertificateRefused)
    assert is_retryable(caught.value)
