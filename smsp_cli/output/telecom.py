"""Telephone numbers and email addresses as a person reads them; JSON keeps the wire values.

PDS holds a telecom as an HL7 TEL URL (``tel:01632960184``, ``mailto:a@example.com``,
``fax:...``) with a ``use`` code (spec §3.7). A table shows ``01632 960184 (home)``.
"""

from __future__ import annotations

import re

# The use words of a reply (smsp_cli.domain.results.TELECOM_USES) as a table says them.
USES = {
    "primary-home": "home",
    "vacation-home": "holiday",
    "answering-service": "answering service",
    "emergency-contact": "emergency",
}
_SCHEMES = {"tel": "Phone", "mailto": "Email", "fax": "Fax"}
_SEPARATORS = re.compile(r"[\s().-]")
# UK numbering plan (Ofcom): London and the other 02 areas are 3-4-4; the six big cities with
# 011x and 01x1 codes are 4-3-4, as are the 03, 05, 08 and 09 ranges; most 01 areas and the
# 07 mobiles are 5-6.
_GROUPS = (
    (re.compile(r"02\d{9}"), (3, 4, 4)),
    (re.compile(r"01(1\d|\d1)\d{7}"), (4, 3, 4)),
    (re.compile(r"0[3589]\d{9}"), (4, 3, 4)),
    (re.compile(r"0[17]\d{9}"), (5, 6)),
    (re.compile(r"0\d{9}"), (5, 5)),
)


def kind(value: str) -> str:
    """``Phone``, ``Email``, ``Fax`` or ``Telecom``, from the URL scheme."""
    # PDS FHIR sends values without a scheme: an address with @ is an email.
    default = "mailto" if "@" in value else "tel"
    scheme = value.partition(":")[0].strip().lower() if ":" in value else default
    return _SCHEMES.get(scheme, "Telecom")


def display(value: str, use: str | None) -> str:
    """``01632 960184 (home)``, ``a@example.com (work)``: the value without its scheme."""
    scheme, colon, rest = value.partition(":")
    known = colon and scheme.strip().lower() in _SCHEMES
    shown = rest.strip() if known else value.strip()
    if (not known and "@" not in shown) or (known and scheme.strip().lower() in ("tel", "fax")):
        shown = phone_number(shown)
    return f"{shown} ({use_words(use)})" if use else shown


def use_words(use: str) -> str:
    """``home``, ``mobile``, ``home, mobile``; an unknown word or code is shown as it is."""
    return ", ".join(USES.get(word, word) for word in use.split()) or use


def phone_number(number: str) -> str:
    """A UK number grouped as people write it (``01632 960184``); anything else as given."""
    digits = _SEPARATORS.sub("", number)
    international = digits.startswith(("+44", "0044"))
    national = "0" + digits.removeprefix("+44").removeprefix("0044") if international else digits
    for pattern, groups in _GROUPS:
        if pattern.fullmatch(national):
            grouped = _grouped(national, groups)
            return "+44 " + grouped[1:] if international else grouped
    return number


def _grouped(digits: str, groups: tuple[int, ...]) -> str:
    parts = []
    start = 0
    for size in groups:
        parts.append(digits[start : start + size])
        start += size
    return " ".join(parts)
