"""Request model and client-side validation (spec §3.2-3.3, §7.4).

Everything a user types is checked here, before any XML is built, so that nothing is sent on
bad input. Each failure names the field and the rule it broke.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from enum import Enum
from typing import TypeVar

from smsp_cli.domain.errors import ValidationError, column_name
from smsp_cli.domain.operations import DETAILS, DobResolution, Operation
from smsp_cli.domain.wording import listed
from smsp_cli.fastclasses import dataclass

NHS_NUMBER_OID = "2.16.840.1.113883.2.1.4.1"
LOCAL_PERSON_ID_OID = "2.16.840.1.113883.2.1.3.2.4.18.24"
SEX_CODE_SYSTEM = "2.16.840.1.113883.2.1.3.2.4.16.25"

_T = TypeVar("_T")

_NHS_NUMBER_FORMS = re.compile(r"^(\d{10}|\d{3} \d{3} \d{4}|\d{3}-\d{3}-\d{4})$")
_OID = r"^[0-2](\.(0|[1-9]\d*))+$"
# C0 and C1 controls, line/paragraph separators, and code points XML 1.0 cannot carry.
# Both patterns are compiled where used (re caches them): most lookups carry no name or local
# id, and this class, reaching past Latin-1, takes longer to compile than the module to load.
_CONTROL = "[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]"


def nhs_number_check_digit(first_nine: str) -> int | None:
    """The modulus 11 check digit for nine digits, or None when no valid number can end them."""
    weights = range(10, 1, -1)
    total = sum(int(digit) * weight for digit, weight in zip(first_nine, weights, strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def is_valid_nhs_number(digits: str) -> bool:
    """True for ten digits whose last is the modulus 11 check digit of the first nine."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    return nhs_number_check_digit(digits[:9]) == int(digits[9])


def parse_nhs_number(text: str, field: str = "NHS number") -> str:
    """Accept 9434765919, 943 476 5919 or 943-476-5919; return the ten digits."""
    candidate = text.strip()
    if not _NHS_NUMBER_FORMS.match(candidate):
        raise ValidationError(
            field, f"{text!r} is not 10 digits (use 9434765919, 943 476 5919 or 943-476-5919)"
        )
    digits = re.sub(r"\D", "", candidate)
    if not is_valid_nhs_number(digits):
        raise ValidationError(field, f"{digits} fails the modulus 11 check digit")
    return digits


def format_nhs_number(digits: str) -> str:
    """Show an NHS number 3-3-4, as MSCA-PDS-06 requires on every screen."""
    if len(digits) == 10 and digits.isdigit():
        return f"{digits[:3]} {digits[3:6]} {digits[6:]}"
    return digits


@dataclass(frozen=True)
class PartialDate:
    """A date known to the year, the month or the day (HL7 TS at YYYY, YYYYMM or YYYYMMDD)."""

    year: int
    month: int | None = None
    day: int | None = None

    def hl7(self) -> str:
        """The HL7 wire form: YYYY, YYYYMM or YYYYMMDD."""
        text = f"{self.year:04d}"
        if self.month is not None:
            text += f"{self.month:02d}"
            if self.day is not None:
                text += f"{self.day:02d}"
        return text

    def iso(self) -> str:
        """The display and JSON form: YYYY, YYYY-MM or YYYY-MM-DD."""
        text = f"{self.year:04d}"
        if self.month is not None:
            text += f"-{self.month:02d}"
            if self.day is not None:
                text += f"-{self.day:02d}"
        return text

    @property
    def is_full(self) -> bool:
        """True when the day is known."""
        return self.day is not None

    @classmethod
    def from_hl7(cls, text: str) -> PartialDate | None:
        """Read YYYY, YYYYMM or YYYYMMDD (ignoring any time part); None if it is no date."""
        # HL7 TS: digits only; anything after the day (hours, minutes...) is ignored.
        match = re.fullmatch(r"(\d{4})(?:(\d{2})(?:(\d{2})\d*)?)?", text.strip())
        if not match:
            return None
        year, month, day = match.groups()
        try:
            return _checked_date(int(year), _int(month), _int(day))
        except ValueError:
            return None


def _int(text: str | None) -> int | None:
    return None if text is None else int(text)


def _checked_date(year: int, month: int | None, day: int | None) -> PartialDate:
    if month is not None and not 1 <= month <= 12:
        raise ValueError(f"month {month} does not exist")
    if day is not None and month is not None:
        dt.date(year, month, day)  # raises ValueError for 30 February and friends
    if year < 1800:
        raise ValueError(f"year {year} is before 1800")
    return PartialDate(year, month, day)


_DATE_FORMS = re.compile(r"^(?P<y>\d{4})(?:(?P<sep>-?)(?P<m>\d{2})(?:(?P=sep)(?P<d>\d{2}))?)?$")
# DD/MM/YYYY: the form clerks type (UK order), for full dates only.
_UK_DATE = re.compile(r"^(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>\d{4})$")


