"""The one gate for untrusted text on its way to a person.

Everything that came from a provider or a user's file (patient fields, fault strings, HTTP
bodies and headers, certificate names, CSV cells) passes through :func:`visible` before it is
shown in a table, a stderr line, the ``-v`` trace or doctor:

* C0 and C1 controls, DEL, bidi overrides and isolates, line and paragraph separators and
  lone surrogates become visible escapes (``\\x1b``, ``\\u202e``), so a provider can neither
  drive the terminal nor reorder what the reader sees;
* rich markup is never interpreted: callers print with ``markup=False`` (or hand rich a
  ``Text``); this module makes no markup of its own.

Provider free text shown on stderr or in doctor also goes through :func:`mask_identifiers`,
which hides NHS numbers and dates a provider may echo back (``*** *** 1006``, ``****-**-**``).
JSON output never passes through here: it keeps the data exact, escaped by the JSON encoder.
"""

from __future__ import annotations

import re

# C0 controls, DEL and C1 controls; the Arabic letter mark and the bidi marks, embeddings,
# overrides and isolates; line and paragraph separators; lone surrogates (undecodable bytes).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]"
)
_UNSAFE_BUT_LAYOUT = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029"
    "\ud800-\udfff]"
)


_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    character = match.group()
    if character in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[character]
    point = ord(character)
    return f"\\x{point:02x}" if point < 0x100 else f"\\u{point:04x}"


def visible(text: str, *, keep_layout: bool = False) -> str:
    """``text`` with every unsafe character shown as an escape such as ``\\x1b`` or ``\\u202e``.

    ``keep_layout`` keeps newlines and tabs (for multi-line text such as a trace); otherwise
    they are escaped too, so one value stays on one line.
    """
    pattern = _UNSAFE_BUT_LAYOUT if keep_layout else _UNSAFE
    return pattern.sub(_escape, text)


# Ten digits, alone or written 3-3-4 with spaces or dashes: an NHS number's shapes.
_NHS_NUMBER = re.compile(r"(?<!\d)(\d{3})[ -]?(\d{3})[ -]?(\d{4})(?!\d)")
# Dates as ISO (1984-03-14), HL7 (19840314, also the date part of 19840314120000), or
# day-first (14/03/1984, 14-03-1984, 14.03.1984).
_DATE = re.compile(
    r"(?<!\d)(?:(?:18|19|20)\d{2}-[01]\d-[0-3]\d"
    r"|(?:18|19|20)\d{2}[01]\d[0-3]\d(?:\d{2,6})?"
    r"|[0-3]?\d[/.-][01]?\d[/.-](?:18|19|20)\d{2})(?!\d)"
)
NHS_NUMBER_MASK = "*** *** "
DATE_MASK = "****-**-**"


def mask_identifiers(text: str) -> str:
    """``text`` with NHS numbers shown as ``*** *** 1006`` and dates as ``****-**-**``."""
    masked = _DATE.sub(DATE_MASK, text)
    return _NHS_NUMBER.sub(lambda found: NHS_NUMBER_MASK + found.group(3), masked)


def provider_text(text: str) -> str:
    """Provider free text for stderr or doctor: identifiers masked, then made visible."""
    return visible(mask_identifiers(text))
