"""Which synthetic record, and which response code, answer a request (spec §3.3).

Two kinds of lookup, as PDS behind SMSP does them:

- by NHS number (verifyNHSNumber, getPatientDetailsByNHSNumber, getPatientDetails with a number):
  find the record, then verify the supplied demographics against it (PROV-PDS 4.3.3-4.3.6);
- by trace (getNHSNumber, getPatientDetailsBySearch, getPatientDetails without a number): every
  supplied item must match exactly, apart from ``*`` wildcards (PROV-PDS 4.4).

A record's forced code or fault (its scenario) answers whenever that record is the one matched.
Codes that carry no patient, and faults, answer as soon as the record is found by its number,
before any verification: they stand for failures that stop the provider before it compares
anything. Codes that return data (SMSP-0003, DEMOG-0022) are only given once verified, so the
sandbox never hands out a record for wrong details.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from functools import lru_cache

from smsp_cli.domain.models import Gender, PartialDate
from smsp_cli.domain.operations import DETAILS, GET, VERIFY, Operation
from smsp_cli.domain.results import Patient
from smsp_cli.fastclasses import dataclass
from smsp_cli.sandbox.patients import SandboxPatient, read_hl7_date, read_iso_date

SUCCESS = "SMSP-0000"
NO_MATCH = "DEMOG-0001"
MULTIPLE_MATCHES = "DEMOG-0007"
SUPERSEDED = "DEMOG-0017"
NOT_VERIFIED = "DEMOG-0040"

# The codes under which a reply carries the patient (spec §3.4: on a business error the payload
# holds only id, code and value).
CODES_WITH_PATIENT = frozenset({SUCCESS, "SMSP-0003", SUPERSEDED, "DEMOG-0022"})


@dataclass(frozen=True)
class Criteria:
    """What the server read from a request payload, as the strings on the wire."""

    nhs_number: str | None = None
    birth_date: str | None = None  # HL7 YYYYMMDD / YYYYMM / YYYY
    family: str | None = None
    given: str | None = None
    gender: str | None = None  # wire code 0/1/2/9
    postcode: str | None = None
    local_id: str | None = None  # extension, echoed back
    local_id_root: str | None = None


@dataclass(frozen=True)
class Answer:
    """The sandbox's answer: a response code and the patient to return, or a fault to raise.

    ``patient`` already holds what the reply may show: the superseding NHS number, no addresses
    or telecoms for a sensitive record, and the echoed local identifier. ``response_code`` is
    SMSP-9999 when ``fault`` is set; the server answers the fault instead of a payload.
    """

    response_code: str
    patient: Patient | None
    verified: bool | None = None  # verifyNHSNumber only
    fault: str | None = None


@dataclass(frozen=True)
class _Record:
    """A sandbox patient with its match keys worked out once."""

    sandbox: SandboxPatient
    birth: PartialDate | None
    family: str
    given_names: tuple[str, ...]
    postcodes: tuple[str, ...]
    gender_code: str | None

    @classmethod
    def of(cls, sandbox: SandboxPatient) -> _Record:
        patient = sandbox.patient
        return cls(
            sandbox=sandbox,
            birth=read_iso_date(patient.birth_date or ""),
            family=patient.family_name or "",
            given_names=patient.given_names,
            postcodes=tuple(a.postcode for a in patient.addresses if a.postcode is not None),
            gender_code=_gender_code(patient.gender),
        )


class PatientIndex:
    """The sandbox's PDS: answers each operation from a fixed set of synthetic records."""

    def __init__(self, patients: Iterable[SandboxPatient]) -> None:
        self._records = tuple(_Record.of(patient) for patient in patients)
        self._by_number: dict[str, _Record] = {}
        for record in self._records:
            number = record.sandbox.patient.nhs_number
            if not number:
                raise ValueError(f"sandbox patient {record.family!r} has no NHS number")
            if number in self._by_number:
                raise ValueError(f"NHS number {number} is held by two sandbox patients")
            self._by_number[number] = record
        for record in self._records:
            self._replacement(record)  # fail now, not mid-request, on a broken supersession

    def __len__(self) -> int:
        return len(self._records)

    def answer(self, operation: Operation, criteria: Criteria) -> Answer:
        """Answer one request as an SMSP provider over PDS would (spec §3.3)."""
        if operation in (VERIFY, GET) or (operation == DETAILS and criteria.nhs_number):
            return self._answer_by_number(operation, criteria)
        return self._answer_by_trace(operation, criteria)

    def _answer_by_number(self, operation: Operation, criteria: Criteria) -> Answer:
        record = self._by_number.get((criteria.nhs_number or "").strip())
        if record is None:
            return Answer(NO_MATCH, None)
        failure = _forced_failure(record.sandbox, operation)
        if failure is not None:
            return failure
        if not _verifies(record, criteria):
            return Answer(NOT_VERIFIED, None, verified=False if operation == VERIFY else None)
        if record.sandbox.superseded_by is None:
            return _found(record.sandbox, operation, criteria, record.sandbox.response_code)
        if operation == DETAILS:
            # PROV-PDS 4.7.4: getPatientDetails cannot take a superseded number; the caller must
            # ask verifyNHSNumber for the superseding one, so this reply names no patient.
            return Answer(SUPERSEDED, None)
        current = self._replacement(record)
        return _forced_failure(current.sandbox, operation) or _found(
            current.sandbox, operation, criteria, SUPERSEDED
        )

    def _answer_by_trace(self, operation: Operation, criteria: Criteria) -> Answer:
        # Superseded records are not returned by a trace; their replacement is (spec §3.3).
        matches = [
            record
            for record in self._records
            if record.sandbox.superseded_by is None and _traces(record, criteria)
        ]
        if not matches:
            return Answer(NO_MATCH, None)
        if len(matches) > 1:
            return Answer(MULTIPLE_MATCHES, None)  # SMSP never returns a list (spec §1)
        sandbox = matches[0].sandbox
        return _forced_failure(sandbox, operation) or _found(
            sandbox, operation, criteria, sandbox.response_code
        )

    def _replacement(self, record: _Record) -> _Record:
        """The live record at the end of a chain of supersessions."""
        seen = {record.sandbox.patient.nhs_number}
        while record.sandbox.superseded_by is not None:
            number = record.sandbox.superseded_by
            if number in seen:
                raise ValueError(f"NHS number {number} is superseded in a loop")
            if number not in self._by_number:
                raise ValueError(f"NHS number {number} supersedes another but is not held")
            seen.add(number)
            record = self._by_number[number]
        return record


