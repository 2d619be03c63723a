"""The HL7 payload of a business reply, read into a :class:`results.Reply` (spec §3.5-3.7).

Blank and absent stay distinct in everything read from the payload (spec §3.7): an element that
is present but empty gives ``""``, an element (or attribute) that is absent gives ``None``. So
``<family/>`` gives ``family_name=""`` and a name without ``family`` gives ``None``. Text is
stripped of surrounding whitespace; telecom values are kept exactly as sent. :func:`text` and
:func:`attribute` read every value that way, the SOAP fault's included.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, NamedTuple

from smsp_cli.adapters.smsp.xmlsafe import clark
from smsp_cli.domain import operations, results
from smsp_cli.domain.models import NHS_NUMBER_OID, Gender, PartialDate

if TYPE_CHECKING:
    from lxml import etree

# HL7 TS: a date of 4, 6 or 8 digits; only a full date may carry a time, and any precision an
# optional UTC offset. The time and offset are ignored: SMSP dates are dates (spec §3.7).
_HL7_TIMESTAMP = re.compile(
    r"^(?:(?P<day>\d{8})(?:\d{2,}(?:\.\d+)?)?|(?P<month>\d{6})|(?P<year>\d{4}))"
    r"(?:[+-]\d{4})?$"
)


class PayloadFields(NamedTuple):
    """What a reply's payload adds to its :class:`results.Reply` (spec §3.5-3.7)."""

    verified: bool | None = None  # verify only: validIdentifier/value
    nhs_number: str | None = None  # verify and trace
    local_identifier: str | None = None  # trace
    patient: results.Patient | None = None  # get, search, details
    records: int = 0  # patient records in the payload (the correlation rule wants one at most)
    nhs_numbers: tuple[str, ...] = ()  # every NHS number of every record, in document order


def read_payload(payload: etree._Element, kind: str) -> PayloadFields:
    """What a payload of ``kind`` carries; a payload of another kind carries nothing.

    The first record is read in full; every record is counted and its NHS numbers collected,
    so that a reply holding two patients, or one patient with two numbers, is never taken for
    the first of them (:mod:`smsp_cli.domain.correlation`).
    """
    reader = _READERS.get(kind)
    if reader is None:
        return PayloadFields()
    fields = reader(payload)
    patients = _records(payload, _RECORD_PATHS[kind])
    numbers = tuple(
        number
        for patient in patients
        for identifier in _children(patient, "id")
        if attribute(identifier, "root") == NHS_NUMBER_OID
        and (number := attribute(identifier, "extension")) is not None
    )
    return fields._replace(records=len(patients), nhs_numbers=numbers)


def _read_verify(payload: etree._Element) -> PayloadFields:
    """verifyNHSNumberResponse (spec §3.5): the VI flag and the (possibly new) NHS number."""
    observation = payload.find(clark("hl7:component/hl7:validIdentifier"))
    if observation is None:
        return PayloadFields()
    flag = _child(observation, "value")
    patient = observation.find(clark("hl7:subject/hl7:patient"))
    return PayloadFields(
        verified=None if flag is None else _boolean(flag.get("value")),
        nhs_number=None if patient is None else _identifiers(patient)[0],
    )


def _read_nhs_number(payload: etree._Element) -> PayloadFields:
    """getNHSNumberResponse (spec §3.6): the NHS number and the echoed local identifier."""
    patient = payload.find(clark("hl7:subject/hl7:patient"))
    if patient is None:
        return PayloadFields()
    nhs_number, local_identifier = _identifiers(patient)
    return PayloadFields(nhs_number=nhs_number, local_identifier=local_identifier)


def _read_patient_details(payload: etree._Element) -> PayloadFields:
    """getPatientDetailsResponse (spec §3.7)."""
    patient = payload.find(clark("hl7:subject/hl7:patient"))
    if patient is None:
        return PayloadFields()
    return PayloadFields(patient=_patient(patient))


# Where each kind of payload holds its patient records (spec §3.5-3.7): the HL7 child
# elements to step through, as an ElementPath of those steps finds them.
_RECORD_PATHS = {
    operations.ReplyKind.VERIFY.value: tuple(
        clark(f"hl7:{step}") for step in ("component", "validIdentifier", "subject", "patient")
    ),
    operations.ReplyKind.NHS_NUMBER.value: (clark("hl7:subject"), clark("hl7:patient")),
    operations.ReplyKind.PATIENT_DETAILS.value: (clark("hl7:subject"), clark("hl7:patient")),
}