def parse_date(
    text: str,
    *,
    field: str = "date of birth",
    resolution: DobResolution = DobResolution.FULL_ONLY,
    today: dt.date | None = None,
) -> PartialDate:
    """Parse YYYY-MM-DD, YYYYMMDD or DD/MM/YYYY (and YYYY, YYYY-MM, YYYYMM where allowed)."""
    match = _DATE_FORMS.match(text.strip()) or _UK_DATE.match(text.strip())
    if not match:
        allowed = "YYYY-MM-DD, YYYYMMDD or DD/MM/YYYY"
        if resolution is DobResolution.ANY:
            allowed = "YYYY-MM-DD, YYYYMMDD, DD/MM/YYYY, YYYY-MM, YYYYMM or YYYY"
        raise ValidationError(field, f"{text!r} is not a date ({allowed})")
    try:
        date = _checked_date(int(match["y"]), _int(match["m"]), _int(match["d"]))
    except ValueError as exc:
        raise ValidationError(field, f"{text!r} is impossible: {exc}") from None
    if resolution is DobResolution.FULL_ONLY and not date.is_full:
        raise ValidationError(
            field, f"{text!r} must be a full date (YYYY-MM-DD) for this operation"
        )
    today = today or dt.datetime.now(dt.UTC).date()
    if date.hl7() > today.strftime("%Y%m%d")[: len(date.hl7())]:
        raise ValidationError(field, f"{text!r} is in the future")
    return date


class Gender(Enum):
    """ISO 5218 sex codes as SMSP carries them (codeSystem 2.16.840.1.113883.2.1.3.2.4.16.25)."""

    NOT_KNOWN = "0"
    MALE = "1"
    FEMALE = "2"
    NOT_SPECIFIED = "9"

    @property
    def label(self) -> str:
        """The stable JSON and display form: male, female, not-known or not-specified."""
        return self.name.lower().replace("_", "-")

    @classmethod
    def from_code(cls, code: str) -> Gender | None:
        """The gender for a wire code, or None for a code outside the vocabulary."""
        try:
            return cls(code.strip())
        except ValueError:
            return None


GENDER_WORDS = {
    "male": Gender.MALE,
    "m": Gender.MALE,
    "female": Gender.FEMALE,
    "f": Gender.FEMALE,
    "not-known": Gender.NOT_KNOWN,
    "not-specified": Gender.NOT_SPECIFIED,
}


def parse_gender(text: str) -> Gender:
    """Accept male|female|not-known|not-specified, m|f, or the codes 0|1|2|9."""
    word = text.strip().lower()
    gender = GENDER_WORDS.get(word) or Gender.from_code(word)
    if gender is None:
        raise ValidationError(
            "gender",
            f"{text!r} is not one of male, female, not-known, not-specified, m, f, 0, 1, 2, 9",
        )
    return gender


def _check_wildcard(field: str, value: str, allowed: bool) -> None:
    if "*" not in value:
        return
    if not allowed:
        raise ValidationError(field, "wildcards (*) are not allowed for this operation")
    if value.index("*") < 2:
        raise ValidationError(
            field, f"{value!r}: a wildcard (*) needs at least 2 characters before it"
        )


def check_name(field: str, text: str, *, wildcards: bool) -> str:
    """Trim a name part and check it is usable: not blank, no control characters, wildcards."""
    value = text.strip()
    if not value:
        raise ValidationError(field, "must not be blank")
    if re.search(_CONTROL, value):
        raise ValidationError(field, "must not contain control characters")
    _check_wildcard(field, value, wildcards)
    return value


# A full UK postcode: outward code (area, district) and inward code (sector, unit).
_UK_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}$")


def parse_postcode(text: str, *, wildcards: bool) -> str:
    """A full UK postcode, normalised: upper case, one space before the last three characters
    (``bo14qx`` and ``BO1  4QX`` are ``BO1 4QX``); anything else not a postcode is refused.

    A wildcard postcode (``LS17*``) is checked as before and sent as typed: it may stop
    anywhere (PROV-PDS footnotes: the checks apply after trimming and ignoring wildcards).
    """
    value = " ".join(text.split()) if text.strip() else ""
    if not value:
        raise ValidationError("postcode", "must not be blank")
    _check_wildcard("postcode", value, wildcards)
    if "*" in value:
        if len(value) > 8:
            raise ValidationError("postcode", f"{value!r} is longer than 8 characters")
        stem = value.replace("*", "").replace(" ", "")
        if not stem.isascii() or not stem.isalnum() or value.count(" ") > 1:
            raise ValidationError(
                "postcode", f"{value!r} must be letters and digits with at most one space"
            )
        return value.upper()
    compact = value.replace(" ", "").upper()
    spaced = f"{compact[:-3]} {compact[-3:]}"
    if value.count(" ") > 1 or not _UK_POSTCODE.match(spaced):
        raise ValidationError(
            "postcode", f"{text.strip()!r} is not a UK postcode (e.g. LS17 7TR or LS177TR)"
        )
    return spaced


@dataclass(frozen=True)
class LocalIdentifier:
    """A local patient identifier, echoed back by the provider (Person.LocalIdentifier)."""

    extension: str
    root: str = LOCAL_PERSON_ID_OID


