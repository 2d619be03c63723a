"""A reply's HTTP/1.1 framing limits, wherever the reads split it: refused as soon as broken."""

from __future__ import annotations

import pytest

from smsp_cli.transport.framing import FramingError
from smsp_cli.transport.http11 import ProtocolFault, ReplyReader

BODY = b"<ok/>"
GOOD_LENGTH = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n" + BODY
GOOD_CHUNKED = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"3;ext=1\r\n<ok\r\n2\r\n/>\r\n0\r\nX-Checksum: abc\r\n\r\n")
INTERIM = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n" + GOOD_LENGTH


class _Socket:
    """``reply`` in reads of ``step`` bytes (all at once: None), counting what was read."""

    def __init__(self, reply: bytes, step: int | None) -> None:
        self._reply = reply
        self._step = step or len(reply) or 1
        self.read = 0

    def receive(self) -> bytes:
        piece = self._reply[self.read:self.read + self._step]
        self.read += len(piece)
        return piece


def _follow(reply: bytes, step: int | None = None) -> bytes:
    reader = ReplyReader(_Socket(reply, step).receive)
    return b"".join(reader.body(reader.head("POST")))


@pytest.mark.parametrize("reply", [GOOD_LENGTH, GOOD_CHUNKED, INTERIM], ids=["length", "chunked",
                                                                             "interim"])
@pytest.mark.parametrize("step", [None, 1, 2, 3, 7])
def test_real_replies_pass_however_the_reads_split_them(reply: bytes, step: int | None) -> None:
    assert _follow(reply, step) == BODY


MIB = 1 << 20
CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
NOT_HTTP_1 = "the provider's reply does not begin with an HTTP/1.x status line"


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * MIB + b"\r\n\r\n",
         "the provider's reply had a header line over 16384 bytes"),
        (b"HTTP/1.1 200 OK" + b"K" * MIB,
         "the provider's reply had a status line over 16384 bytes"),
        (b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 10_000 + b"\r\n",
         "the provider's reply had a header section over 65536 bytes"),
        (CHUNKED_HEAD + b"0" * MIB, "the provider's reply had a chunk-size line over 4096 bytes"),
        (CHUNKED_HEAD + b"5;" + b"x" * MIB + b"\r\n",
         "the provider's reply had a chunk-size line over 4096 bytes"),
        (CHUNKED_HEAD + b"5\r\nhello\r\n0\r\nX-T: " + b"t" * MIB,
         "the provider's reply had trailers over 16384 bytes"),
        (CHUNKED_HEAD + b"0\r\n" + (b"X-T: " + b"t" * 1000 + b"\r\n") * 2100 + b"\r\n",
         "the provider's reply had trailers over 16384 bytes"),
        (b"<html>garbage</html>\r\n\r\n", NOT_HTTP_1),
        (b"HTTP/2 200\r\n\r\n", NOT_HTTP_1),
        (b"HTTP/1.1 OK\r\n\r\n", NOT_HTTP_1),
        (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
         "the provider switched protocols (101 Switching Protocols), which smsp never asked for"),
    ],
    ids=["header-line", "status-line", "header-section", "chunk-size", "chunk-extension",
         "trailer-lines", "trailers", "http-0.9", "http-2", "no-status-code", "101"],
)
@pytest.mark.parametrize("step", [None, 4096])
def test_broken_framing_is_named(reply: bytes, message: str, step: int | None) -> None:
    with pytest.raises(FramingError) as caught:
        _follow(reply, step)
    assert str(caught.value) == message


@pytest.mark.parametrize(("reply", "most"), [
    (b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * MIB, 17 * 1024 + 1024),
    (b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 100_000, 64 * 1024 + 1024),
    (CHUNKED_HEAD + b"f" * MIB, 4 * 1024 + len(CHUNKED_HEAD) + 1024),
    (b"<html>" + b"x" * MIB, 1024),
])
def test_a_part_over_its_limit_is_refused_long_before_all_of_it_has_arrived(
    reply: bytes, most: int,
) -> None:
    socket = _Socket(reply, 1024)
    reader = ReplyReader(socket.receive)
    with pytest.raises(FramingError):
        b"".join(reader.body(reader.head("POST")))
    assert socket.read <= most  # read (and kept) up to the limit, never the rest


@pytest.mark.parametrize("size", [b"-5", b"+5", b"5_0", b"0x5", b"", b"z"])
def test_a_chunk_size_that_is_not_hexadecimal_is_refused_without_reading_on(size: bytes) -> None:
    socket = _Socket(CHUNKED_HEAD + size + b"\r\n" + b"x" * 100_000, 4096)
    reader = ReplyReader(socket.receive)
    with pytest.raises(ProtocolFault, match=r"^illegal chunk header$"):
        b"".join(reader.body(reader.head("POST")))
    assert socket.read <= 4096


def test_a_head_with_bare_line_feeds_is_read_to_its_end_and_its_body_whole() -> None:
    # LF alone may end head and trailer lines: were it not read so, a body after such a head
    # would count as one endless header line.
    body = b"y" * 100_000
    assert _follow(b"HTTP/1.1 200 OK\nContent-Length: %d\n\n" % len(body) + body, 4096) == body
    assert _follow(b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n" + b"%x\r\n" % len(body)
                   + body + b"\r\n0\r\nX-T: 1\n\n", 4096) == body
