"""Limits on a reply's HTTP/1.1 framing, checked as its bytes arrive from the socket.

The reply reader (:mod:`smsp_cli.transport.http11`) keeps what has arrived until a head (or
a chunk-size line, or the trailers) is whole. A head that never ends would grow that buffer
without bound, and a reply that is not HTTP/1.x at all (HTTP/0.9's bare body, HTTP/2) would be
read to its end before being refused. So after every read the reader asks these checks about
the part it is still waiting to complete, and once it is whole about each of its lines; each
raises :class:`FramingError` naming what broke which limit, and nothing beyond the current
part is ever kept: a hostile reply costs no memory.

A real SMSP or PDS FHIR reply has a head of a few hundred bytes; these limits are generous.
"""

from __future__ import annotations

MAX_LINE_BYTES = 16 * 1024  # the status line, or one header line
MAX_HEAD_BYTES = 64 * 1024  # a whole header section (as http.client's line limit)
MAX_CHUNK_LINE_BYTES = 4 * 1024  # a chunk-size line, extensions included
MAX_TRAILER_BYTES = 16 * 1024  # every trailer line of a chunked body together

_PREFIX = b"HTTP/1."


class FramingError(ValueError):
    """A reply's framing broke a limit or is not HTTP/1.x; the message says which."""


NOT_HTTP_1 = "the provider's reply does not begin with an HTTP/1.x status line"
SWITCHED = ("the provider switched protocols (101 Switching Protocols), which smsp never "
            "asked for")


def check_head_so_far(buffer: bytes | bytearray) -> None:
    """A head still without its blank line: begun as HTTP/1.x, its lines and itself within
    the limits so far."""
    start = bytes(buffer[:len(_PREFIX)])
    if not (_PREFIX.startswith(start) or start.startswith(_PREFIX)):
        # HTTP/0.9 (no status line at all), HTTP/2 or anything else: known at once.
        raise FramingError(NOT_HTTP_1)
    line_start = buffer.rfind(b"\n") + 1
    _check_line(len(buffer) - line_start - buffer.endswith(b"\r"), first=line_start == 0)
    _check_head_size(len(buffer))


def check_head(lines: list[bytes], size: int) -> None:
    """A whole head (``size`` bytes before its blank line): each line within the limit."""
    if size > MAX_LINE_BYTES:  # only then can one of its lines be over it
        for number, line in enumerate(lines):
            _check_line(len(line), first=number == 0)
    _check_head_size(size)


def check_chunk_line(size: int) -> None:
    """A chunk-size line of ``size`` bytes (so far, or whole) without its CRLF."""
    if size > MAX_CHUNK_LINE_BYTES:
        raise FramingError(
            f"the provider's reply had a chunk-size line over {MAX_CHUNK_LINE_BYTES} bytes")


def check_trailers(size: int) -> None:
    """The trailer section, ``size`` bytes of it (so far, or whole)."""
    if size > MAX_TRAILER_BYTES:
        raise FramingError(f"the provider's reply had trailers over {MAX_TRAILER_BYTES} bytes")


def _check_line(size: int, *, first: bool) -> None:
    if size > MAX_LINE_BYTES:
        what = "status line" if first else "header line"
        raise FramingError(f"the provider's reply had a {what} over {MAX_LINE_BYTES} bytes")


def _check_head_size(size: int) -> None:
    if size > MAX_HEAD_BYTES:
        raise FramingError(f"the provider's reply had a header section over {MAX_HEAD_BYTES} "
                           "bytes")