def _records(payload: etree._Element, steps: tuple[str, ...]) -> list[etree._Element]:
    """Every element at the end of ``steps`` from ``payload``, in document order (what
    ``iterfind`` of the same path finds, without its path machinery on every reply)."""
    found = [payload]
    for tag in steps:
        found = [child for parent in found for child in parent.iterchildren(tag)]
    return found

_READERS: dict[str, Callable[[etree._Element], PayloadFields]] = {
    operations.ReplyKind.VERIFY.value: _read_verify,
    operations.ReplyKind.NHS_NUMBER.value: _read_nhs_number,
    operations.ReplyKind.PATIENT_DETAILS.value: _read_patient_details,
}


# --- The patient (spec §3.7) --------------------------------------------------------------------


def _patient(patient: etree._Element) -> results.Patient:
    # One pass over the record's children, and one over its name's and its person's: each
    # value is the first such child (every given name and address, every telecom, in order),
    # as a search for each would find it.
    ids: list[etree._Element] = []
    name = person = None
    addresses: list[results.Address] = []
    telecoms: list[etree._Element] = []
    for child in patient.iterchildren(_ID, _NAME, _ADDR, _TELECOM, _PERSON):
        tag = child.tag
        if tag == _ID:
            ids.append(child)
        elif tag == _ADDR:
            addresses.append(_address(child))
        elif tag == _TELECOM:
            telecoms.append(child)
        elif tag == _NAME:
            name = child if name is None else name
        elif person is None:
            person = child
    nhs_number, local_identifier = _identifiers_of(ids)
    title = family = None
    given: list[str] = []
    if name is not None:
        for part in name.iterchildren(_PREFIX, _GIVEN, _FAMILY):
            tag = part.tag
            if tag == _GIVEN:
                given.append(text(part) or "")
            elif tag == _PREFIX:
                title = text(part) if title is None else title
            elif family is None:
                family = text(part)
    gender = birth = death = practice = None
    if person is not None:
        for part in person.iterchildren(_GENDER_CODE, _BIRTH_TIME, _DECEASED_TIME, _PRACTICE):
            tag = part.tag
            if tag == _BIRTH_TIME:
                birth = part if birth is None else birth
            elif tag == _GENDER_CODE:
                gender = part if gender is None else gender
            elif tag == _DECEASED_TIME:
                death = part if death is None else death
            elif practice is None:
                practice = part
    return results.Patient(
        nhs_number,
        local_identifier,
        title,
        tuple(given),
        family,
        _gender(None if gender is None else attribute(gender, "code")),
        _iso_date(None if birth is None else attribute(birth, "value")),
        _iso_date(None if death is None else attribute(death, "value")),
        tuple(addresses),
        _telecoms_of(telecoms),
        None if practice is None else _gp_practice(practice),
    )


def _identifiers(patient: etree._Element) -> tuple[str | None, str | None]:
    """(NHS number, local identifier): the id with the NHS root, and the first other id."""
    return _identifiers_of(_children(patient, "id"))


def _identifiers_of(ids: Iterable[etree._Element]) -> tuple[str | None, str | None]:
    nhs_number: str | None = None
    local_identifier: str | None = None
    for identifier in ids:
        extension = attribute(identifier, "extension")
        if attribute(identifier, "root") == NHS_NUMBER_OID:
            nhs_number = extension if nhs_number is None else nhs_number
        elif local_identifier is None:
            local_identifier = extension
    return nhs_number, local_identifier


def _gender(code: str | None) -> str | None:
    if code is None:
        return None
    gender = Gender.from_code(code)
    return code if gender is None else gender.label


def _iso_date(value: str | None) -> str | None:
    """HL7 YYYY, YYYYMM or YYYYMMDD[time] as ISO YYYY, YYYY-MM or YYYY-MM-DD; else the raw value.

    All three lengths are accepted for both dates (spec §3.7 [CONFLICT] recommendation).
    """
    if value is None:
        return None
    match = _HL7_TIMESTAMP.match(value.strip())
    date_text = None if match is None else match["day"] or match["month"] or match["year"]
    date = None if date_text is None else PartialDate.from_hl7(date_text)
    return value if date is None else date.iso()


