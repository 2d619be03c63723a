"""HTTP/1.1 on one connection, as RFC 9112 frames it: a request's bytes, and its reply read back.

smsp sends one request at a time on a connection and reads its reply whole before the next,
so the protocol it needs is small: a request head (with its body, in one send), then a status
line and header section, any interim 1xx heads passed over, and a body framed by
Content-Length, by chunked transfer coding, or by the end of the connection. Reading follows
the grammar strictly and refuses what it does not frame exactly, so that no reply can be taken
for another's; the size limits on heads, chunk lines and trailers are checked on the bytes as
they arrive, before any more is read (:mod:`smsp_cli.transport.framing`).

The errors name what was wrong in the words HTTP clients commonly use ("illegal header line",
"peer closed connection without sending complete message body"), never a byte of the reply.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence

from smsp_cli.transport import framing
from smsp_cli.transport.framing import FramingError

_TOKEN = rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+"
# field-value: visible characters (and obs-text), spaces or tabs only between them.
_VALUE = rb"(?:[^\x00\s](?:[ \t]*[^\x00\s])*)?"
_HEADER_LINE = re.compile(rb"(" + _TOKEN + rb"):[ \t]*(" + _VALUE + rb")[ \t]*")
_FIELD_NAME = re.compile(_TOKEN)
_FIELD_VALUE = re.compile(_VALUE)
_STATUS_LINE = re.compile(rb"HTTP/(1\.[01]) ([0-9]{3})(?: ((?:[ \t]|[^\x00\s])*))?")
_CHUNK_LINE = re.compile(rb"([0-9A-Fa-f]{1,20})(?:;[^\r\n]*)?[ \t]*")
_CONTENT_LENGTH = re.compile(rb"[0-9]{1,20}")
_BLANK_LINE = re.compile(rb"\n\r?\n")  # the end of a head (bare line feeds are read too)
_FOLDED = re.compile(rb"[ \t]+")  # an obsolete continuation line
_NO_BODY_STATUSES = frozenset({204, 304})


class ProtocolFault(ValueError):
    """The reply is not HTTP/1.1 as RFC 9112 frames it; the message says how."""


class Dropped(ConnectionError):
    """The connection ended before the reply was whole."""


class RequestFault(ValueError):
    """A request header smsp was about to send is not a valid HTTP field."""


DISCONNECTED = "Server disconnected without sending a response."


def request_bytes(method: str, target: bytes, headers: Sequence[tuple[bytes, bytes]],
                  body: bytes) -> bytes:
    """The whole request: head (Host first) and body, ready for one send."""
    lines = [b"%s %s HTTP/1.1\r\n" % (method.encode("ascii"), target)]
    rest = []
    for name, value in headers:
        if _FIELD_NAME.fullmatch(name) is None:
            raise RequestFault("a request header's name is not an HTTP token")
        if _FIELD_VALUE.fullmatch(value) is None:
            # Never the value itself: it may be a token, or text a provider sent earlier.
            raise RequestFault(f"the request header {name.decode('ascii')} holds characters "
                               "HTTP does not allow there")
        line = b"%s: %s\r\n" % (name, value)
        if name.lower() == b"host":
            lines.append(line)
        else:
            rest.append(line)
    lines.extend(rest)
    lines.append(b"\r\n")
    lines.append(body)
    return b"".join(lines)


class ReplyHead:
    """A final reply's status line and headers, and how its body is framed."""

    __slots__ = ("headers", "keep_alive", "length", "reason", "status", "version")

    def __init__(self, version: bytes, status: int, reason: bytes,
                 headers: list[tuple[bytes, bytes]], length: int | None, keep_alive: bool
                 ) -> None:
        self.version = version  # b"HTTP/1.1"
        self.status = status
        self.reason = reason
        self.headers = headers
        # Body bytes still to come: a count, CHUNKED, or UNTIL_CLOSED.
        self.length = length
        self.keep_alive = keep_alive


