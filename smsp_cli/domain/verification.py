"""smsp's own verification rule, for an API that answers a read without judging it (PDS FHIR).

SMSP's verifyNHSNumber match logic (spec §3.3, PROV-PDS 4.3.3-4.3.6): the number is verified
when the date of birth matches exactly; otherwise when 2 of its 3 parts (YYYY, MM, DD) match,
the first 3 characters of the surname match and the forename initial matches. A name supplied
beside an exact date must agree too (as the SMSP sandbox treats it). Names are compared against
every name the record holds, as SMSP compares against all name types.
"""

from __future__ import annotations

from collections.abc import Sequence

from smsp_cli.domain.models import PartialDate
from smsp_cli.fastclasses import dataclass


@dataclass(frozen=True)
class HeldName:
    """One of the record's names: its family name and given names."""

    family: str
    given: tuple[str, ...]


def verifies(
    supplied_dob: PartialDate,
    family: str | None,
    given: str | None,
    held_dob: PartialDate | None,
    names: Sequence[HeldName],
) -> bool:
    """Whether what the user gave verifies the record (spec §3.3 verifyNHSNumber)."""
    if held_dob is None:
        return False
    family, given = _supplied(family), _supplied(given)
    if (family is not None or given is not None) and not any(
        _agrees(name, family, given) for name in names
    ):
        return False
    if supplied_dob == held_dob:
        return True
    return family is not None and given is not None and _parts_equal(supplied_dob, held_dob) >= 2


def _agrees(name: HeldName, family: str | None, given: str | None) -> bool:
    if family is not None and family[:3].casefold() != name.family[:3].casefold():
        return False
    first = name.given[0] if name.given else ""
    return given is None or given[:1].casefold() == first[:1].casefold()


def _parts_equal(supplied: PartialDate, held: PartialDate) -> int:
    pairs = ((supplied.year, held.year), (supplied.month, held.month), (supplied.day, held.day))
    return sum(1 for mine, theirs in pairs if mine is not None and mine == theirs)


def _supplied(text: str | None) -> str | None:
    return text if text is not None and text.strip() else None
