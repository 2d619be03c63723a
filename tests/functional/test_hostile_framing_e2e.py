"""End to end over mutual TLS: a provider whose HTTP framing is broken or oversized.

Each shape is exit 4 with one line saying what was wrong, never retried (the provider saw
one connection, though three attempts were allowed); a connection dropped mid-reply stays
exit 5 and is retried. Nothing of the reply is shown.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.lib.cli import smsp
from tests.lib.hostile import Behaviour, HostileProvider, Part
from tests.lib.hostile_behaviours import http_reply, patient_reply

GET = ("get", "9991000003", "--dob", "1984-03-14", "--max-attempts", "3")
MIB = 1 << 20
CHUNKED = b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n"


def _chunked(body: bytes, trailers: bytes) -> bytes:
    return CHUNKED + b"%x\r\n" % len(body) + body + b"\r\n0\r\n" + trailers + b"\r\n"


SHAPES = {
    "header-line": (
        b"HTTP/1.1 200 OK\r\nX-Padding: " + b"a" * MIB + b"\r\nContent-Length: 0\r\n\r\n",
        "the provider's reply had a header line over 16384 bytes",
    ),
    "header-section": (
        b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 200_000 + b"Content-Length: 0\r\n\r\n",
        "the provider's reply had a header section over 65536 bytes",
    ),
    "chunk-size-line": (
        CHUNKED + b"0" * MIB + b"5\r\nhello\r\n0\r\n\r\n",
        "the provider's reply had a chunk-size line over 4096 bytes",
    ),
    "trailers": (
        _chunked(b"<x/>", (b"X-Trailer: " + b"t" * 1000 + b"\r\n") * 2100),
        "the provider's reply had trailers over 16384 bytes",
    ),
    "http-0.9": (
        b"<html><body>not HTTP/1.x at all</body></html>\r\n\r\n",
        "the provider's reply does not begin with an HTTP/1.x status line",
    ),
    "101": (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
        b"\x81\x05hello",
        "the provider switched protocols (101 Switching Protocols), which smsp never asked for",
    ),
    "negative-chunk-size": (
        CHUNKED + b"-5\r\nhello\r\n0\r\n\r\n",
        "the provider's reply is not valid HTTP/1.1 (illegal chunk header)",
    ),
    "illegal-header": (
        b"HTTP/1.1 200 OK\r\nNo colon here\r\nContent-Length: 0\r\n\r\n",
        "the provider's reply is not valid HTTP/1.1 (illegal header line)",
    ),
}


def _failed_records() -> list[dict[str, object]]:
    trail = Path(os.environ["SMSP_DATA_DIR"]) / "audit" / "audit.jsonl"
    return [record for line in trail.read_text(encoding="utf-8").splitlines()
            if (record := json.loads(line))["event"] == "failed"]


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_broken_framing_is_exit_4_named_and_never_retried(
    hostile: HostileProvider, shape: str
) -> None:
    raw, words = SHAPES[shape]
    hostile.serve(Behaviour((Part(raw),), name=shape))
    run = smsp(*GET, "--json")
    assert run.exit_code == 4, run.stderr
    assert hostile.connections == 1  # not retried
    [line] = run.stderr.splitlines()
    host = hostile.url.split("/")[2]
    assert line.startswith(f"smsp: error: {words}, from {host} (report it to the provider) "
                           "(MessageID "), line
    shown = run.json()
    assert shown["error"]["type"] == "provider_failed"
    assert "patient" not in shown
    failed = [r for r in _failed_records() if r["message_id"] == shown["message_id"]]
    assert [(r["exit_code"], r["reason"]) for r in failed] == [(4, "malformed_http")]


def test_a_head_with_bare_line_feeds_is_read_as_h11_reads_it(hostile: HostileProvider) -> None:
    # A body over the 16 KiB line limit: were the head not followed to its end, the body would
    # count as one long header line.
    body = patient_reply().replace(b"</soap:Header>", b"<!--" + b"p" * 40_000 + b"-->"
                                   b"</soap:Header>", 1)
    head = b"HTTP/1.1 200 OK\nContent-Type: text/xml\nContent-Length: %d\n\n" % len(body)
    hostile.serve(Behaviour((Part(head + body),)))
    run = smsp(*GET, "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["response_code"] == "SMSP-0000"


def test_interim_replies_before_the_real_one_are_passed_over(hostile: HostileProvider) -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n"
    hostile.serve(Behaviour((Part(interim + http_reply(patient_reply())),)))
    run = smsp(*GET, "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["response_code"] == "SMSP-0000"


def test_a_connection_dropped_mid_reply_stays_exit_5_and_is_retried(
    hostile: HostileProvider,
) -> None:
    whole = http_reply(patient_reply())
    hostile.serve(Behaviour((Part(whole[: len(whole) // 2]),), name="dropped"))
    run = smsp(*GET)
    assert run.exit_code == 5, run.stderr
    assert hostile.connections == 3  # every attempt allowed
    [line] = run.stderr.splitlines()
    assert "peer closed connection without sending complete message body" in line
    assert "(after 3 attempts)" in line