def parse_local_id(text: str) -> LocalIdentifier:
    """Accept ``VALUE`` or ``OID:VALUE``; without an OID, the Local Person Identifier root."""
    value = text.strip()
    root, sep, extension = value.partition(":")
    if sep and re.match(_OID, root):
        value = extension.strip()
    else:
        root = LOCAL_PERSON_ID_OID
    if not value:
        raise ValidationError("local id", "must not be blank")
    if re.search(_CONTROL, value):
        raise ValidationError("local id", "must not contain control characters")
    return LocalIdentifier(extension=value, root=root)


@dataclass(frozen=True)
class Query:
    """One validated request: the operation and the demographics it carries."""

    operation: Operation
    dob: PartialDate
    nhs_number: str | None = None
    family: str | None = None
    given: str | None = None
    gender: Gender | None = None
    postcode: str | None = None
    local_id: LocalIdentifier | None = None

    def items(self) -> tuple[str, ...]:
        """The queryEvent items this query fills, in XSD order."""
        present = {
            "Person.DateOfBirth": True,
            "Person.Gender": self.gender is not None,
            "Person.LocalIdentifier": self.local_id is not None,
            "Person.NHSNumber": self.nhs_number is not None,
            "Person.Name": self.family is not None or self.given is not None,
            "Person.Postcode": self.postcode is not None,
        }
        return tuple(item for item in self.operation.items if present[item])

    def identifying_values(self) -> tuple[str, ...]:
        """Every value in this query that identifies the patient, in each form a provider
        might echo it back: kept off stderr and out of the redacted trace."""
        values = [self.dob.iso(), self.dob.hl7()]
        if self.nhs_number:
            values += [self.nhs_number, format_nhs_number(self.nhs_number)]
        values += [v for v in (self.family, self.given, self.postcode) if v]
        if self.local_id is not None:
            values.append(self.local_id.extension)
        return tuple(values)


def build_query(
    operation: Operation,
    *,
    dob: str,
    nhs_number: str | None = None,
    family: str | None = None,
    given: str | None = None,
    gender: str | None = None,
    postcode: str | None = None,
    local_id: str | None = None,
    today: dt.date | None = None,
) -> Query:
    """Validate raw user input for an operation and return the query to send.

    Every field is checked before anything is reported, so one run names every problem.
    """
    problems: list[ValidationError] = []

    def checked(value: str | None, parse: Callable[[str], _T]) -> _T | None:
        if value is None:
            return None
        try:
            return parse(value)
        except ValidationError as problem:
            problems.append(problem)
            return None

    # getPatientDetails with an NHS number is a verification, so no wildcards (spec §3.3).
    wildcards = operation.wildcards and not (operation is DETAILS and nhs_number is not None)
    date = checked(dob, lambda v: parse_date(v, resolution=operation.dob_resolution, today=today))
    number = checked(nhs_number, parse_nhs_number)
    family_name = checked(family, lambda v: check_name("family name", v, wildcards=wildcards))
    given_name = checked(given, lambda v: check_name("given name", v, wildcards=wildcards))
    sex = checked(gender, parse_gender)
    post = checked(postcode, lambda v: parse_postcode(v, wildcards=wildcards))
    local = checked(local_id, parse_local_id)
    supplied = {
        "Person.Gender": gender,
        "Person.LocalIdentifier": local_id,
        "Person.NHSNumber": nhs_number,
        "Person.Name": family if family is not None else given,
        "Person.Postcode": postcode,
    }
    for item, value in supplied.items():
        if value is not None and item not in operation.items:
            problems.append(ValidationError(_FIELD_NAMES[item], f"is not part of {operation.name}"))
    missing = ["family name"] if operation.name_type3 and family is None else []
    missing += [
        _FIELD_NAMES[item]
        for item in sorted(operation.required - {"Person.Name", "Person.DateOfBirth"})
        if supplied[item] is None
    ]
    if operation is DETAILS and nhs_number is None:
        # Without a number, getPatientDetails is a search: it needs the full set (spec §3.3).
        missing += [
            name
            for name, value in (("family name", family), ("given name", given), ("gender", gender))
            if value is None
        ]
        when = "for details without an NHS number"
    else:
        when = f"for {operation.command}"
    if missing:
        problems.append(_required(missing, when))
    if problems or date is None:
        raise ValidationError.combined(problems)
    return Query(
        operation=operation,
        dob=date,
        nhs_number=number,
        family=family_name,
        given=given_name,
        gender=sex,
        postcode=post,
        local_id=local,
    )


def _required(fields: list[str], when: str) -> ValidationError:
    if len(fields) == 1:
        return ValidationError(fields[0], f"is required {when}")
    each = tuple((column_name(field), f"is required {when}") for field in fields)
    return ValidationError(listed(fields), f"are required {when}", fields=each)


_FIELD_NAMES = {
    "Person.DateOfBirth": "date of birth",
    "Person.Gender": "gender",
    "Person.LocalIdentifier": "local id",
    "Person.NHSNumber": "NHS number",
    "Person.Name": "name",
    "Person.Postcode": "postcode",
}
