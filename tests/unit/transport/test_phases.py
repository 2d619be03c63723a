"""A timeout names the phase under way, read from the transport's trace events (httpcore's
names)."""

from __future__ import annotations

import pytest

from smsp_cli.transport.phases import Progress

_CONNECTED = ["connection.connect_tcp.started", "connection.connect_tcp.complete"]
_TLS = ["connection.start_tls.started", "connection.start_tls.complete"]
_SENT = ["http11.send_request_headers.started", "http11.send_request_headers.complete",
         "http11.send_request_body.started", "http11.send_request_body.complete"]


@pytest.mark.parametrize(("events", "phase"), [
    ([], None),
    (["connection.connect_tcp.started"], "connect"),
    ([*_CONNECTED, "connection.start_tls.started"], "TLS handshake"),
    ([*_CONNECTED, *_TLS, "http11.send_request_headers.started"], "sending the request"),
    ([*_CONNECTED, *_TLS, *_SENT, "http11.receive_response_headers.started"],
     "waiting for the reply"),
    ([*_CONNECTED, *_TLS, *_SENT, "http11.receive_response_headers.started",
      "http11.receive_response_headers.complete"], "reading the reply"),
    ([*_SENT, "http11.receive_response_headers.started",  # a kept-alive connection
      "http11.receive_response_headers.complete", "http11.receive_response_body.started"],
     "reading the reply"),
])
def test_the_phase_is_the_step_last_started(events: list[str], phase: str | None) -> None:
    seen: list[str] = []
    progress = Progress(lambda name, info: seen.append(name))
    for name in events:
        progress.on_event(name, {})
    assert progress.phase() == phase
    assert seen == events  # the -v trace still sees every event
