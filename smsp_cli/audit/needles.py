"""Finding the few lines a search can match without decoding the rest.

A search by NHS number, MessageID or user matches about one record in a thousand, and decoding
every line as JSON costs some 30 times what finding a string in the same bytes does. So a block
of whole lines (:class:`~smsp_cli.audit.reader.Block`) is tested with a few C-speed calls:

* its shape: every line in it starts ``{"seq":`` and ends ``}`` (counted at the joins between
  lines, and checked against the sequence numbers of its first and last line); a block that
  is not all record-shaped is searched line by line, decoding every line, as before;
* a needle, a piece of the value sought that a matching line holds byte for byte: the NHS
  number itself (digits: no case, never escaped in JSON), or for a MessageID or user, which
  compare without case, the longest run of the value's characters that have no case and that
  JSON never escapes (``-7425-40``); without one, the block is lowercased first. Matching
  letters without case counts only in a block that is all ASCII when the value holds an
  ``f``, ``k`` or ``s`` (``K``, the Kelvin sign, lowers to ``k``; ``ß`` casefolds to ``ss``):
  any other block is then searched line by line;
* for a user, a pattern anchored on the keys a matching line names it under:
  ``user":"`` or ``username":"`` (or any key ending so: only more lines decoded), then the
  value in any case, then its closing quote (so ``clin`` does not decode every line of
  ``clinician``). The regular expression engine looks for the literal ``user`` first, so
  this needs no lowered copy of the block: a name made only of letters has no piece without
  case, and lowering every block cost about twice what this search does.

Each line holding a needle is decoded and judged by the same :meth:`Filters.match`, so what is
found is what decoding every line finds, for lines as smsp writes them. (A line reshaped by
hand, with JSON escapes, say ``\\u0039`` for ``9``, spaces between a key and its value, or a
user that is not a string, can hide a value from its needle; that edit breaks the hash chain,
which ``smsp audit verify`` reports.)

The later records of a call found by NHS number (a reply naming no number, a failure) are
found by the call's MessageID as a needle, from the record that named the number on, until
the call's own ``received`` or ``failed`` record ends it. Calls left open (a process killed
between a request and its reply) would each cost a pass over every later block: past
:data:`MAX_OPEN_CALLS`, the lines whose ``message_id`` is one of them are found by one pattern
instead.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterator

from smsp_cli.audit.reader import Block
from smsp_cli.fastclasses import dataclass

# A line's start and end, at every join between two record-shaped lines.
JOIN = b'}\n{"seq":'
HEAD = b'{"seq":'
_LEADING_SEQ = re.compile(rb'\{"seq":([1-9][0-9]{0,18}),')
# Characters with no case that JSON writes as they are: a needle may be made of them.
_CASELESS = re.compile(r'[0-9 !#-/:-@\[\]-`{-~]+')
# A needle shorter than this would hold in too many lines to save anything.
MIN_NEEDLE = 4
ENDED_BY = ("received", "failed")
# Every ASCII text a character beyond ASCII lowers or casefolds to holds one of these letters.
_FOLDED_FROM_BEYOND_ASCII = (b"f", b"k", b"s")
# ASCII letters to lower case, every other byte as it is: bytes.lower() of an ASCII block.
_LOWER = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")
MAX_OPEN_CALLS = 8
# A line's own MessageID (a line holds one key of that name at most, as smsp writes it);
# an escaped one is taken whole and judged by decoding the line.
_MESSAGE_ID = re.compile(rb'"message_id":"((?:[^"\\]|\\.)*)"')


def record_shaped(block: Block) -> int | None:
    """How many lines the block holds when every one is shaped like a record, else None."""
    data, end = block.data, block.end
    if not data.startswith(HEAD) or data[end - 2] != ord("}"):
        return None
    joins = count_joins(data, end)
    last = data.rfind(b"\n", 0, end - 1) + 1
    first_seq, last_seq = _leading_seq(data, 0), _leading_seq(data, last)
    if first_seq is None or last_seq is None or last_seq - first_seq != joins:
        return None  # a line of another shape, or a gap in the numbers: read line by line
    return joins + 1


def count_joins(data: bytearray, end: int) -> int:
    """``data.count(JOIN, 0, end)``, in about half its time.

    Searching for ``JOIN`` itself steps a few bytes at a time: its last bytes (``"seq":``) are
    among the commonest in a record. So every newline is first widened by :data:`_MARKER`
    (one ``replace`` of a single byte, which runs at memory speed), and the joins are counted
    as ``}``, the widened newline, ``{"seq":``: a longer pattern, mostly of bytes no record
    holds, which the search steps over many bytes at a time. The count is the same: each
    newline of the copy starts a marker (the marker holds none), the byte before it is the
    line's last (the marker does not end in ``}``), and ``{"seq":``, which holds no newline,
    can only be the bytes after it. The buffer past ``end`` (the next line's start, or what an
    earlier block left there) is widened too, so the count stops where ``end`` lands.
    """
    widened = data.replace(b"\n", _WIDE_NEWLINE)
    newlines = (len(widened) - len(data)) // len(_MARKER)
    before_end = newlines - data.count(b"\n", end)
    return widened.count(_WIDE_JOIN, 0, end + before_end * len(_MARKER))


# Control bytes, which JSON always escapes, so never in a line smsp writes (and the count is
# exact whatever a line holds: see count_joins).
_MARKER = bytes([*range(0x01, 0x03), *range(0x07, 0x09), *range(0x0B, 0x0D), *range(0x0E, 0x20)])
_WIDE_NEWLINE = b"\n" + _MARKER
_WIDE_JOIN = b"}" + _WIDE_NEWLINE + HEAD


def _leading_seq(data: bytearray, start: int) -> int | None:
    found = _LEADING_SEQ.match(data, start)
    return int(found.group(1)) if found else None


@dataclass(frozen=True)
class Needle:
    """Bytes a matching line holds; ``lowered``: found in the lowercased block; ``pattern``:
    found by this regular expression instead (``text`` is then only what it looks for)."""

    text: bytes
    lowered: bool
    pattern: re.Pattern[bytes] | None = None

    @property
    def ascii_only(self) -> bool:
        """True when finding it counts only in an all-ASCII block.

        A lowered needle or a user's pattern folds ASCII case alone, and a few characters
        beyond ASCII lower or casefold to ASCII letters (``K``, the Kelvin sign, to ``k``,
        ``ß`` to ``ss``, ``ﬁ`` to ``fi``): each of those holds an ``f``, ``k`` or ``s``, so a
        value without one cannot be written with them. A needle of characters without case
        needs no such care: no other character lowers or casefolds to any of them. Either
        way a matching line holds the needle as it is, whatever else the block holds.
        """
        if not self.lowered and self.pattern is None:
            return False
        return any(letter in self.text.lower() for letter in _FOLDED_FROM_BEYOND_ASCII)

    @classmethod
    def exact(cls, value: str) -> Needle:
        """A needle for a value compared as it is (an NHS number)."""
        return cls(value.encode("ascii"), False)

    @classmethod
    def caseless(cls, value: str) -> Needle | None:
        """A needle for a value compared without case; None when it is not ASCII."""
        if not value.isascii() or not value:
            return None
        runs = _CASELESS.findall(value)
        longest = max(runs, key=len, default="")
        if len(longest) >= MIN_NEEDLE:
            return cls(longest.encode("ascii"), False)
        lowered = value.lower()
        if '"' in lowered or "\\" in lowered or not lowered.isprintable():
            return None  # JSON escapes it: not byte for byte in the line
        return cls(lowered.encode("ascii"), True)

    @classmethod
    def user(cls, value: str) -> Needle | None:
        """A needle for a user or username compared without case (``value`` casefolded);
        None when it is not ASCII or JSON would escape it."""
        if not value.isascii() or not value or not _verbatim(value):
            return None
        text = value.encode("ascii")
        value_pattern = b'":"(?i:' + re.escape(text) + b')"'
        # Two alternatives, each with its key spelt out: the engine's fastest form of this
        # search (a shared ``(?:name)?`` cost a fifth more).
        return cls(text, False, re.compile(b"user" + value_pattern + b"|username" + value_pattern))


def _verbatim(value: str) -> bool:
    """True when JSON writes ``value`` as it is (no quote, backslash or control character)."""
    return '"' not in value and "\\" not in value and value.isprintable()


class Finder:
    """The lines of a block that hold a needle, in order; needles may be added as it goes."""

    def __init__(self, block: Block) -> None:
        self.block = block
        self._lowered: bytearray | None = None
        self._starts: list[int] = []
        self._seen: set[int] = set()
        self.following: set[str] = set()
        self._followers: dict[int, list[tuple[str, Needle]]] = {}

    def add(self, needle: Needle, after: int = 0) -> None:
        """Queue every line holding ``needle`` that starts at or after ``after``."""
        if needle.pattern is not None:
            for found in needle.pattern.finditer(self.block.data, after, self.block.end):
                self._queue(found.start())
            return
        haystack, end = self._haystack(needle), self.block.end
        position = haystack.find(needle.text, after, end)
        while position >= 0:
            stop = self._queue(position)
            position = haystack.find(needle.text, stop + 1, end)

    def follow(self, key: str, needle: Needle, after: int = 0) -> None:
        """Queue the first line holding ``needle`` from ``after``, then, once that line has
        been judged, the next, while ``key`` is in :attr:`following` (a call's records)."""
        self.following.add(key)
        position = self._haystack(needle).find(needle.text, after, self.block.end)
        if position >= 0:
            start = self.block.data.rfind(b"\n", 0, position) + 1
            self._queue(position)
            self._followers.setdefault(start, []).append((key, needle))

    def _haystack(self, needle: Needle) -> bytes | bytearray:
        if not needle.lowered:
            return self.block.data
        if self._lowered is None:
            # One translation of the whole buffer (found positions stay below the block's
            # end): about a third of copying the block out and lowering the copy, which
            # made two fresh megabyte buffers, each paid for in page faults.
            self._lowered = self.block.data.translate(_LOWER)
        return self._lowered

    def _queue(self, position: int) -> int:
        """Queue the line holding ``position``; return where it ends (its newline)."""
        data = self.block.data
        start = data.rfind(b"\n", 0, position) + 1
        if start not in self._seen:
            self._seen.add(start)
            heapq.heappush(self._starts, start)
        return data.find(b"\n", position, self.block.end)

    def add_calls(self, message_ids: set[str], after: int = 0) -> None:
        """Queue every line from ``after`` whose MessageID, compared as search compares it,
        is one of ``message_ids`` (or is written with an escape)."""
        data, end = self.block.data, self.block.end
        for found in _MESSAGE_ID.finditer(data, after, end):
            value = found.group(1)
            if b"\\" in value or _normal(value) in message_ids:
                start = data.rfind(b"\n", 0, found.start()) + 1
                if start not in self._seen:
                    self._seen.add(start)
                    heapq.heappush(self._starts, start)

    def lines(self) -> Iterator[tuple[int, bytes]]:
        """(start, line) of each queued line in order, including lines queued meanwhile."""
        data = self.block.data
        while self._starts:
            start = heapq.heappop(self._starts)
            stop = data.find(b"\n", start)
            yield start, bytes(data[start:stop])
            for key, needle in self._followers.pop(start, []):
                if key in self.following:
                    self.follow(key, needle, stop + 1)

    def end_of(self, start: int) -> int:
        """Where the line starting at ``start`` ends (after its newline)."""
        return self.block.data.find(b"\n", start) + 1

    def ascii(self) -> bool:
        """True when every byte of the block is ASCII (and of the buffer after it: what is
        not yet a whole line there comes again in the next block)."""
        return self.block.data.isascii()


def _normal(value: bytes) -> str:
    # As search.normal_message_id, for a block known to be ASCII.
    return value.decode("ascii").strip().lower().removeprefix("uuid:")
