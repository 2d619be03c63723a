"""Synthetic patients for the embedded sandbox provider.

``BUILT_IN`` holds one or more fictional patients per scenario: every NHS number is in the
synthetic range 999 000 0000 - 999 999 9999 (never issued to a real person) and passes modulus 11;
every address is in the fictional county of Borsetshire, whose ``BO`` postcode area does not exist.
``load_csv`` reads the NHS Digital Opentest test-data format instead.

A record is stored as PDS holds it. What a reply withholds (the addresses and telecoms of a
sensitive patient) is removed when answering, by ``matching``, so a sensitive record can still be
found by its postcode (spec §3.3: matching runs on PDS data, not on what is returned).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

from smsp_cli import jsonshape
from smsp_cli.models import Gender, PartialDate, is_valid_nhs_number
from smsp_cli.results import Address, GpPractice, Patient, Telecom


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


@dataclass(frozen=True)
class SandboxPatient:
    """A synthetic PDS record and the scenario it plays in the sandbox."""

    patient: Patient
    scenario: str
    superseded_by: str | None = None  # DEMOG-0017: the NHS number that replaces this one
    response_code: str = "SMSP-0000"  # answered whenever this record is matched
    fault: str | None = None  # ToolkitErrorInfo ErrorCode answered instead of a payload
    sensitive: bool = False  # addresses and telecoms withheld in replies

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


# --- Built-in patients -----------------------------------------------------------------------


def _home(postcode: str, *lines: str) -> Address:
    return Address("home", lines, postcode)


def _sandbox(
    patient: Patient, scenario: str, *, superseded_by: str | None = None, sensitive: bool = False
) -> SandboxPatient:
    """A record whose response code and fault are the ones its scenario forces."""
    forced = SCENARIOS[scenario]
    return SandboxPatient(
        patient,
        scenario,
        superseded_by=superseded_by,
        response_code=forced.response_code,
        fault=forced.fault,
        sensitive=sensitive,
    )


def _plain(
    scenario: str,
    nhs_number: str,
    title: str,
    given: str,
    family: str,
    gender: str,
    birth_date: str,
    home: Address,
) -> SandboxPatient:
    """A patient with a home address and GP practice, for the scenarios decided by their code."""
    patient = Patient(
        nhs_number=nhs_number,
        title=title,
        given_names=(given,),
        family_name=family,
        gender=gender,
        birth_date=birth_date,
        addresses=(home,),
        gp_practice=_FELPERSHAM,
    )
    return _sandbox(patient, scenario)


_AMBRIDGE = GpPractice(
    code="Y12345",
    name="Ambridge Village Surgery",
    address=Address(None, ("The Surgery", "Church Lane", "Ambridge", "Borchester"), "BO2 7AA"),
    telephone="tel:01632960001",  # Ofcom drama range 01632 960xxx: never a real line
)
_FELPERSHAM = GpPractice(
    code="Y23456",
    name="Felpersham Road Medical Centre",
    address=Address(None, ("14 Felpersham Road", "Borchester", "Borsetshire"), "BO1 3RF"),
    telephone="tel:01632960002",
)

_FOUND = Patient(
    nhs_number="9991000003",
    title="Mrs",
    given_names=("Eleanor", "Mary"),
    family_name="Fairweather",
    gender="female",
    birth_date="1984-03-14",
    addresses=(
        _home("BO1 4QX", "Rose Cottage", "12 Orchard Way", "Little Ambridge", "Borchester",
              "Borsetshire"),
        Address("temporary", ("Flat 3", "27 Harbour Street", "Seahaven", "Borsetshire"),
                "BO9 2HT"),
        # A correspondence address with fewer than the 5 lines replies always carry (spec §3.7).
        Address("correspondence", ("PO Box 17", "Borchester"), "BO1 9ZZ"),
    ),
    telecoms=(
        Telecom("H", "tel:01632960184"),
        Telecom("MC", "tel:07700900184"),  # Ofcom drama range 07700 900xxx
        Telecom("H", "mailto:eleanor.fairweather@example.com"),
    ),
    gp_practice=_AMBRIDGE,
)

_SENSITIVE = Patient(
    nhs_number="9991000011",
    title="Ms",
    given_names=("Harriet", "Anne"),
    family_name="Nightingale",
    gender="female",
    birth_date="1979-11-02",
    addresses=(_home("BO4 8LS", "Lark Rise", "3 Mill Lane", "Penny Hassett", "Borsetshire"),),
    telecoms=(Telecom("MC", "tel:07700900311"),),
    gp_practice=_AMBRIDGE,
)

_MINIMAL = Patient(
    nhs_number="9991000038",
    given_names=("Robin",),
    family_name="Quill",
    gender="not-specified",
    birth_date="2001-06-30",
)

_DECEASED = Patient(
    nhs_number="9991000046",
    title="Mr",
    given_names=("Arthur", "Edmund"),
    family_name="Thistlewood",
    gender="male",
    birth_date="1931-07-02",
    death_date="2019-11-23",
    addresses=(_home("BO7 3JP", "The Old Forge", "Loxley Barrett", "Borsetshire"),),
    gp_practice=_AMBRIDGE,
)


def _oakhurst(nhs_number: str) -> Patient:
    """The same man under his old (superseded) and his current NHS number."""
    return Patient(
        nhs_number=nhs_number,
        title="Mr",
        given_names=("Samuel", "Peter"),
        family_name="Oakhurst",
        gender="male",
        birth_date="1967-05-21",
        addresses=(_home("BO2 6DW", "8 Brookfield Road", "Hollerton", "Borsetshire"),),
        telecoms=(Telecom("H", "tel:01632960562"),),
        gp_practice=_FELPERSHAM,
    )


def _twyford(nhs_number: str, middle_name: str, flat: str) -> Patient:
    """Two records alike in name, birth date, gender and postcode: no search tells them apart."""
    return Patient(
        nhs_number=nhs_number,
        title="Mr",
        given_names=("Daniel", middle_name),
        family_name="Twyford",
        gender="male",
        birth_date="1990-01-01",
        addresses=(_home("BO3 5RD", f"Flat {flat}", "Willow Court", "Borchester"),),
        gp_practice=_FELPERSHAM,
    )


_CACHED = Patient(
    nhs_number="9991000119",
    title="Mr",
    given_names=("Stanley",),
    family_name="Storey",
    gender="male",
    birth_date="1972-12-05",
    addresses=(_home("BO1 7TT", "41 Market Street", "Borchester", "Borsetshire"),),
    telecoms=(Telecom("H", "tel:01632960719"),),
    gp_practice=_FELPERSHAM,
)

BUILT_IN: tuple[SandboxPatient, ...] = (
    _sandbox(_FOUND, "found"),
    _sandbox(_SENSITIVE, "sensitive", sensitive=True),
    _sandbox(_MINIMAL, "minimal"),
    _sandbox(_DECEASED, "deceased"),
    _sandbox(_oakhurst("9991000054"), "superseded", superseded_by="9991000062"),
    _sandbox(_oakhurst("9991000062"), "found"),
    _plain("invalidated", "9991000070", "Miss", "Ivy", "Marchbanks", "female", "1995-09-09",
           _home("BO5 1NE", "2 Chapel Row", "Edgeley", "Borsetshire")),
    _sandbox(_twyford("9991000089", "Lee", "2"), "multiple-match"),
    _sandbox(_twyford("9991000097", "Ray", "5"), "multiple-match"),
    _plain("not-verified", "9991000100", "Mrs", "Penelope", "Doubtfire", "female", "1958-04-17",
           _home("BO6 2HG", "The Vicarage", "Darrington", "Borsetshire")),
    _sandbox(_CACHED, "cached"),
    _plain("spine-down", "9991000127", "Ms", "Dora", "Downing", "female", "1988-02-29",
           _home("BO8 4AX", "19 Station Approach", "Borchester", "Borsetshire")),
    _plain("provider-error", "9991000135", "Mr", "Edgar", "Fallow", "male", "1945-10-10",
           _home("BO2 9PL", "Home Farm", "Ambridge", "Borsetshire")),
    _plain("spine-error", "9991000143", "Mrs", "Agnes", "Spinney", "female", "1939-08-21",
           _home("BO4 1WD", "5 Wood Lane", "Penny Hassett", "Borsetshire")),
    _plain("retryable-fault", "9991000151", "Mr", "Reginald", "Retford", "male", "1963-03-03",
           _home("BO9 6QB", "77 Quayside", "Seahaven", "Borsetshire")),
    _plain("fatal-fault", "9991000178", "Ms", "Fenella", "Stopford", "female", "1981-07-19",
           _home("BO3 8HH", "1 Hollow Way", "Borchester", "Borsetshire")),
    _plain("access-denied", "9991000186", "Mrs", "Delia", "Lockwood", "female", "1970-01-26",
           _home("BO5 5GE", "Gate House", "Lakey Hill", "Borsetshire")),
    _plain("response-invalid", "9991000194", "Mr", "Victor", "Mangle", "male", "1999-12-31",
           _home("BO6 9YR", "30 Glebe Street", "Darrington", "Borsetshire")),
    _plain("credentials-rejected", "9991000208", "Ms", "Cressida", "Keyes", "not-known",
           "1992-06-15", _home("BO7 7XY", "6 Key Street", "Loxley Barrett", "Borsetshire")),
    _plain("old-style-number", "9991000216", "Mr", "Horace", "Oldcastle", "male", "1928-02-14",
           _home("BO8 1DS", "Castle Lodge", "Borchester", "Borsetshire")),
    _plain("input-rejected", "9991000224", "Mrs", "Winifred", "Refusal", "female", "1950-05-05",
           _home("BO9 2AB", "2 Mill Lane", "Penny Hassett", "Borsetshire")),
    _plain("invalid-message", "9991000232", "Mr", "Malcolm", "Formby", "male", "1977-07-07",
           _home("BO4 4NF", "11 Station Road", "Edgeley", "Borsetshire")),
)


# --- Dates -----------------------------------------------------------------------------------

# HL7 TS: YYYY, YYYYMM or YYYYMMDD, a full date optionally followed by hh, mm and ss (spec §3.2).
_HL7_DATE = re.compile(r"\d{4}|\d{6}|\d{8}(?:\d{2}){0,3}")
_ISO_DATE = re.compile(r"\d{4}(?:-\d{2}(?:-\d{2})?)?")
# A spreadsheet that saved a long date-time as a number, e.g. 2.01206E+11 for 201206xxxxxx.
_SPREADSHEET_NUMBER = re.compile(r"(\d)\.(\d+)E\+(\d+)", re.IGNORECASE)


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


def _read_csv_date(text: str) -> PartialDate | None:
    """Read a CSV date: HL7 form, ISO form, or a date-time a spreadsheet turned into a number."""
    return read_hl7_date(text) or read_iso_date(text) or _read_spreadsheet_date(text)


def _read_spreadsheet_date(text: str) -> PartialDate | None:
    """Keep the digits a spreadsheet's 6-significant-digit display preserved, at a date resolution.

    The Opentest file holds DATE_OF_DEATH ``2.01206E+11``: a YYYYMMDDhhmm value shown as a number.
    Its six digits give YYYYMM exactly, because the next digit (tens of the day) is at most 3 and
    so never rounded the month up.
    """
    match = _SPREADSHEET_NUMBER.fullmatch(text.strip())
    if not match:
        return None
    digits = match[1] + match[2]
    if len(digits) > int(match[3]) + 1:
        return None  # not a whole number, so no date
    for resolution in (8, 6, 4):
        if len(digits) >= resolution:
            return PartialDate.from_hl7(digits[:resolution])
    return None


# --- Opentest CSV ----------------------------------------------------------------------------

_REQUIRED_COLUMNS = ("NHS_NUMBER", "DATE_OF_BIRTH", "FAMILY_NAME", "GIVEN_NAME", "GENDER")
_ADDRESS_COLUMNS = tuple(f"ADDRESS_LINE_{n}" for n in range(1, 6))

_GENDER_WORDS = {
    "male": Gender.MALE,
    "m": Gender.MALE,
    "female": Gender.FEMALE,
    "f": Gender.FEMALE,
    "not known": Gender.NOT_KNOWN,
    "unknown": Gender.NOT_KNOWN,
    # PDS "Indeterminate" (cannot be classed as male or female) is ISO 5218 code 9, which the
    # SMSP Sex vocabulary calls "Not specified" (spec §4).
    "indeterminate": Gender.NOT_SPECIFIED,
    "not specified": Gender.NOT_SPECIFIED,
}

# SENSITIVE_FLAG values seen in the Opentest file: S on 2 rows; I on exactly the 4 rows whose
# Test ref is DEMOG-0022, i.e. the PDS confidentiality value for an invalidated record.
_SENSITIVE_FLAGS = {"": None, "S": "sensitive", "I": "invalidated"}

# A Test ref naming the code a scenario answers with selects that scenario.
_SCENARIO_BY_TEST_REF = {
    **{forced.fault or forced.response_code: label for label, forced in SCENARIOS.items()
       if (forced.fault or forced.response_code) != "SMSP-0000"},
    "DEMOG-0007": "multiple-match",
    "DEMOG-0017": "superseded",
    # SMSP-0001 rows test the client's own date-of-birth format checks: the record is ordinary.
    "SMSP-0001": "found",
    "": "found",
}
_SCENARIO_BY_NOTE = {"used for multiple matches": "multiple-match", "superseded": "superseded"}


class _Row(NamedTuple):
    """One loaded CSV row, with what the supersession inference needs."""

    record: SandboxPatient
    paf_key: str


def load_csv(path: Path) -> tuple[SandboxPatient, ...]:
    """Load patients from a CSV in the NHS Digital Opentest test-data format.

    A bad row raises ValueError naming the file and line. The Opentest file marks one row
    "Superseded" without saying which number replaces it; see ``_link_superseded``.
    """
    rows: list[_Row] = []
    seen: dict[str, int] = {}
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        try:
            _check_header(path, reader.fieldnames)
            for cells in reader:
                line = reader.line_num
                if _is_blank(cells):
                    continue  # e.g. a line of bare commas a spreadsheet left behind
                row = _read_row(cells, path, line)
                number = row.record.patient.nhs_number or ""
                if number in seen:
                    raise ValueError(f"{path}:{line}: NHS number {number} is also on line "
                                     f"{seen[number]}")
                seen[number] = line
                rows.append(row)
        except csv.Error as exc:
            raise ValueError(f"{path}:{reader.line_num}: {exc}") from None
        except UnicodeDecodeError as exc:
            # Decoding runs ahead in blocks, so no honest line number is known here.
            raise ValueError(f"{path}: not UTF-8 text ({exc.reason})") from None
    return _link_superseded(rows)


def _check_header(path: Path, fieldnames: Sequence[str] | None) -> None:
    missing = [name for name in _REQUIRED_COLUMNS if name not in (fieldnames or [])]
    if missing:
        raise ValueError(f"{path}:1: not an Opentest CSV header: missing {', '.join(missing)}")


def _is_blank(cells: Mapping[str | None, object]) -> bool:
    return all(not (value.strip() if isinstance(value, str) else value) for value in cells.values())


def _read_row(cells: Mapping[str | None, object], path: Path, line: int) -> _Row:
    try:
        if None in cells:  # DictReader's key for cells beyond the header
            raise ValueError("more cells than the header has columns (an unquoted comma?)")
        text = {str(key): str(value or "").strip() for key, value in cells.items()}
        return _Row(_row_to_record(text), text.get("PAF_KEY", ""))
    except ValueError as exc:
        raise ValueError(f"{path}:{line}: {exc}") from None


def _row_to_record(row: dict[str, str]) -> SandboxPatient:
    number = row["NHS_NUMBER"]
    if not is_valid_nhs_number(number):
        raise ValueError(f"NHS_NUMBER {number!r} is not 10 digits passing modulus 11")
    birth = _read_csv_date(row["DATE_OF_BIRTH"])
    if birth is None:
        raise ValueError(f"DATE_OF_BIRTH {row['DATE_OF_BIRTH']!r} is not a date")
    patient = Patient(
        nhs_number=number,
        title=row.get("TITLE") or None,
        given_names=tuple(filter(None, (row["GIVEN_NAME"], row.get("OTHER_GIVEN_NAME")))),
        family_name=row["FAMILY_NAME"] or None,
        gender=_gender_label(row["GENDER"]),
        birth_date=birth.iso(),
        death_date=_death_date(row.get("DATE_OF_DEATH", "")),
        addresses=_home_address(row),
        gp_practice=_gp_practice(row.get("PRIMARY_CARE_CODE", "")),
    )
    flag = _sensitive_flag(row.get("SENSITIVE_FLAG", ""))
    scenario = "invalidated" if flag == "invalidated" else _scenario(row)
    forced = SCENARIOS[scenario]
    return SandboxPatient(
        patient,
        scenario,
        response_code=forced.response_code,
        fault=forced.fault,
        sensitive=flag == "sensitive",
    )


def _gender_label(text: str) -> str | None:
    if not text:
        return None
    gender = _GENDER_WORDS.get(text.casefold()) or Gender.from_code(text)
    if gender is None:
        raise ValueError(f"GENDER {text!r} is not Male, Female, Not known, Indeterminate, 0-2 or 9")
    return gender.label


def _death_date(text: str) -> str | None:
    if not text:
        return None
    date = _read_csv_date(text)
    if date is None:
        raise ValueError(f"DATE_OF_DEATH {text!r} is not a date")
    return date.iso()


def _home_address(row: dict[str, str]) -> tuple[Address, ...]:
    lines = tuple(row[name] for name in _ADDRESS_COLUMNS if row.get(name))
    postcode = row.get("POST_CODE") or None
    if not lines and postcode is None:
        return ()
    return (Address("home", lines, postcode),)


def _gp_practice(code: str) -> GpPractice | None:
    return GpPractice(code=code, name=None, address=None, telephone=None) if code else None


def _sensitive_flag(text: str) -> str | None:
    if text.upper() not in _SENSITIVE_FLAGS:
        raise ValueError(f"SENSITIVE_FLAG {text!r} is not blank, S or I")
    return _SENSITIVE_FLAGS[text.upper()]


def _scenario(row: dict[str, str]) -> str:
    by_note = _SCENARIO_BY_NOTE.get(row.get("Notes", "").casefold())
    if by_note is not None:
        return by_note
    test_ref = row.get("Test ref", "").upper()
    if test_ref not in _SCENARIO_BY_TEST_REF:
        raise ValueError(f"Test ref {test_ref!r} is not a code the sandbox can play")
    return _SCENARIO_BY_TEST_REF[test_ref]


def _link_superseded(rows: list[_Row]) -> tuple[SandboxPatient, ...]:
    """Point each "Superseded" row at its replacement, or load it as an ordinary record.

    The Opentest file records no superseding number. Its one "Superseded" row (9449310424, HEBRON
    LISE J) has exactly one other row for the same person: the same names, birth date, gender and
    PAF address key (9449310416, HEBRON LISE BRITTNY). Only such an unambiguous twin is taken as
    the replacement; without one the row is loaded as "found", never given an invented number.
    """
    linked = []
    for row in rows:
        record = row.record
        if record.scenario == "superseded" and record.superseded_by is None:
            twins = [other.record for other in rows if _same_person(row, other)]
            if len(twins) == 1:
                record = replace(record, superseded_by=twins[0].patient.nhs_number)
            else:
                record = replace(record, scenario="found")
        linked.append(record)
    return tuple(linked)


def _same_person(row: _Row, other: _Row) -> bool:
    mine, theirs = row.record.patient, other.record.patient
    return (
        other is not row
        and other.record.scenario != "superseded"
        and bool(row.paf_key)
        and row.paf_key == other.paf_key
        and (mine.family_name or "").casefold() == (theirs.family_name or "").casefold()
        and [name.casefold() for name in mine.given_names[:1]]
        == [name.casefold() for name in theirs.given_names[:1]]
        and mine.birth_date == theirs.birth_date
        and mine.gender == theirs.gender
    )