def _forced_failure(sandbox: SandboxPatient, operation: Operation) -> Answer | None:
    """The answer of a record whose scenario forces a fault or a code with no patient."""
    if sandbox.fault is not None:
        return Answer("SMSP-9999", None, fault=sandbox.fault)
    if sandbox.response_code in CODES_WITH_PATIENT:
        return None
    verified = False if operation == VERIFY and sandbox.response_code == NOT_VERIFIED else None
    return Answer(sandbox.response_code, None, verified=verified)


def _found(sandbox: SandboxPatient, operation: Operation, criteria: Criteria, code: str) -> Answer:
    return Answer(
        code, _as_returned(sandbox, criteria), verified=True if operation == VERIFY else None
    )


def _as_returned(sandbox: SandboxPatient, criteria: Criteria) -> Patient:
    """The record as a reply may show it (spec §3.7, SMSP-PDS-009)."""
    patient = replace(sandbox.patient, local_identifier=criteria.local_id)
    if sandbox.sensitive:
        # A sensitive record's addresses and telecoms are omitted, not blanked (spec §3.7).
        patient = replace(patient, addresses=(), telecoms=())
    return patient


# --- verifyNHSNumber rules (PROV-PDS 4.3.3-4.3.6) --------------------------------------------


def _verifies(record: _Record, criteria: Criteria) -> bool:
    """Exact birth date, or 2 of its 3 parts plus surname's first 3 letters and forename initial.

    A name supplied alongside an exact birth date must agree too: PDS compares what it is given,
    so a contradicting surname or initial is treated as not verified.
    """
    supplied = read_hl7_date(criteria.birth_date or "")
    if supplied is None or record.birth is None or not _names_agree(record, criteria):
        return False
    if supplied == record.birth:
        return True
    both_names = _given(criteria.family) is not None and _given(criteria.given) is not None
    return both_names and _matching_date_parts(supplied, record.birth) >= 2


def _names_agree(record: _Record, criteria: Criteria) -> bool:
    """Every name part supplied agrees: surname's first 3 characters, forename's initial."""
    family, given = _given(criteria.family), _given(criteria.given)
    if family is not None and family[:3].casefold() != record.family[:3].casefold():
        return False
    forename = record.given_names[0] if record.given_names else ""
    return given is None or given[:1].casefold() == forename[:1].casefold()


def _matching_date_parts(supplied: PartialDate, held: PartialDate) -> int:
    """How many of YYYY, MM and DD are known in both dates and equal."""
    pairs = ((supplied.year, held.year), (supplied.month, held.month), (supplied.day, held.day))
    return sum(1 for mine, theirs in pairs if mine is not None and mine == theirs)


def _given(text: str | None) -> str | None:
    """A name part that was actually supplied; a blank one counts as absent."""
    return text if text is not None and text.strip() else None


# --- trace rules (PROV-PDS 4.4) --------------------------------------------------------------


def _traces(record: _Record, criteria: Criteria) -> bool:
    """Every supplied item matches the record; an absent item does not restrict."""
    return (
        _birth_matches(record, criteria.birth_date)
        and (criteria.gender is None or criteria.gender.strip() == record.gender_code)
        and (criteria.family is None or _like(criteria.family, record.family))
        and (criteria.given is None or _any_like(criteria.given, record.given_names))
        and (criteria.postcode is None or _any_like(criteria.postcode, record.postcodes))
    )


def _birth_matches(record: _Record, text: str | None) -> bool:
    """Dates match at their lowest common resolution: 200504 matches 20050401-20050430."""
    if text is None:
        return True
    supplied = read_hl7_date(text)
    if supplied is None or record.birth is None:
        return False
    pairs = (
        (supplied.year, record.birth.year),
        (supplied.month, record.birth.month),
        (supplied.day, record.birth.day),
    )
    return all(mine is None or theirs is None or mine == theirs for mine, theirs in pairs)


def _any_like(pattern: str, values: Iterable[str]) -> bool:
    return any(_like(pattern, value) for value in values)


def _like(pattern: str, value: str) -> bool:
    """Case-insensitive equality where ``*`` stands for any run of characters.

    Whitespace and punctuation are significant, so "LS177TR" does not match "LS17 7TR".
    """
    return _wildcard_regex(pattern).fullmatch(value) is not None


@lru_cache(maxsize=256)
def _wildcard_regex(pattern: str) -> re.Pattern[str]:
    literal_parts = (re.escape(part) for part in pattern.split("*"))
    return re.compile(".*".join(literal_parts), re.IGNORECASE | re.DOTALL)


def _gender_code(label: str | None) -> str | None:
    """The wire code for a Patient gender (a label such as "male", or already a code)."""
    if label is None:
        return None
    for gender in Gender:
        if label in (gender.label, gender.value):
            return gender.value
    return None
