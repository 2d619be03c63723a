"""HTTP/1.1 as smsp reads it: each reply framed exactly, however its bytes are split."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from smsp_cli.transport.http11 import (
    DISCONNECTED,
    Dropped,
    ProtocolFault,
    ReplyReader,
    RequestFault,
    request_bytes,
)


def _arriving(data: bytes, step: int) -> Callable[[], bytes]:
    """What a socket gives: ``data`` in pieces of ``step`` bytes, then b"" (the end)."""
    pieces = [data[at:at + step] for at in range(0, len(data), step)]
    return lambda: pieces.pop(0) if pieces else b""


def _read(data: bytes, step: int, method: str = "POST") -> tuple[int, bytes, bool, bytes]:
    reader = ReplyReader(_arriving(data, step))
    head = reader.head(method)
    body = b"".join(reader.body(head))
    return head.status, body, head.keep_alive, reader.leftover


STEPS = [1, 2, 7, 4096]


@pytest.mark.parametrize("step", STEPS)
def test_a_counted_reply_is_read_to_its_length_and_keeps_the_connection(step: int) -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 5\r\n\r\nhello"
    assert _read(reply, step) == (200, b"hello", True, b"")


@pytest.mark.parametrize("step", STEPS)
def test_a_chunked_reply_is_joined_and_its_trailers_passed_over(step: int) -> None:
    reply = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"5;name=value\r\nhello\r\n1 \r\n,\r\n6\r\n world\r\n0\r\nX-Sum: 1\r\n\r\n")
    assert _read(reply, step) == (200, b"hello, world", True, b"")


@pytest.mark.parametrize("step", STEPS)
def test_bytes_after_a_reply_stay_behind_for_the_pool_to_see(step: int) -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n"
    status, body, _, leftover = _read(reply, 4096)
    assert (status, body) == (200, b"ok")
    assert leftover == b"HTTP/1.1 200 OK\r\n"


def test_interim_heads_are_passed_over_and_bare_line_feeds_read() -> None:
    reply = (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\nLink: </a>\n\n"
             b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok")
    assert _read(reply, 3) == (200, b"ok", True, b"")


def test_a_folded_header_line_continues_the_field_before() -> None:
    reader = ReplyReader(_arriving(b"HTTP/1.1 200 OK\r\nX-A: one\r\n  two\r\n"
                                   b"Content-Length: 0\r\n\r\n", 4096))
    assert reader.head("POST").headers == [(b"X-A", b"one two"), (b"Content-Length", b"0")]


def test_a_reply_without_length_runs_to_the_end_and_closes_the_connection() -> None:
    assert _read(b"HTTP/1.1 200 OK\r\n\r\nall of it", 4) == (200, b"all of it", False, b"")


@pytest.mark.parametrize("head", [
    b"HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
])
def test_close_or_http_1_0_does_not_keep_the_connection(head: bytes) -> None:
    assert _read(head, 4096) == (200, b"", False, b"")


@pytest.mark.parametrize(("status", "method"), [(204, "POST"), (304, "GET"), (200, "HEAD")])
def test_replies_that_have_no_body_whatever_their_length_says(status: int, method: str) -> None:
    reply = b"HTTP/1.1 %d X\r\nContent-Length: 9\r\n\r\n" % status
    assert _read(reply, 4096, method) == (status, b"", True, b"")


def test_transfer_encoding_wins_over_content_length() -> None:
    reply = (b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: Chunked\r\n\r\n"
             b"2\r\nok\r\n0\r\n\r\n")
    assert _read(reply, 4096) == (200, b"ok", True, b"")


@pytest.mark.parametrize(("reply", "words"), [
    (b"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", "illegal header line"),
    (b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", "illegal header line"),
    (b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\n\r\n", "illegal header line"),
    (b"HTTP/1.1 200 OK\r\n  folded: first\r\n\r\n", "continuation line at start of headers"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", "conflicting Content-Length headers"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
     "conflicting Content-Length headers"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n", "bad Content-Length"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 1" + b"0" * 20 + b"\r\n\r\n", "bad Content-Length"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
     "Only Transfer-Encoding: chunked is supported"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
     "multiple Transfer-Encoding headers"),
])
def test_a_head_that_is_not_http_1_1_is_refused_naming_the_fault(reply: bytes,
                                                                  words: str) -> None:
    with pytest.raises(ProtocolFault) as refused:
        _read(reply, 4096)
    assert str(refused.value) == words


@pytest.mark.parametrize(("chunks", "words"), [
    (b"-5\r\nhello\r\n0\r\n\r\n", "illegal chunk header"),
    (b"5\r\nhelloXX0\r\n\r\n", "malformed chunk footer"),
    (b"2\r\nok\r\n0\r\nbad trailer\r\n\r\n", "illegal header line"),
])
def test_a_chunked_body_that_breaks_its_framing_is_refused(chunks: bytes, words: str) -> None:
    reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks
    with pytest.raises(ProtocolFault) as refused:
        _read(reply, 3)
    assert str(refused.value) == words


@pytest.mark.parametrize(("reply", "words"), [
    (b"", DISCONNECTED),
    (b"HTTP/1.1 200 OK\r\nContent-", DISCONNECTED),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf",
     "peer closed connection without sending complete message body "
     "(received 4 bytes, expected 10)"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
     "peer closed connection without sending complete message body (incomplete chunked read)"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-A: 1\r\n",
     "peer closed connection without sending complete message body (incomplete chunked read)"),
])
def test_a_connection_that_ends_early_says_how_far_the_reply_got(reply: bytes,
                                                                 words: str) -> None:
    with pytest.raises(Dropped) as dropped:
        _read(reply, 5)
    assert str(dropped.value) == words


def test_a_request_is_its_head_with_host_first_then_its_body() -> None:
    data = request_bytes("POST", b"/smsp?x=1", [(b"Accept", b"*/*"), (b"Host", b"p.test:8443"),
                                                (b"Content-Length", b"4")], b"<a/>")
    assert data == (b"POST /smsp?x=1 HTTP/1.1\r\nHost: p.test:8443\r\nAccept: */*\r\n"
                    b"Content-Length: 4\r\n\r\n<a/>")


@pytest.mark.parametrize("header", [
    (b"Authorization", b"Bearer abc\r\nX-Injected: 1"),
    (b"SOAPAction", b"urn:a\nb"),
    (b"Bad Name", b"x"),
])
def test_a_request_header_http_does_not_allow_is_refused_without_its_value(
    header: tuple[bytes, bytes],
) -> None:
    with pytest.raises(RequestFault) as refused:
        request_bytes("POST", b"/", [(b"Host", b"p.test"), header], b"")
    assert b"Injected" not in str(refused.value).encode()
    assert "abc" not in str(refused.value)
