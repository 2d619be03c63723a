"""The HL7 payload of a business reply, read into a :class:`results.Reply` (spec §3.5-3.7).

Blank and absent stay distinct in everything read from the payload (spec §3.7): an element that
is present but empty gives ``""``, an element (or attribute) that is absent gives ``None``. So
``<family/>`` gives ``family_name=""`` and a name without ``family`` gives ``None``. Text is
stripped of surrounding whitespace; telecom values are kept exactly as sent. :func:`text` and
:func:`attribute` read every value that way, the SOAP fault's included.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from smsp_cli import operations, results
from smsp_cli.models import NHS_NUMBER_OID, Gender, PartialDate
from smsp_cli.wire.xmlsafe import NS

if TYPE_CHECKING:
    from lxml import etree

# HL7 TS: a date of 4, 6 or 8 digits; only a full date may carry a time, and any precision an
# optional UTC offset. The time and offset are ignored: SMSP dates are dates (spec §3.7).
_HL7_TIMESTAMP = re.compile(
    r"^(?:(?P<day>\d{8})(?:\d{2,}(?:\.\d+)?)?|(?P<month>\d{6})|(?P<year>\d{4}))"
    r"(?:[+-]\d{4})?$"
)


def read_payload(payload: etree._Element, reply: results.Reply) -> results.Reply:
    """``reply`` with what its payload carries; a payload of another kind adds nothing."""
    reader = _READERS.get(reply.kind)
    return reply if reader is None else reader(payload, reply)


def _read_verify(payload: etree._Element, reply: results.Reply) -> results.Reply:
    """verifyNHSNumberResponse (spec §3.5): the VI flag and the (possibly new) NHS number."""
    observation = payload.find("hl7:component/hl7:validIdentifier", NS)
    if observation is None:
        return reply
    flag = observation.find("hl7:value", NS)
    patient = observation.find("hl7:subject/hl7:patient", NS)
    return dataclasses.replace(
        reply,
        verified=None if flag is None else _boolean(flag.get("value")),
        nhs_number=None if patient is None else _identifiers(patient)[0],
    )


def _read_nhs_number(payload: etree._Element, reply: results.Reply) -> results.Reply:
    """getNHSNumberResponse (spec §3.6): the NHS number and the echoed local identifier."""
    patient = payload.find("hl7:subject/hl7:patient", NS)
    if patient is None:
        return reply
    nhs_number, local_identifier = _identifiers(patient)
    return dataclasses.replace(reply, nhs_number=nhs_number, local_identifier=local_identifier)


def _read_patient_details(payload: etree._Element, reply: results.Reply) -> results.Reply:
    """getPatientDetailsResponse (spec §3.7)."""
    patient = payload.find("hl7:subject/hl7:patient", NS)
    if patient is None:
        return reply
    return dataclasses.replace(reply, patient=_patient(patient))


_READERS: dict[str, Callable[[etree._Element, results.Reply], results.Reply]] = {
    operations.Reply.VERIFY.value: _read_verify,
    operations.Reply.NHS_NUMBER.value: _read_nhs_number,
    operations.Reply.PATIENT_DETAILS.value: _read_patient_details,
}


# --- The patient (spec §3.7) --------------------------------------------------------------------


def _patient(patient: etree._Element) -> results.Patient:
    nhs_number, local_identifier = _identifiers(patient)
    name = patient.find("hl7:name", NS)
    person = patient.find("hl7:patientPerson", NS)
    return results.Patient(
        nhs_number=nhs_number,
        local_identifier=local_identifier,
        title=_child_text(name, "prefix"),
        given_names=() if name is None else _texts(name, "given"),
        family_name=_child_text(name, "family"),
        gender=_gender(_child_attribute(person, "administrativeGenderCode", "code")),
        birth_date=_iso_date(_child_attribute(person, "birthTime", "value")),
        death_date=_iso_date(_child_attribute(person, "deceasedTime", "value")),
        addresses=tuple(_address(addr) for addr in patient.findall("hl7:addr", NS)),
        telecoms=_telecoms(patient),
        gp_practice=_gp_practice(person),
    )


def _identifiers(patient: etree._Element) -> tuple[str | None, str | None]:
    """(NHS number, local identifier): the id with the NHS root, and the first other id."""
    nhs_number: str | None = None
    local_identifier: str | None = None
    for identifier in patient.findall("hl7:id", NS):
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
    """AD.NHS.AddressType2: postalCode plus five streetAddressLine, blanks dropped from lines."""
    use = attribute(addr, "use")
    return results.Address(
        use=None if use is None else results.ADDRESS_USES.get(use, use),
        lines=tuple(line for line in _texts(addr, "streetAddressLine") if line),
        postcode=_child_text(addr, "postalCode"),
    )


def _telecoms(patient: etree._Element) -> tuple[results.Telecom, ...]:
    """Telecoms exactly as PDS holds them; one without @value has nothing to show: skipped."""
    found = []
    for telecom in patient.findall("hl7:telecom", NS):
        value = telecom.get("value")
        if value is not None:
            found.append(results.Telecom(use=telecom.get("use"), value=value))
    return tuple(found)


def _gp_practice(person: etree._Element | None) -> results.GpPractice | None:
    practice = None if person is None else person.find("hl7:gPPractice", NS)
    if practice is None:
        return None
    organisation = practice.find("hl7:locationOrganization", NS)
    addr = practice.find("hl7:addr", NS)
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
    # itertext() is typed str | bytes; a parsed document only ever yields str.
    return "".join(part for part in element.itertext() if isinstance(part, str)).strip()


def _child_text(parent: etree._Element | None, name: str) -> str | None:
    return None if parent is None else text(parent.find(f"hl7:{name}", NS))


def _texts(parent: etree._Element, name: str) -> tuple[str, ...]:
    return tuple(text(child) or "" for child in parent.findall(f"hl7:{name}", NS))


def attribute(element: etree._Element, name: str) -> str | None:
    """An attribute's value stripped of surrounding whitespace; ``None`` when absent."""
    value = element.get(name)
    return None if value is None else value.strip()


def _child_attribute(parent: etree._Element | None, child: str, name: str) -> str | None:
    found = None if parent is None else parent.find(f"hl7:{child}", NS)
    return None if found is None else attribute(found, name)


def _boolean(value: str | None) -> bool | None:
    """HL7 BL: exactly "true" or "false"; anything else is no answer."""
    return {"true": True, "false": False}.get((value or "").strip())
