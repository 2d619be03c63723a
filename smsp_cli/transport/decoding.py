"""Content-Encoding undone in bounded pieces, the size cap applied to the decoded bytes.

smsp asks for ``Accept-Encoding: identity``, but a provider may compress anyway. httpx would
inflate each chunk whole and only then let the size check see it: a 3 KiB ``gzip, gzip`` reply
that inflates to 2 GiB needs gigabytes before the check fires. Here every layer of
the stack is a generator that hands the next layer at most :data:`PIECE` bytes at a time,
pulled only when wanted, and the cap counts what comes out of the last layer: memory stays at
a few pieces per layer plus what the caller keeps (at most the cap).

Decoded as httpx would decode them: ``gzip`` (``x-gzip``), ``deflate`` (zlib or raw), ``br``
with the ``brotli`` package (1.2 or later, which can bound its output), ``zstd`` with the
``zstandard`` package. Anything else, or a library that is missing, is refused.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from smsp_cli.domain.errors import UnsafeReply

PIECE = 64 * 1024  # the most a layer produces in one step (brotli: about that much)

Layer = Callable[[Iterator[bytes]], Iterator[bytes]]


def encodings(header: str | None) -> list[str]:
    """The codings of a Content-Encoding header, in the order they were applied."""
    if not header:
        return []
    names = [name.strip().lower() for name in header.split(",")]
    return [name for name in names if name and name != "identity"]


def decoded(
    chunks: Iterable[bytes], content_encoding: str | None, max_bytes: int
) -> Iterator[bytes]:
    """The body's decoded bytes in pieces; UnsafeReply once they pass ``max_bytes``.

    The raw (encoded) bytes are held to ``max_bytes`` too, so a stream that decodes to little
    cannot be long either.
    """
    names = encodings(content_encoding)
    stream: Iterator[bytes] = _capped(chunks, max_bytes, "")
    # The last coding applied is the first to undo (RFC 9110 §8.4).
    for name in reversed(names):
        stream = _layer(name)(stream)
    suffix = f" once decoded (Content-Encoding: {', '.join(names)})" if names else ""
    return _capped(stream, max_bytes, suffix) if names else stream


def _capped(chunks: Iterable[bytes], max_bytes: int, suffix: str) -> Iterator[bytes]:
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise UnsafeReply(f"reply is over the {max_bytes}-byte limit{suffix}; stopped reading")
        yield chunk


def _layer(name: str) -> Layer:
    if name in ("gzip", "x-gzip"):
        return lambda source: _zlib(source, zlib.MAX_WBITS | 16, "gzip")
    if name == "deflate":
        return _deflate
    if name == "br":
        return _brotli
    if name == "zstd":
        return _zstd
    raise UnsafeReply(f"reply is encoded with {name!r}, which smsp does not decode")


def _zlib(source: Iterator[bytes], wbits: int, name: str) -> Iterator[bytes]:
    decompressor = zlib.decompressobj(wbits)
    try:
        for chunk in source:
            data = chunk
            while True:
                out = decompressor.decompress(data, PIECE)
                if out:
                    yield out
                data = decompressor.unconsumed_tail
                if decompressor.eof or (not data and len(out) < PIECE):
                    break
            if decompressor.eof:
                break  # trailing bytes after the stream are ignored, as httpx does
    except zlib.error:
        raise UnsafeReply(f"reply's {name} encoding is corrupt") from None


def _deflate(source: Iterator[bytes]) -> Iterator[bytes]:
    """HTTP 'deflate' is zlib-wrapped; some servers send it raw (httpx accepts both)."""
    first = next(source, b"")
    raw = len(first) >= 2 and (first[0] & 0x0F != 8 or (first[0] << 8 | first[1]) % 31 != 0)
    wbits = -zlib.MAX_WBITS if raw else zlib.MAX_WBITS
    yield from _zlib(_prepend(first, source), wbits, "deflate")


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def _brotli(source: Iterator[bytes]) -> Iterator[bytes]:
    try:
        import brotli  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        raise UnsafeReply(
            "reply is encoded with 'br', which smsp decodes only with the brotli package"
        ) from None
    decompressor: Any = brotli.Decompressor()
    if not hasattr(decompressor, "can_accept_more_data"):
        # Before brotli 1.2 a decompressor returns all it can make at once: unbounded.
        raise UnsafeReply("reply is encoded with 'br', and this brotli cannot decode it safely")
    try:
        for chunk in source:
            out = decompressor.process(chunk, output_buffer_limit=PIECE)
            idle = 0
            # The limit bounds each call's output; what is left comes from calls without input.
            while True:
                if out:
                    yield out
                if decompressor.is_finished():
                    return
                if not out and decompressor.can_accept_more_data():
                    break
                idle = 0 if out else idle + 1
                if idle > 2:
                    raise UnsafeReply("reply's br encoding is corrupt")
                out = decompressor.process(b"", output_buffer_limit=PIECE)
    except brotli.error:
        raise UnsafeReply("reply's br encoding is corrupt") from None


def _zstd(source: Iterator[bytes]) -> Iterator[bytes]:
    try:
        import zstandard  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise UnsafeReply(
            "reply is encoded with 'zstd', which smsp decodes only with the zstandard package"
        ) from None
    decompressor: Any = zstandard.ZstdDecompressor()
    reader = decompressor.stream_reader(_Readable(source), read_size=PIECE, read_across_frames=True)
    try:
        while True:
            out = reader.read(PIECE)
            if not out:
                return
            yield out
    except zstandard.ZstdError:
        raise UnsafeReply("reply's zstd encoding is corrupt") from None


class _Readable:
    """A file-like ``read`` over an iterator of chunks (what zstandard's reader pulls from)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while not self._buffer:
            chunk = next(self._chunks, None)
            if chunk is None:
                return b""
            self._buffer = chunk
        limit = len(self._buffer) if size < 0 else size
        out, self._buffer = self._buffer[:limit], self._buffer[limit:]
        return out