def _address(addr: etree._Element) -> results.Address:
    """AD.NHS.AddressType2: postalCode plus up to five streetAddressLine, each at its position.

    Every line sent is kept where it was sent, a line sent empty as ``""`` (which line is the
    post town and which the county depends on it), trailing empty lines included; lines not
    sent are not padded.
    """
    use = attribute(addr, "use")
    lines: list[str] = []
    postcode: str | None = None
    # One pass over the children: a patient has up to three addresses of six parts each.
    for part in addr.iterchildren(_LINE, _POSTCODE):
        if part.tag == _LINE:
            lines.append(text(part) or "")
        elif postcode is None:
            postcode = text(part)
    return results.Address(
        None if use is None else results.ADDRESS_USES.get(use, use), tuple(lines), postcode)


def _telecoms_of(telecoms: Iterable[etree._Element]) -> tuple[results.Telecom, ...]:
    """Telecoms as PDS holds them, the use in words; one without @value is skipped."""
    found = []
    for telecom in telecoms:
        value = telecom.get("value")
        if value is not None:
            use = results.telecom_use_words(telecom.get("use"))
            found.append(results.Telecom(use, value))
    return tuple(found)


def _gp_practice(practice: etree._Element) -> results.GpPractice:
    organisation = _child(practice, "locationOrganization")
    addr = _child(practice, "addr")
    # The practice code is read whatever the id root: the OID is [UNCONFIRMED] (spec §3.7).
    return results.GpPractice(
        code=_child_attribute(organisation, "id", "extension"),
        name=_child_text(organisation, "name"),
        address=None if addr is None else _address(addr),
        telephone=_child_attribute(practice, "telecom", "value"),
    )


# --- Reading values: blank is "", absent is None ------------------------------------------------


def text(element: etree._Element | None) -> str | None:
    """Stripped text content (comments excluded); ``""`` when empty, ``None`` when absent."""
    if element is None:
        return None
    if len(element) == 0:
        # No child element, comment or PI: its own text is all itertext() would yield. Most
        # values are such leaves, and this spares a generator per value.
        return (element.text or "").strip()
    # itertext() is typed str | bytes; a parsed document only ever yields str.
    return "".join(part for part in element.itertext() if isinstance(part, str)).strip()


def _child_text(parent: etree._Element | None, name: str) -> str | None:
    return None if parent is None else text(_child(parent, name))


def _child(parent: etree._Element, name: str) -> etree._Element | None:
    """The first HL7 child element called ``name``, if any."""
    # iterchildren matches a tag in C: twice as fast as find() on a lookup this frequent.
    return next(parent.iterchildren(_hl7_tag(name)), None)


def _children(parent: etree._Element, name: str) -> Iterator[etree._Element]:
    """The HL7 child elements called ``name``, in document order."""
    return parent.iterchildren(_hl7_tag(name))


@functools.cache
def _hl7_tag(name: str) -> str:
    # Cached by name: the reader asks for these tags dozens of times a reply, and a lookup
    # here is cheaper than building "hl7:name" for clark's own cache each time.
    return clark(f"hl7:{name}")


_ID, _NAME, _ADDR, _TELECOM, _PERSON = map(
    _hl7_tag, ("id", "name", "addr", "telecom", "patientPerson"))
_PREFIX, _GIVEN, _FAMILY = map(_hl7_tag, ("prefix", "given", "family"))
_GENDER_CODE, _BIRTH_TIME, _DECEASED_TIME, _PRACTICE = map(
    _hl7_tag, ("administrativeGenderCode", "birthTime", "deceasedTime", "gPPractice"))
_LINE, _POSTCODE = _hl7_tag("streetAddressLine"), _hl7_tag("postalCode")


def attribute(element: etree._Element, name: str) -> str | None:
    """An attribute's value stripped of surrounding whitespace; ``None`` when absent."""
    value = element.get(name)
    return None if value is None else value.strip()


def _child_attribute(parent: etree._Element | None, child: str, name: str) -> str | None:
    found = None if parent is None else _child(parent, child)
    return None if found is None else attribute(found, name)


def _boolean(value: str | None) -> bool | None:
    """HL7 BL: exactly "true" or "false"; anything else is no answer."""
    return {"true": True, "false": False}.get((value or "").strip())
