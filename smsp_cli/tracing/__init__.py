"""What happened on the wire during one lookup: phase timings, headers, both envelopes.

A :class:`Trace` (:mod:`.collect`) is handed to :meth:`smsp_cli.wire.transport.Session.post`,
which wires it into httpx: httpcore reports connect, TLS, send and receive through the ``trace``
request extension, and the session shows it the request as built (with the headers httpx adds)
and the response headers as they arrive. The host name is resolved inside the TCP connect, so
the DNS time shown is a separate ``getaddrinfo`` made just before the request; the connect time
therefore includes a second (usually cached) resolution.

``-v`` prints the report (:mod:`.text`) to stderr with patient data redacted
(:mod:`smsp_cli.output.redact`); ``--trace-file`` writes it to a new 0600 file (:mod:`.output`);
``--reveal`` turns redaction off for both. Nothing here imports httpx: the hooks only receive
its objects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smsp_cli.lazyexports import lazy_exports

if TYPE_CHECKING:
    from smsp_cli.tracing.collect import Phase, TlsSession, Trace
    from smsp_cli.tracing.output import TRACE_FILE_MODE, TraceFile, session
    from smsp_cli.tracing.text import bar, format_seconds, render, timing_lines

# Every lookup asks for a trace session, few for a trace: each name is imported from its
# module on first use, so a lookup without -v or --trace-file loads only .output.
_HOMES = {
    "Phase": "collect",
    "TlsSession": "collect",
    "Trace": "collect",
    "TRACE_FILE_MODE": "output",
    "TraceFile": "output",
    "session": "output",
    "bar": "text",
    "format_seconds": "text",
    "render": "text",
    "timing_lines": "text",
}


__getattr__ = lazy_exports(__name__, _HOMES)

__all__ = [
    "TRACE_FILE_MODE",
    "Phase",
    "TlsSession",
    "Trace",
    "TraceFile",
    "bar",
    "format_seconds",
    "render",
    "session",
    "timing_lines",
]