CHUNKED = -1
UNTIL_CLOSED = None


class ReplyReader:
    """Reads one reply at a time from ``receive`` (which returns b"" at the end of the
    connection); what it was given beyond a reply's end stays in :attr:`leftover`."""

    def __init__(self, receive: Callable[[], bytes]) -> None:
        self._receive = receive
        # What has arrived and is not yet read; a bytearray, so that a head dripped a byte
        # at a time costs appends, not a copy of all before it each time.
        self.leftover = bytearray()

    def head(self, method: str) -> ReplyHead:
        """The final reply's head (interim 1xx heads passed over)."""
        while True:
            lines = self._head_lines()
            if lines is None:
                raise Dropped(DISCONNECTED)
            found = _STATUS_LINE.fullmatch(lines[0])
            if found is None:
                raise FramingError(framing.NOT_HTTP_1)
            status = int(found.group(2))
            if status == 101:
                raise FramingError(framing.SWITCHED)
            if status >= 200:
                break
        headers = _header_fields(lines[1:])
        version = b"HTTP/" + found.group(1)
        length = _body_length(method, status, headers)
        return ReplyHead(version, status, found.group(3) or b"", headers, length,
                         _keeps_alive(version, headers) and length is not UNTIL_CLOSED)

    def body(self, head: ReplyHead) -> Iterator[bytes]:
        """The body's bytes, a piece at a time as they arrive (de-chunked)."""
        if head.length is UNTIL_CLOSED:
            yield from self._until_closed()
        elif head.length == CHUNKED:
            yield from self._chunked()
        else:
            yield from self._counted(head.length)

    # --- reading ---------------------------------------------------------------------------

    def _more(self) -> bool:
        """Append what arrives next to the leftover; False at the end of the connection."""
        data = self._receive()
        if not data:
            return False
        self.leftover += data
        return True

    def _head_lines(self, *, trailers: bool = False) -> list[bytes] | None:
        """The next head's lines (line ends removed), or the trailers'; None if the
        connection ended first. FramingError when they break the limits."""
        searched = 0
        while True:
            end = _BLANK_LINE.search(self.leftover, searched)
            if end is not None:
                break
            if trailers:
                framing.check_trailers(len(self.leftover))
            elif self.leftover:
                framing.check_head_so_far(self.leftover)
            searched = max(len(self.leftover) - 2, 0)
            if not self._more():
                return None
        head = bytes(self.leftover[:end.start()])
        del self.leftover[:end.end()]
        lines = [line[:-1] if line.endswith(b"\r") else line for line in head.split(b"\n")]
        if trailers:
            framing.check_trailers(len(head))
        else:
            framing.check_head(lines, len(head))
        return lines

    def _counted(self, length: int) -> Iterator[bytes]:
        remaining = length
        while remaining:
            if not self.leftover and not self._more():
                raise Dropped("peer closed connection without sending complete message body "
                              f"(received {length - remaining} bytes, expected {length})")
            piece = self._take(remaining)
            remaining -= len(piece)
            yield piece

    def _take(self, most: int) -> bytes:
        """Up to ``most`` bytes from the front of what has arrived."""
        piece = bytes(self.leftover[:most])
        del self.leftover[:most]
        return piece

    def _until_closed(self) -> Iterator[bytes]:
        while self.leftover or self._more():
            yield self._take(len(self.leftover))

    def _chunked(self) -> Iterator[bytes]:
        while True:
            size_line = self._line()
            found = _CHUNK_LINE.fullmatch(size_line)
            if found is None:
                raise ProtocolFault("illegal chunk header")
            size = int(found.group(1), 16)
            if size == 0:
                break
            yield from self._counted_in_chunk(size)
            self._chunk_footer()
        self._trailers()

    def _line(self) -> bytes:
        """The next CRLF-ended line of a chunked body, without its CRLF."""
        searched = 0
        while True:
            end = self.leftover.find(b"\r\n", searched)
            if end >= 0:
                framing.check_chunk_line(end)
                line = bytes(self.leftover[:end])
                del self.leftover[:end + 2]
                return line
            framing.check_chunk_line(len(self.leftover) - self.leftover.endswith(b"\r"))
            searched = max(len(self.leftover) - 1, 0)
            if not self._more():
                raise _incomplete_chunked()

    def _counted_in_chunk(self, size: int) -> Iterator[bytes]:
        remaining = size
        while remaining:
            if not self.leftover and not self._more():
                raise _incomplete_chunked()
            piece = self._take(remaining)
            remaining -= len(piece)
            yield piece

    def _chunk_footer(self) -> None:
        while len(self.leftover) < 2:
            if not self._more():
                raise _incomplete_chunked()
        if self.leftover[:2] != b"\r\n":
            raise ProtocolFault("malformed chunk footer")
        del self.leftover[:2]

    def _trailers(self) -> None:
        """The trailer section after the last chunk, checked as header lines and dropped."""
        while len(self.leftover) < 2:
            if self.leftover == b"\n":
                break
            if not self._more():
                raise _incomplete_chunked()
        if self.leftover.startswith(b"\r\n"):
            del self.leftover[:2]
            return
        if self.leftover.startswith(b"\n"):
            del self.leftover[:1]
            return
        lines = self._head_lines(trailers=True)  # lines, then a blank line, as a head ends
        if lines is None:
            raise _incomplete_chunked()
        _header_fields(lines)


