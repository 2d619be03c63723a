"""The sandbox's patient record: a synthetic PDS record and the scenario it plays.

The records themselves come from :mod:`~smsp_cli.sandbox.builtin` (``BUILT_IN``) or from an
NHS Digital Opentest CSV (:func:`smsp_cli.sandbox.opentest.load_csv`).

A record is stored as PDS holds it. What a reply withholds (the addresses and telecoms of a
sensitive patient) is removed when answering, by ``matching``, so a sensitive record can still be
found by its postcode (spec §3.3: matching runs on PDS data, not on what is returned).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

from smsp_cli.domain.models import PartialDate
from smsp_cli.domain.results import Patient
from smsp_cli.fastclasses import dataclass
from smsp_cli.output import jsonshape


class Forced(NamedTuple):
    """The response code, or ITK fault code (spec §5.7), a scenario's record always answers with."""

    response_code: str
    fault: str | None = None


# Only codes that carry a patient (SMSP-0000, SMSP-0003, DEMOG-0022) return data; the others
# answer with no subject whenever their record is matched (spec §3.4, §6.1).
SCENARIOS: Mapping[str, Forced] = {
    "found": Forced("SMSP-0000"),
    "sensitive": Forced("SMSP-0000"),
    "minimal": Forced("SMSP-0000"),
    "deceased": Forced("SMSP-0000"),
    "superseded": Forced("SMSP-0000"),  # DEMOG-0017 comes from superseded_by
    "invalidated": Forced("DEMOG-0022"),
    "multiple-match": Forced("SMSP-0000"),  # DEMOG-0007 comes from the search itself
    "not-verified": Forced("DEMOG-0040"),
    "cached": Forced("SMSP-0003"),
    "spine-down": Forced("SMSP-0004"),
    "provider-error": Forced("SMSP-9999"),
    "spine-error": Forced("DEMOG-9999"),
    "retryable-fault": Forced("SMSP-9999", fault="2100"),
    "fatal-fault": Forced("SMSP-9999", fault="2200"),
    "access-denied": Forced("SMSP-9999", fault="3000"),
    "response-invalid": Forced("SMSP-0002"),
    "credentials-rejected": Forced("SMSP-0005"),
    "old-style-number": Forced("DEMOG-0042"),
    # The CLI never sends an invalid request, so these records stand in for one, letting a
    # client see how a provider's rejection looks end to end.
    "input-rejected": Forced("SMSP-0001"),
    "invalid-message": Forced("SMSP-9999", fault="1000"),
}


# What each scenario answers, in one line: the legend under `smsp sandbox patients`.
SCENARIO_MEANINGS: Mapping[str, str] = {
    "found": "SMSP-0000: the full record",
    "sensitive": "SMSP-0000: a restricted record, addresses and telecoms withheld",
    "minimal": "SMSP-0000: a record with few details",
    "deceased": "SMSP-0000: a record with a date of death",
    "superseded": "DEMOG-0017: the number was replaced; the reply names the new one",
    "invalidated": "DEMOG-0022: the number has been invalidated",
    "multiple-match": "DEMOG-0007 to a search that fits both: several matches",
    "not-verified": "DEMOG-0040: the number is not verified",
    "cached": "SMSP-0003: from the provider's cache, Spine unavailable",
    "spine-down": "SMSP-0004: the provider cannot reach Spine",
    "provider-error": "SMSP-9999: the provider's own failure",
    "spine-error": "DEMOG-9999: a Spine failure",
    "retryable-fault": "SOAP fault 2100: a failure worth retrying",
    "fatal-fault": "SOAP fault 2200: a failure not worth retrying",
    "access-denied": "SOAP fault 3000: access denied",
    "response-invalid": "SMSP-0002: PDS data the provider cannot return",
    "credentials-rejected": "SMSP-0005: the audit identity is refused",
    "old-style-number": "DEMOG-0042: not a new-style NHS number",
    "input-rejected": "SMSP-0001: the request is refused as invalid",
    "invalid-message": "SOAP fault 1000: the message is refused as invalid",
}


@dataclass(frozen=True)
class SandboxPatient:
    """A synthetic PDS record and the scenario it plays in the sandbox."""

    patient: Patient
    scenario: str
    superseded_by: str | None = None  # DEMOG-0017: the NHS number that replaces this one
    response_code: str = "SMSP-0000"  # answered whenever this record is matched
    fault: str | None = None  # ToolkitErrorInfo ErrorCode answered instead of a payload
    sensitive: bool = False  # addresses and telecoms withheld in replies

    @classmethod
    def in_scenario(
        cls,
        patient: Patient,
        scenario: str,
        *,
        superseded_by: str | None = None,
        sensitive: bool = False,
    ) -> SandboxPatient:
        """A record whose response code and fault are the ones its scenario forces."""
        forced = SCENARIOS[scenario]
        return cls(
            patient,
            scenario,
            superseded_by=superseded_by,
            response_code=forced.response_code,
            fault=forced.fault,
            sensitive=sensitive,
        )

    def to_json(self) -> dict[str, object]:
        """The record in the public JSON shape, plus its scenario label."""
        return {**patient_to_json(self.patient), "scenario": self.scenario}


def patient_to_json(patient: Patient) -> dict[str, object]:
    """A patient in smsp's public JSON shape, plus the home postcode for quick reading."""
    return {**(jsonshape.patient_json(patient) or {}), "postcode": home_postcode(patient)}


def home_postcode(patient: Patient) -> str | None:
    """The postcode of the patient's home address, if one is held."""
    for address in patient.addresses:
        if address.use in ("home", "H"):
            return address.postcode
    return None


# --- Dates -----------------------------------------------------------------------------------

# HL7 TS: YYYY, YYYYMM or YYYYMMDD, a full date optionally followed by hh, mm and ss (spec §3.2).
_HL7_DATE = re.compile(r"\d{4}|\d{6}|\d{8}(?:\d{2}){0,3}")
_ISO_DATE = re.compile(r"\d{4}(?:-\d{2}(?:-\d{2})?)?")


def read_hl7_date(text: str) -> PartialDate | None:
    """Read an HL7 date (YYYY, YYYYMM, YYYYMMDD, or a full date with a time); None if it is none."""
    value = text.strip()
    if not _HL7_DATE.fullmatch(value):
        return None
    return PartialDate.from_hl7(value[:8])


def read_iso_date(text: str) -> PartialDate | None:
    """Read a Patient date (YYYY, YYYY-MM or YYYY-MM-DD); None if it is none."""
    value = text.strip()
    if not _ISO_DATE.fullmatch(value):
        return None
    return PartialDate.from_hl7(value.replace("-", ""))
