"""The trace as text, curl -v style, with patient data redacted unless revealed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from smsp_cli.output import redact
from smsp_cli.untrusted.sanitize import hide_values, visible

if TYPE_CHECKING:
    from smsp_cli.transport.trace import Phase, Trace

def render(
    trace: Trace, *, reveal: bool, pretty: bool, hidden: Iterable[str] = ()
) -> str:
    """The exchange as text, curl -v style: ``*`` notes, ``>`` sent, ``<`` received.

    Unless revealed, patient data is redacted, and so is each of ``hidden`` (the values the
    user gave) wherever a provider's free text repeats it.
    """
    lines = [f"* {trace.method or 'POST'} {trace.url or '(not sent)'}"]
    if trace.attempts > 1:
        lines.append(f"* attempt {trace.attempts}: the earlier attempts failed; this is the last")
    lines += _connection_notes(trace)
    # As curl does, a request is shown once it was sent: not when the connection failed first.
    if trace.request_headers and trace.headers_sent:
        target = urlsplit(trace.url)
        path = target.path + (f"?{target.query}" if target.query else "")
        lines.append(f"> {trace.method} {path or '/'} HTTP/1.1")
        lines += _header_lines(">", trace.request_headers, reveal)
        if trace.body_sent:
            lines += _body_lines(">", trace.request_body, reveal, pretty)
        elif trace.request_body:
            lines.append("* the request body was not sent in full")
    elif trace.request_headers:
        lines.append("* request not sent")
    # What the provider sent is free text it controls: the values the user gave are hidden
    # there too (a fault may echo the patient), but not in smsp's own lines.
    provider: list[str] = []
    if trace.status is not None:
        provider.append(f"< {trace.http_version} {trace.status} {trace.reason}".rstrip())
        provider += _header_lines("<", trace.response_headers, reveal)
        provider += _body_lines("<", trace.response_body, reveal, pretty)
    if trace.error:
        provider.append(f"* failed: {trace.error if reveal else redact.scrub(trace.error)}")
    if not reveal:
        provider = [hide_values(line, hidden, redact.REDACTED) for line in provider]
    lines += provider
    lines += timing_lines(trace.phases(), trace.total)
    lines.append(
        "* NOT REDACTED: contains patient data (NHS Confidential)"
        if reveal
        else "* patient data redacted; --reveal shows it"
    )
    # Headers and bodies came from the provider: one sanitiser makes controls and bidi visible.
    return "\n".join(visible(line, keep_layout=True) for line in lines) + "\n"


def timing_lines(phases: list[Phase], total: float, *, width: int = 30) -> list[str]:
    """A text waterfall: each phase's start, duration and a bar on a common time axis."""
    lines = [f"* {'phase':<15}{'start':>10}{'took':>10}"]
    for phase in phases:
        note = "" if phase.completed else "  (did not finish)"
        lines.append(
            f"*   {phase.name:<13}{format_seconds(phase.start):>10}"
            f"{format_seconds(phase.duration):>10}  "
            f"|{bar(phase.start, phase.duration, total, width, '#'):<{width}}|{note}"
        )
    lines.append(f"*   {'total':<13}{'':>10}{format_seconds(total):>10}")
    return lines


def bar(start: float, duration: float, total: float, width: int, mark: str) -> str:
    """A bar placed on a ``width``-character axis for ``total`` seconds (at least one mark)."""
    if total <= 0:
        return mark
    left = min(int(start / total * width), width - 1)
    length = max(1, round(duration / total * width))
    return " " * left + mark * min(length, width - left)


def format_seconds(seconds: float) -> str:
    """``0.4 ms``, ``12 ms``, ``1.25 s``."""
    if seconds >= 1:
        return f"{seconds:.2f} s"
    milliseconds = seconds * 1000
    return f"{milliseconds:.1f} ms" if milliseconds < 10 else f"{milliseconds:.0f} ms"


def _connection_notes(trace: Trace) -> list[str]:
    notes = []
    if trace.dns_note or trace.addresses:
        shown = ", ".join(trace.addresses)
        notes.append(f"* resolved {shown}" + (f" ({trace.dns_note})" if trace.dns_note else ""))
    if trace.peer:
        notes.append(f"* connected to {trace.peer}")
    if trace.tls:
        tls = trace.tls
        notes.append(
            f"* TLS {tls.version or '?'}, cipher {tls.cipher or '?'}, "
            f"server certificate {tls.server_subject or '(not shown)'}"
        )
    return notes


def _header_lines(arrow: str, headers: list[tuple[str, str]], reveal: bool) -> list[str]:
    shown = headers if reveal else redact.headers(headers)
    return [f"{arrow} {name}: {value}" for name, value in shown]


def _body_lines(arrow: str, body: bytes | None, reveal: bool, pretty: bool) -> list[str]:
    if not body:
        return []
    text = redact.revealed(body, pretty=pretty) if reveal else redact.envelope(body, pretty=pretty)
    return [arrow] + [f"{arrow} {line}" for line in text.splitlines()]

