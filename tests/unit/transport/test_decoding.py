"""Content-Encoding undone in bounded pieces, the cap counted on decoded bytes."""

from __future__ import annotations

import gzip
import os
import sys
import zlib
from collections.abc import Iterator

import pytest

from smsp_cli.domain.errors import ExitCode, UnsafeReply
from smsp_cli.transport.decoding import PIECE, decoded, encodings
from tests.lib.hostile_behaviours import encode

BODY = b"<reply>" + b"".join(b"line %d of a legal reply\n" % n for n in range(5000)) + b"</reply>"


def _trickle(data: bytes, size: int = 1) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _all(chunks: Iterator[bytes] | list[bytes], header: str | None, cap: int = 1 << 20) -> bytes:
    return b"".join(decoded(chunks, header, cap))


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


STACKS = [
    ["gzip"],
    ["deflate"],
    ["gzip", "gzip"],
    ["deflate", "gzip", "deflate"],
    pytest.param(["br"], marks=pytest.mark.skipif(not _has("brotli"), reason="no brotli")),
    pytest.param(["zstd"], marks=pytest.mark.skipif(not _has("zstandard"), reason="no zstd")),
    pytest.param(
        ["zstd", "gzip", "br"],
        marks=pytest.mark.skipif(not (_has("brotli") and _has("zstandard")), reason="no libs"),
    ),
]


@pytest.mark.parametrize("codings", STACKS, ids=str)
@pytest.mark.parametrize("piece", [1, 7, 65536], ids=lambda n: f"{n}-byte reads")
def test_every_stack_decodes_to_the_body_however_it_arrives(codings: list[str], piece: int) -> None:
    wire = encode(BODY, codings)
    assert _all(_trickle(wire, piece), ", ".join(codings)) == BODY


@pytest.mark.parametrize("header", [None, "", "identity", " Identity "])
def test_no_encoding_passes_the_bytes_through(header: str | None) -> None:
    assert _all([b"<a/>", b"<b/>"], header) == b"<a/><b/>"


def test_header_lists_codings_in_the_order_applied() -> None:
    assert encodings("gzip, identity ,DEFLATE") == ["gzip", "deflate"]


def test_raw_deflate_without_the_zlib_wrapper_is_accepted_as_httpx_does() -> None:
    squeezer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    raw = squeezer.compress(BODY) + squeezer.flush()
    assert _all([raw], "deflate") == BODY


def test_a_bomb_is_stopped_at_the_cap_in_pieces_no_bigger_than_one_piece() -> None:
    # 256 MiB of zeros in one gzip layer: about 256 KiB on the wire.
    squeezer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    zeros = bytes(1 << 24)
    wire = b"".join(squeezer.compress(zeros) for _ in range(16)) + squeezer.flush()
    pieces: list[int] = []

    def consume() -> None:
        for piece in decoded([wire], "gzip", 1 << 20):
            pieces.append(len(piece))

    with pytest.raises(UnsafeReply, match=r"over the 1048576-byte limit once decoded") as caught:
        consume()
    assert caught.value.exit_code == ExitCode.PROVIDER_FAILED
    assert max(pieces) <= PIECE
    assert sum(pieces) <= 1 << 20


def test_the_encoded_bytes_are_capped_too() -> None:
    wire = gzip.compress(os.urandom(100))  # incompressible: longer encoded than decoded
    with pytest.raises(UnsafeReply, match="over the 100-byte limit; stopped"):
        _all(_trickle(wire, 10), "gzip", cap=100)


def test_the_default_cap_is_the_body_cap_for_decoded_bytes() -> None:
    from smsp_cli.adapters.smsp.xmlsafe import MAX_BODY_BYTES

    wire = gzip.compress(bytes(MAX_BODY_BYTES + 1))
    with pytest.raises(UnsafeReply, match=f"over the {MAX_BODY_BYTES}-byte limit once decoded"):
        _all([wire], "gzip", cap=MAX_BODY_BYTES)
    assert len(_all([gzip.compress(bytes(MAX_BODY_BYTES))], "gzip", MAX_BODY_BYTES)) == (
        MAX_BODY_BYTES
    )


@pytest.mark.parametrize("codings", [["gzip"], ["deflate"]])
def test_corrupt_encodings_are_refused(codings: list[str]) -> None:
    wire = bytearray(encode(BODY, codings))
    wire[len(wire) // 2] ^= 0xFF
    wire[len(wire) // 3] ^= 0xFF
    with pytest.raises(UnsafeReply, match=f"{codings[0]} encoding is corrupt"):
        _all([bytes(wire)], codings[0])


@pytest.mark.parametrize("coding", ["compress", "x-compress", "utf-8", "br;q=1"])
def test_unknown_codings_are_refused_by_name(coding: str) -> None:
    with pytest.raises(UnsafeReply, match=f"encoded with '{coding}', which smsp does not decode"):
        _all([b"x"], coding)


@pytest.mark.parametrize(("coding", "package"), [("br", "brotli"), ("zstd", "zstandard")])
def test_br_and_zstd_are_refused_without_their_package(
    coding: str, package: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, package, None)  # import now raises ImportError
    with pytest.raises(UnsafeReply, match=f"decodes only with the {package} package"):
        _all([b"x"], coding)
