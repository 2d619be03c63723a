"""The one gate for untrusted text on its way to a person.

Everything that came from a provider or a user's file (patient fields, fault strings, HTTP
bodies and headers, certificate names, CSV cells) passes through :func:`visible` before it is
shown in a table, a stderr line, the ``-v`` trace or doctor:

* C0 and C1 controls, DEL, bidi overrides and isolates, the other invisible format
  characters (zero-width space, soft hyphen, tags), line and paragraph separators, lone
  surrogates and private-use characters become visible escapes (``\\x1b``, ``\\u202e``), so a
  provider can neither drive the terminal, nor reorder or hide what the reader sees;
* rich markup is never interpreted: callers print with ``markup=False`` (or hand rich a
  ``Text``); this module makes no markup of its own.

Provider free text shown on stderr or in doctor also goes through :func:`mask_identifiers`,
which hides NHS numbers and dates a provider may echo back (``*** *** 1006``, ``****-**-**``).
JSON output never passes through here: it keeps the data exact, escaped by the JSON encoder.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

# Every character Unicode calls a control (Cc), a format character (Cf: soft hyphen, zero-width
# space, bidi marks, embeddings, overrides and isolates, tags...), a surrogate (Cs: undecodable
# bytes) or private use (Co), and the line and paragraph separators (Zl, Zp), as of Unicode 14
# (Python 3.11); tests/test_sanitize.py checks the table against the running Python.
UNSAFE_RANGES: tuple[tuple[int, int], ...] = (
    (0x0000, 0x001F), (0x007F, 0x009F), (0x00AD, 0x00AD), (0x0600, 0x0605), (0x061C, 0x061C),
    (0x06DD, 0x06DD), (0x070F, 0x070F), (0x0890, 0x0891), (0x08E2, 0x08E2), (0x180E, 0x180E),
    (0x200B, 0x200F), (0x2028, 0x202E), (0x2060, 0x2064), (0x2066, 0x206F), (0xD800, 0xF8FF),
    (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD),
    (0x13430, 0x13438), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001),
    (0xE0020, 0xE007F), (0xF0000, 0xFFFFD), (0x100000, 0x10FFFD),
)
_LAYOUT = "\t\n"  # kept by visible(keep_layout=True)


@functools.cache
def _character_class(kept: str = "") -> re.Pattern[str]:
    """A regex class of the unsafe ranges, less the characters in ``kept``."""
    parts = []
    for first, last in UNSAFE_RANGES:
        start = first
        for point in [*sorted(ord(c) for c in kept if first <= ord(c) <= last), last + 1]:
            if start < point:
                parts.append(f"{re.escape(chr(start))}-{re.escape(chr(point - 1))}")
            start = point + 1
    return re.compile(f"[{''.join(parts)}]")


_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    character = match.group()
    if character in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[character]
    point = ord(character)
    if point < 0x100:
        return f"\\x{point:02x}"
    return f"\\u{point:04x}" if point < 0x10000 else f"\\U{point:08x}"


def visible(text: str, *, keep_layout: bool = False) -> str:
    """``text`` with every unsafe character shown as an escape such as ``\\x1b`` or ``\\u202e``.

    ``keep_layout`` keeps newlines and tabs (for multi-line text such as a trace); otherwise
    they are escaped too, so one value stays on one line.
    """
    # Compiled on first use: classes reaching this far into Unicode take milliseconds to
    # compile, and most lookups show no untrusted text to a person.
    pattern = _character_class(kept=_LAYOUT if keep_layout else "")
    return pattern.sub(_escape, text)


def first_unsafe(text: str) -> str | None:
    """The first character of ``text`` that :func:`visible` would escape, or None."""
    found = _character_class().search(text)
    return None if found is None else found.group()


# Patterns as text, compiled (and cached) by re on first use: most lookups mask nothing.
# Ten digits, alone or written 3-3-4 with spaces or dashes: an NHS number's shapes.
_NHS_NUMBER = r"(?<!\d)(\d{3})[ -]?(\d{3})[ -]?(\d{4})(?!\d)"
# Dates as ISO (1984-03-14), HL7 (19840314, also the date part of 19840314120000), or
# day-first (14/03/1984, 14-03-1984, 14.03.1984).
_DATE = (
    r"(?<!\d)(?:(?:18|19|20)\d{2}-[01]\d-[0-3]\d"
    r"|(?:18|19|20)\d{2}[01]\d[0-3]\d(?:\d{2,6})?"
    r"|[0-3]?\d[/.-][01]?\d[/.-](?:18|19|20)\d{2})(?!\d)"
)
NHS_NUMBER_MASK = "*** *** "
DATE_MASK = "****-**-**"


def mask_identifiers(text: str) -> str:
    """``text`` with NHS numbers shown as ``*** *** 1006`` and dates as ``****-**-**``."""
    masked = re.sub(_DATE, DATE_MASK, text)
    return re.sub(_NHS_NUMBER, lambda found: NHS_NUMBER_MASK + found.group(3), masked)


def hide_identifiers(text: str, replacement: str) -> str:
    """``text`` with every NHS number and date replaced whole (the ``-v`` trace's redaction)."""
    return re.sub(_NHS_NUMBER, replacement, re.sub(_DATE, replacement, text))


def hide_values(text: str, values: Iterable[str], replacement: str) -> str:
    """``text`` with each of ``values`` (names the user typed, say) replaced wherever it stands
    as a word, whatever its case; ``Fair*`` hides every word starting ``Fair``."""
    words = []
    for value in values:
        stem = value.rstrip("*").strip()
        if len(stem) >= 2:
            tail = r"\w*" if value.endswith("*") else ""
            words.append(rf"(?<!\w){re.escape(stem)}{tail}(?!\w)")
    if not words:
        return text
    return re.sub("|".join(words), replacement, text, flags=re.IGNORECASE)


def provider_text(text: str) -> str:
    """Provider free text for stderr or doctor: identifiers masked, then made visible."""
    return visible(mask_identifiers(text))
