"""A reply's HTTP/1.1 framing followed byte by byte: the limits, wherever the reads split it."""

from __future__ import annotations

import pytest

from smsp_cli.transport.framing import FramingError, ReplyFraming

BODY = b"<ok/>"
GOOD_LENGTH = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n" + BODY
GOOD_CHUNKED = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"3;ext=1\r\n<ok\r\n2\r\n/>\r\n0\r\nX-Checksum: abc\r\n\r\n")
INTERIM = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n" + GOOD_LENGTH


def _follow(reply: bytes, step: int | None = None) -> None:
    framing = ReplyFraming()
    framing.request_sent()
    pieces = [reply] if step is None else [reply[n:n + step] for n in range(0, len(reply), step)]
    for piece in pieces:
        framing.received(piece)


@pytest.mark.parametrize("reply", [GOOD_LENGTH, GOOD_CHUNKED, INTERIM], ids=["length", "chunked",
                                                                             "interim"])
@pytest.mark.parametrize("step", [None, 1, 2, 3, 7])
def test_real_replies_pass_however_the_reads_split_them(reply: bytes, step: int | None) -> None:
    _follow(reply, step)


MIB = 1 << 20
CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


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
        (b"<html>garbage</html>\r\n\r\n", "does not begin with an HTTP/1.x status line"),
        (b"HTTP/2 200\r\n\r\n", "does not begin with an HTTP/1.x status line"),
        (b"HTTP/1.1 OK\r\n\r\n", "does not begin with an HTTP/1.x status line"),
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
    assert message in str(caught.value)


def test_a_line_is_refused_long_before_all_of_it_has_arrived() -> None:
    framing = ReplyFraming()
    framing.request_sent()
    framing.received(b"HTTP/1.1 200 OK\r\n")
    for _ in range(16):  # 16 KiB of the line: still within the limit
        framing.received(b"a" * 1024)
    with pytest.raises(FramingError):
        framing.received(b"a" * 1024)  # the 17th KiB: refused, the rest never read
    assert len(framing._line) < 20 * 1024  # what it kept: the line so far, not the reply


def test_bytes_after_a_whole_reply_are_left_to_the_stale_bytes_guard() -> None:
    framing = ReplyFraming()
    framing.request_sent()
    framing.received(GOOD_LENGTH + b"\x00garbage" * 10_000)  # not followed: not this reply's


def test_a_head_with_bare_line_feeds_is_followed_as_h11_reads_it() -> None:
    # h11 takes LF alone at the end of head and trailer lines: so does the framing, or a body
    # after such a head would count as one endless header line.
    body = b"y" * 100_000
    _follow(b"HTTP/1.1 200 OK\nContent-Length: %d\n\n" % len(body) + body, 4096)
    _follow(b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n" + b"%x\r\n" % len(body) + body
            + b"\r\n0\r\nX-T: 1\n\n", 4096)


@pytest.mark.parametrize("size", [b"-5", b"+5", b"5_0", b"0x5", b"", b"z"])
def test_a_chunk_size_h11_refuses_stops_the_following(size: bytes) -> None:
    # Left to h11, which refuses it and says so; never a negative count that loops.
    framing = ReplyFraming()
    framing.request_sent()
    framing.received(CHUNKED_HEAD + size + b"\r\n" + b"x" * 100_000)
    framing.received(b"x" * 100_000)  # not followed: no hang, no refusal of ours
