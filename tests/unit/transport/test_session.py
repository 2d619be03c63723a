"""transport.Session: one TLS context and one keep-alive pool, shared by threads, each request
under its own deadline; service.call with and without one."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import TYPE_CHECKING

import httpx
import pytest

from smsp_cli import service
from smsp_cli.domain import operations
from smsp_cli.domain.errors import ExitCode, Unreachable
from smsp_cli.domain.models import build_query
from smsp_cli.settings.connection import ConnectionSettings, gather, resolve
from smsp_cli.transport import http as transport
from smsp_cli.transport.trace import Trace

if TYPE_CHECKING:
    from smsp_cli.sandbox.certs import SandboxCredentials
    from smsp_cli.sandbox.server import SandboxServer
    from tests.lib.hostile import HostileProvider

QUERY = build_query(operations.VERIFY, nhs_number="9991000003", dob="1984-03-14")


def _settings(url: str, credentials: SandboxCredentials, **extra: str) -> ConnectionSettings:
    values = {
        "endpoint": url,
        "cert": str(credentials.client_cert),
        "key": str(credentials.client_key),
        "ca_bundle": str(credentials.ca_cert),
        "audit_id": "868000003114",
        "kind": "test",
        **extra,
    }
    return resolve(gather({}, {}, values))


def _connected(trace: Trace) -> bool:
    return "connection.connect_tcp.started" in trace.marks


def test_one_session_keeps_one_connection_alive_for_many_calls(
    sandbox: SandboxServer, credentials: SandboxCredentials
) -> None:
    settings = _settings(sandbox.url, credentials)
    traces = [Trace() for _ in range(6)]
    with service.open_session(settings) as session:
        outcomes = [service.call(QUERY, settings, session=session, trace=t) for t in traces]
    assert [outcome.exit_code for outcome in outcomes] == [0] * 6
    assert [_connected(trace) for trace in traces] == [True] + [False] * 5


def test_without_a_session_each_call_opens_its_own_connection(
    sandbox: SandboxServer, credentials: SandboxCredentials
) -> None:
    settings = _settings(sandbox.url, credentials)
    traces = [Trace(), Trace()]
    for trace in traces:
        assert service.call(QUERY, settings, trace=trace).exit_code == 0
    assert [_connected(trace) for trace in traces] == [True, True]


def test_threads_share_a_session_and_never_lend_each_other_time(
    sandbox: SandboxServer, hostile: HostileProvider, provider_credentials: SandboxCredentials
) -> None:
    from tests.lib.hostile_behaviours import drips

    hostile.serve(drips()[1])  # the status line, one byte every 0.3 s
    # One CA bundle for both: the sandbox's CA and the hostile provider's own.
    fast = _settings(sandbox.url, provider_credentials)
    slow = _settings(hostile.url, provider_credentials, timeout="1", max_attempts="1")
    failures: list[tuple[BaseException, float]] = []
    answered: list[int] = []

    with service.open_session(fast, max_connections=4) as session:

        def dripped() -> None:
            started = time.monotonic()
            try:
                service.call(QUERY, slow, session=session)
            except Unreachable as error:
                failures.append((error, time.monotonic() - started))

        def quick() -> None:
            for _ in range(4):
                answered.append(service.call(QUERY, fast, session=session).exit_code)

        threads = [threading.Thread(target=dripped)] + [
            threading.Thread(target=quick) for _ in range(3)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert answered == [0] * 12
    assert len(failures) == 1
    error, seconds = failures[0]
    assert "was too slow" in str(error)
    assert error.exit_code == ExitCode.UNREACHABLE  # type: ignore[attr-defined]
    assert 1.8 <= seconds < 2 + 1.5


def test_a_session_on_a_mock_transport_needs_no_network() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"<ok/>")

    with transport.Session(None, transport=httpx.MockTransport(handler)) as session:
        replies = [
            session.post(
                "https://provider.test/smsp/pds", b"<x/>", soap_action="a",
                connect_timeout=1, read_timeout=1,
            )
            for _ in range(3)
        ]
    assert [reply.body for reply in replies] == [b"<ok/>"] * 3
    assert [request.headers["Accept-Encoding"] for request in seen] == ["identity"] * 3


def test_call_takes_a_session_or_a_transport_not_both(credentials: SandboxCredentials) -> None:
    settings = _settings("https://provider.test/smsp/pds", credentials)
    mock = httpx.MockTransport(lambda request: httpx.Response(500))
    with (
        transport.Session(None, transport=mock) as session,
        pytest.raises(ValueError, match="not both"),
    ):
        service.call(QUERY, settings, session=session, transport=mock)



def test_a_server_without_tls_1_3_is_named_as_such_when_the_profile_requires_it(
    credentials: SandboxCredentials,
) -> None:
    import socket
    import ssl

    from smsp_cli.transport import http as transport

    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.maximum_version = ssl.TLSVersion.TLSv1_2  # an older provider
    server_side.load_cert_chain(credentials.server_cert, credentials.server_key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve_one() -> None:
        sock, _ = listener.accept()
        with sock, contextlib.suppress(OSError):
            server_side.wrap_socket(sock, server_side=True)

    thread = threading.Thread(target=serve_one, daemon=True)
    thread.start()
    context = transport.ssl_context(credentials.ca_cert, credentials.client_cert,
                                    credentials.client_key, min_tls_version="1.3")
    with listener, pytest.raises(Unreachable) as caught:
        transport.post(f"https://127.0.0.1:{port}/smsp/pds", b"<x/>", soap_action="a",
                       context=context, connect_timeout=5, read_timeout=5)
    thread.join(timeout=5)
    assert caught.value.message == (
        f"TLS handshake with 127.0.0.1:{port} failed: the server does not support TLS 1.3, "
        "which min_tls_version 1.3 requires")
