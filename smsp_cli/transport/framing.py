"""Limits on a reply's HTTP/1.1 framing, checked on its bytes as they arrive from the socket.

The reply reader (:mod:`smsp_cli.transport.http11`) refuses a head or chunk header it cannot
parse, but a head that never ends would grow its buffer without bound first, and a ``101
Switching Protocols`` is an upgrade nobody proposed. :class:`ReplyFraming` follows the framing
of each reply (status line, header section, any 1xx heads, then a Content-Length or chunked
body and its trailers) on the bytes the socket gives, before the reader keeps them, and
raises :class:`FramingError` naming what broke which limit. It keeps no more than the current
head (at most :data:`MAX_HEAD_BYTES`) or line: a hostile reply costs it no memory.

A real SMSP or PDS FHIR reply has a head of a few hundred bytes; these limits are generous.
"""

from __future__ import annotations

import re

MAX_LINE_BYTES = 16 * 1024  # the status line, or one header line
MAX_HEAD_BYTES = 64 * 1024  # a whole header section (as http.client's line limit)
MAX_CHUNK_LINE_BYTES = 4 * 1024  # a chunk-size line, extensions included
MAX_TRAILER_BYTES = 16 * 1024  # every trailer line of a chunked body together

_STATUS = re.compile(rb"HTTP/1\.[01] (\d{3})(?: |$)")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,20})(?:[ \t;]|$)")  # no sign, no _
_PREFIX = b"HTTP/1."
_CRLF = b"\r\n"

# Where the reader is in the reply.
_HEAD, _LENGTH, _CHUNK_LINE, _CHUNK_DATA, _CHUNK_END, _TRAILERS, _DONE = range(7)


class FramingError(ValueError):
    """A reply's framing broke a limit or is not HTTP/1.x; the message says which."""