def _incomplete_chunked() -> Dropped:
    return Dropped("peer closed connection without sending complete message body "
                   "(incomplete chunked read)")


def _header_fields(lines: list[bytes]) -> list[tuple[bytes, bytes]]:
    fields: list[tuple[bytes, bytes]] = []
    for line in lines:
        folded = _FOLDED.match(line)
        if folded is not None:
            # obs-fold (RFC 9112 §5.2): a continuation of the previous field's value.
            if not fields:
                raise ProtocolFault("continuation line at start of headers")
            name, value = fields[-1]
            line = name + b": " + value + b" " + line[folded.end():]
            fields.pop()
        found = _HEADER_LINE.fullmatch(line)
        if found is None:
            raise ProtocolFault("illegal header line")
        fields.append((found.group(1), found.group(2)))
    return fields


def _body_length(method: str, status: int, headers: list[tuple[bytes, bytes]]) -> int | None:
    """How the body is framed (RFC 9112 §6.3): a count, CHUNKED or UNTIL_CLOSED."""
    if status in _NO_BODY_STATUSES or method == "HEAD":
        return 0
    length: bytes | None = None
    coding: bytes | None = None
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"transfer-encoding":
            if coding is not None:
                raise ProtocolFault("multiple Transfer-Encoding headers")
            coding = value.lower()
            if coding != b"chunked":
                raise ProtocolFault("Only Transfer-Encoding: chunked is supported")
        elif lowered == b"content-length":
            values = {part.strip() for part in value.split(b",")}
            if len(values) != 1:
                raise ProtocolFault("conflicting Content-Length headers")
            (given,) = values
            if _CONTENT_LENGTH.fullmatch(given) is None:
                raise ProtocolFault("bad Content-Length")
            if length is not None and length != given:
                raise ProtocolFault("conflicting Content-Length headers")
            length = given
    if coding is not None:
        return CHUNKED  # Transfer-Encoding wins over Content-Length
    return UNTIL_CLOSED if length is None else int(length)


def _keeps_alive(version: bytes, headers: list[tuple[bytes, bytes]]) -> bool:
    if version != b"HTTP/1.1":
        return False
    for name, value in headers:
        if name.lower() == b"connection" and b"close" in {
                part.strip().lower() for part in value.split(b",")}:
            return False
    return True
