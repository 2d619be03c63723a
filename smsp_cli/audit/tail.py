"""The end of a trail file: its last whole line, and any torn line after it.

A record is written in one ``write`` under the lock, so a line without its newline at the end
of the file can only be what a crash (or a full disk) left of a record: torn.
"""

from __future__ import annotations

from dataclasses import dataclass

from smsp_cli.system.safefiles import files

_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Tail:
    """The last whole line of a file (None: there is none) and the torn bytes after it."""

    last_line: bytes | None
    torn: bytes


def read_tail(descriptor: int, size: int) -> Tail:
    """Read backwards from ``size`` until the last whole line is found (or the file's start)."""
    if size == 0:
        return Tail(None, b"")
    read_at = files().read_at
    end = size
    buffer = b""
    # Find the last newline: everything after it is torn.
    while True:
        start = max(0, end - _CHUNK)
        buffer = read_at(descriptor, end - start, start) + buffer
        end = start
        cut = buffer.rfind(b"\n")
        if cut >= 0 or start == 0:
            break
    if cut < 0:
        return Tail(None, buffer)  # not one whole line in the file
    torn = buffer[cut + 1 :]
    whole = buffer[: cut + 1]
    # Then the newline before it, which starts the last whole line.
    while True:
        begin = whole.rfind(b"\n", 0, len(whole) - 1)
        if begin >= 0 or end == 0:
            break
        start = max(0, end - _CHUNK)
        whole = read_at(descriptor, end - start, start) + whole
        end = start
    return Tail(whole[begin + 1 :], torn)