class ReplyFraming:
    """Follows one connection's replies; :meth:`request_sent` starts each one afresh."""

    def __init__(self) -> None:
        self._state = _DONE
        self._line = bytearray()  # the current line, unterminated
        self._head: list[bytes] = []  # the current head's complete lines
        self._head_bytes = 0
        self._remaining = 0  # body or chunk bytes still to come
        self._trailer_bytes = 0

    def request_sent(self) -> None:
        """A request went out: what comes next is the head of its reply."""
        self._state = _HEAD
        self._start_head()

    def received(self, data: bytes) -> None:
        """Follow ``data``; FramingError if it breaks the framing's limits."""
        at, size = 0, len(data)
        while at < size and self._state != _DONE:
            if self._state in (_LENGTH, _CHUNK_DATA, _CHUNK_END):
                taken = min(self._remaining, size - at)
                self._remaining -= taken
                at += taken
                if not self._remaining:
                    self._state = {_LENGTH: _DONE, _CHUNK_DATA: _CHUNK_END,
                                   _CHUNK_END: _CHUNK_LINE}[self._state]
                    if self._state == _CHUNK_END:
                        self._remaining = 2  # the CRLF after a chunk's data
            else:
                at = self._lines(data, at)

    # --- line-framed parts: the head, chunk-size lines, trailers ---

    def _lines(self, data: bytes, at: int) -> int:
        """Take the bytes of a line from ``data[at:]``; returns where the next part begins.

        A chunk-size line ends with CRLF; head and trailer lines, as the reader reads them, with LF
        (a CR before it is dropped).
        """
        if self._state != _CHUNK_LINE:
            found = data.find(b"\n", at)
            self._line += data[at:] if found < 0 else data[at:found]
            self._check_line()
            if found < 0:
                return len(data)
            if self._line.endswith(b"\r"):
                del self._line[-1]
            return self._line_complete(found + 1)
        if self._line.endswith(b"\r") and data.startswith(b"\n", at):
            del self._line[-1]  # a CRLF split between two reads
            return self._line_complete(at + 1)
        found = data.find(_CRLF, at)
        self._line += data[at:] if found < 0 else data[at:found]
        self._check_line()
        return len(data) if found < 0 else self._line_complete(found + 2)

    def _line_complete(self, after: int) -> int:
        line = bytes(self._line)
        self._line.clear()
        self._line_done(line)
        return after

    def _check_line(self) -> None:
        size = len(self._line) - self._line.endswith(b"\r")
        if self._state == _HEAD:
            if not self._head:
                self._check_status_start()
            if size > MAX_LINE_BYTES:
                what = "status line" if not self._head else "header line"
                raise FramingError(f"the provider's reply had a {what} over {MAX_LINE_BYTES} bytes")
            if self._head_bytes + size > MAX_HEAD_BYTES:
                raise FramingError(
                    f"the provider's reply had a header section over {MAX_HEAD_BYTES} bytes"
                )
        elif self._state == _CHUNK_LINE:
            if size > MAX_CHUNK_LINE_BYTES:
                raise FramingError(
                    f"the provider's reply had a chunk-size line over {MAX_CHUNK_LINE_BYTES} "
                    "bytes"
                )
        elif self._trailer_bytes + size > MAX_TRAILER_BYTES:
            raise FramingError(
                f"the provider's reply had trailers over {MAX_TRAILER_BYTES} bytes"
            )

    def _check_status_start(self) -> None:
        # Refused as soon as the first bytes differ from "HTTP/1.": an HTTP/0.9 reply (no
        # status line at all), HTTP/2 or anything else is known before its end.
        start = bytes(self._line[: len(_PREFIX)]).rstrip(b"\r")
        if not _PREFIX.startswith(start) and not start.startswith(_PREFIX):
            raise FramingError("the provider's reply does not begin with an HTTP/1.x status line")

    def _line_done(self, line: bytes) -> None:
        if self._state == _HEAD:
            self._head_line(line)
        elif self._state == _CHUNK_LINE:
            self._chunk_line(line)
        elif line:
            self._trailer_bytes += len(line) + 2
        else:
            self._state = _DONE  # the empty line after the trailers: the reply is whole

    def _head_line(self, line: bytes) -> None:
        if not self._head and not line:
            return  # blank lines before a status line: the reader refuses them
        if line:
            self._head.append(line)
            self._head_bytes += len(line) + 2
            return
        status = _STATUS.match(self._head[0])
        if status is None:
            raise FramingError("the provider's reply does not begin with an HTTP/1.x status line")
        code = int(status.group(1))
        if code == 101:
            raise FramingError(
                "the provider switched protocols (101 Switching Protocols), which smsp never "
                "asked for"
            )
        if 100 <= code < 200:
            self._start_head()  # an interim reply (100 Continue, 102, 103): the real one follows
            return
        self._body(code)

    def _body(self, code: int) -> None:
        names = {}
        for line in self._head[1:]:
            name, _, value = line.partition(b":")
            names[name.strip().lower()] = value.strip().lower()
        self._start_head()
        if code in (204, 304):
            self._state = _DONE
        elif b"chunked" in names.get(b"transfer-encoding", b""):
            self._state, self._trailer_bytes = _CHUNK_LINE, 0
        elif names.get(b"content-length", b"").isdigit():
            self._remaining = int(names[b"content-length"])
            self._state = _LENGTH if self._remaining else _DONE
        else:
            self._state = _DONE  # read to the close, or refused by the reader: nothing to follow

    def _chunk_line(self, line: bytes) -> None:
        size = _CHUNK_SIZE.match(line)
        if size is None:
            self._state = _DONE  # not a chunk size: the reader refuses it, and says so
            return
        self._remaining = int(size[1], 16)
        if self._remaining:
            self._state = _CHUNK_DATA
        else:
            self._state = _TRAILERS

    def _start_head(self) -> None:
        self._head = []
        self._head_bytes = 0
        self._line.clear()
