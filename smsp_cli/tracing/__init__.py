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

from smsp_cli.tracing.collect import Phase, TlsSession, Trace
from smsp_cli.tracing.output import TRACE_FILE_MODE, TraceFile, session
from smsp_cli.tracing.text import bar, format_seconds, render, timing_lines

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
