"""Bounds for what a table shows, so no reply can flood a terminal (JSON stays complete).

A provider may send a legal reply of megabytes: an 8 MB given name, thousands of addresses.
A table shows at most :data:`FIELD_LIMIT` characters of any one value, then ``…`` and how many
characters were left out, and at most :data:`LIST_LIMIT` entries of any list, then
``… and 2,980 more (-o json shows all)``. Every value shown also passes through the one
sanitiser (:func:`smsp_cli.untrusted.sanitize.visible`), after the cut, so the work done is
bounded by the limit and not by the size of the reply.
"""

from __future__ import annotations

from collections.abc import Sequence

from smsp_cli.untrusted.sanitize import visible

FIELD_LIMIT = 200
LIST_LIMIT = 20
TABLE_BYTES = 64 * 1024  # the most a table may take, whatever the terminal's width
# The most a provider's reply may take once decoded: the transport stops reading there, and the
# XML parser refuses anything larger, whichever adapter reads it.
MAX_BODY_BYTES = 10 * 1024 * 1024


def cut(text: str, limit: int = FIELD_LIMIT) -> str:
    """``text`` made visible and cut to ``limit`` characters, saying how many were left out."""
    return _shown(text[:limit], len(text), limit)


def joined(parts: Sequence[str], separator: str, limit: int = FIELD_LIMIT) -> str:
    """The parts joined and cut to ``limit``, without ever building the whole joined text."""
    total = sum(len(part) for part in parts) + len(separator) * max(len(parts) - 1, 0)
    taken: list[str] = []
    length = 0
    for part in parts:
        if length > limit:
            break
        taken.append(part[: limit + 1 - length])
        length += len(taken[-1]) + len(separator)
    return _shown(separator.join(taken)[:limit], total, limit)


def _shown(head: str, total: int, limit: int) -> str:
    """``head`` (the first characters of a text ``total`` long) escaped within ``limit``."""
    shown, taken = escaped_within(head, limit)
    left = total - taken
    return shown + f"… ({left:,} more characters)" if left > 0 else shown


def escaped_within(head: str, limit: int) -> tuple[str, int]:
    """``head`` made visible within ``limit`` characters, cut between whole escapes, and how
    many characters of ``head`` it holds."""
    shown = visible(head)
    if len(shown) <= limit:
        return shown, len(head)
    # An escape (\x1b, \u202e) takes up to six characters, so the escaped text may outgrow
    # the limit: cut it again between whole escapes.
    pieces: list[str] = []
    used = 0
    for index, character in enumerate(head):
        piece = visible(character)
        if used + len(piece) > limit:
            return "".join(pieces), index
        pieces.append(piece)
        used += len(piece)
    return "".join(pieces), len(head)


def label(text: str, limit: int) -> str:
    """A short text for a row label: visible, and cut with ``…`` alone."""
    return cut(text, limit) if len(text) <= limit else escaped_within(text[:limit], limit)[0] + "…"


def capped(table: str, limit: int = TABLE_BYTES) -> str:
    """A rendered table cut, at a line end, to at most ``limit`` bytes, saying so."""
    data = table.encode("utf-8")
    if len(data) <= limit:
        return table
    note = "… the table stops here, at 64 KiB (-o json shows all)\n".encode()
    head = data[: limit - len(note)]
    return (head[: head.rfind(b"\n") + 1] + note).decode("utf-8")


def first(items: Sequence[object], limit: int = LIST_LIMIT) -> int:
    """How many of ``items`` a table shows."""
    return min(len(items), limit)


def more(count: int, what: str = "") -> str:
    """The line that stands for the entries a table leaves out."""
    noun = f" {what}" if what else ""
    return f"… and {count:,} more{noun} (-o json shows all)"
