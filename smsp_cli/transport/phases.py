"""Which step of an exchange was under way when it timed out, from the transport's trace events.

httpx reports a TLS handshake that never ends as a *connect* timeout (the transport's connect
covers both), and a reply that never comes the same as one that stops half way. The trace
events tell them apart, so a timeout can name its phase as doctor does: connect, TLS
handshake, sending the request, waiting for the reply, reading the reply.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# The event prefix for each step (httpcore's names, which the transport keeps), in the
# order an exchange goes through them.
_STEPS = (
    ("connection.connect_tcp", "connect"),
    ("connection.start_tls", "TLS handshake"),
    ("http11.send_request_headers", "sending the request"),
    ("http11.send_request_body", "sending the request"),
    ("http11.receive_response_headers", "waiting for the reply"),
    ("http11.receive_response_body", "reading the reply"),
)
_PHASE = dict(_STEPS)

TraceHook = Callable[[str, dict[str, Any]], None]


class Progress:
    """The latest step an exchange started, fed by the transport through the ``trace`` extension."""

    __slots__ = ("_also", "_step", "replied")

    def __init__(self, also: TraceHook | None = None) -> None:
        self._also = also  # the -v trace's own hook, which sees every event too
        self._step: str | None = None
        self.replied = False  # the status line and headers have arrived

    def on_event(self, name: str, info: dict[str, Any]) -> None:
        step, _, stage = name.rpartition(".")
        if stage == "started" and step in _PHASE:
            self._step = step
        elif stage == "complete" and step == "http11.receive_response_headers":
            self.replied = True
        if self._also is not None:
            self._also(name, info)

    def phase(self) -> str | None:
        """The phase under way: ``"TLS handshake"`` and the like; None before any began.

        Once the headers are in, the rest is reading the reply, even before its body's
        first read begins.
        """
        if self.replied:
            return "reading the reply"
        return _PHASE.get(self._step) if self._step is not None else None
