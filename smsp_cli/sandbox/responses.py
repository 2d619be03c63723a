"""The sandbox's replies, built from templates/sandbox/*.xml (spec §3.4-3.7, §5.6, §5.7).

Each template is filled exactly once through :mod:`smsp_cli.adapters.smsp.templating` (lxml escapes
every
value) and optional parts are removed from the tree. Parts that repeat (addresses, telecoms) are
separate templates, each filled on its own and then inserted, so no value is ever read again as
a placeholder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smsp_cli.adapters.smsp import templating, xmlsafe
from smsp_cli.adapters.smsp.xmlsafe import NS
from smsp_cli.domain.ids import new_uuid
from smsp_cli.domain.models import Gender
from smsp_cli.domain.operations import ReplyKind
from smsp_cli.domain.results import ADDRESS_USES, TELECOM_USES
from smsp_cli.sandbox.matching import CODES_WITH_PATIENT

if TYPE_CHECKING:
    from lxml import etree

    from smsp_cli.domain.operations import Operation
    from smsp_cli.domain.results import Address, GpPractice, Patient
    from smsp_cli.sandbox.matching import Answer

ENVELOPE_TEMPLATE = "sandbox/reply-envelope.xml"
FAULT_TEMPLATE = "sandbox/fault.xml"
ADDRESS_TEMPLATE = "sandbox/address.xml"
TELECOM_TEMPLATE = "sandbox/telecom.xml"

# Spec §5.7: 1000 and 3000 are the sender's to fix, 2100 and 2200 the provider's.
_SERVER_ERRORS = frozenset({"2100", "2200"})
_FAULT_STRINGS = {
    "Client": "A client related error has occurred, see detail element for further information",
    "Server": "A server related error has occurred, see detail element for further information",
    "VersionMismatch": "This endpoint accepts SOAP 1.1 only",
    "MustUnderstand": "A header marked mustUnderstand is not understood by this endpoint",
}
_ADDRESS_LINES = 5  # AD.NHS.AddressType2: always exactly five streetAddressLine
_MAX_ADDRESSES = 3  # COMT_MT000016GB01: home, temporary and correspondence at most
_GENDER_CODES = {gender.label: gender.value for gender in Gender}
_ADDRESS_USE_CODES = {label: code for code, label in ADDRESS_USES.items()}
_TELECOM_USE_CODES = {word: code for code, word in TELECOM_USES.items()}


def business_reply(
    operation: Operation,
    answer: Answer,
    *,
    relates_to: str | None = None,
    local_id: tuple[str, str] | None = None,
) -> bytes:
    """The HTTP 200 SOAP reply carrying ``answer`` for ``operation``.

    ``local_id`` is the request's (root, extension) Person.LocalIdentifier, which the provider
    only echoes back (spec §3.2); ``relates_to`` is the request's MessageID (WS-ADR-09).
    """
    payload_id = "uuid_" + new_uuid()
    envelope = templating.load(ENVELOPE_TEMPLATE)
    values = {
        "message_id": new_uuid(),
        # WS-ADR-04 (2): the reply's Action and DE service are the request's plus "Response".
        "action": operation.response_service,
        "tracking_id": new_uuid(),
        "payload_id": payload_id,
        "profile_id": operation.response_profile,
    }
    _fill_relates_to(envelope, values, relates_to)
    templating.fill(envelope, values)
    _find(envelope, "soap:Body/itk:DistributionEnvelope/itk:payloads/itk:payload").append(
        reply_payload(operation, answer, local_id=local_id)
    )
    return _serialise(envelope)


def fault_reply(
    error_code: str,
    text: str,
    *,
    diagnostic: str | None = None,
    faultcode: str | None = None,
    relates_to: str | None = None,
) -> bytes:
    """An HTTP 500 SOAP 1.1 fault with ToolkitErrorInfo (spec §5.7).

    ``faultcode`` defaults to Client for 1000 and 3000 and Server for 2100 and 2200; pass
    VersionMismatch or MustUnderstand for those SOAP faults.
    """
    code = faultcode or ("Server" if error_code in _SERVER_ERRORS else "Client")
    envelope = templating.load(FAULT_TEMPLATE)
    values = {
        "message_id": new_uuid(),
        "faultcode": f"soap:{code}",
        "faultstring": _FAULT_STRINGS.get(code, _FAULT_STRINGS["Client"]),
        "error_id": new_uuid(),
        "error_code": error_code,
        "error_text": text,
    }
    _fill_relates_to(envelope, values, relates_to)
    detail = _find(envelope, "soap:Body/soap:Fault/detail/itk:ToolkitErrorInfo")
    if diagnostic is None:
        templating.remove(_find(detail, "itk:ErrorDiagnosticText"))
    else:
        values["diagnostic"] = diagnostic
    templating.fill(envelope, values)
    return _serialise(envelope)


def reply_payload(
    operation: Operation, answer: Answer, *, local_id: tuple[str, str] | None = None
) -> etree._Element:
    """The HL7 reply payload: id, code and value, plus the patient part on success."""
    root = templating.load(f"sandbox/{operation.reply.value}.xml")
    values = {"reply_id": new_uuid(), "response_code": answer.response_code}
    # Spec §3.4: a business error carries only id, code and value; the codes that do carry the
    # patient (success, cached, superseded, invalidated) are matching's to define.
    patient = answer.patient
    carries_patient = answer.response_code in CODES_WITH_PATIENT
    if not carries_patient or patient is None or patient.nhs_number is None:
        for part in xmlsafe.elements(root)[3:]:
            templating.remove(part)
        templating.fill(root, values)
        return root
    values["nhs_number"] = patient.nhs_number
    if operation.reply is ReplyKind.VERIFY:
        values["verified"] = "false" if answer.verified is False else "true"
        templating.fill(root, values)
        return root
    _local_id(root, values, local_id)
    if operation.reply is ReplyKind.NHS_NUMBER:
        templating.fill(root, values)
        return root
    return _patient_details(root, values, patient)


def _patient_details(
    root: etree._Element, values: dict[str, str], patient: Patient
) -> etree._Element:
    patient_element = _find(root, "hl7:subject/hl7:patient")
    _name(_find(patient_element, "hl7:name"), values, patient)
    person = _find(patient_element, "hl7:patientPerson")
    _optional(person, "hl7:administrativeGenderCode", values, "gender",
              _GENDER_CODES.get(patient.gender or "", patient.gender))
    _optional(person, "hl7:birthTime", values, "birth_time", _hl7_date(patient.birth_date))
    _optional(person, "hl7:deceasedTime", values, "deceased_time", _hl7_date(patient.death_date))
    practice = _find(person, "hl7:gPPractice")
    gp = patient.gp_practice
    _gp_practice(practice, values, gp)
    if not xmlsafe.elements(person):
        templating.remove(person)
    templating.fill(root, values)
    # Filled on their own, then inserted in XSD order: addr*, telecom* before patientPerson.
    # Spec §3.7: where PDS holds more than the interface carries, the provider truncates.
    for address in patient.addresses[:_MAX_ADDRESSES]:
        _insert_before(patient_element, "hl7:patientPerson", _address(address))
    for telecom in patient.telecoms:
        _insert_before(patient_element, "hl7:patientPerson", _telecom(telecom.use, telecom.value))
    if gp is not None and gp.address is not None and practice.getparent() is not None:
        practice.insert(0, _address(gp.address, with_use=False))
    return root


def _name(name: etree._Element, values: dict[str, str], patient: Patient) -> None:
    parts = {"title": patient.title, "family": patient.family_name}
    givens = patient.given_names[:2]  # PN.NHS.PersonNameType2: forename and middle name
    for number in (1, 2):
        parts[f"given_{number}"] = givens[number - 1] if len(givens) >= number else None
    paths = {"title": "hl7:prefix", "given_1": "hl7:given[1]", "given_2": "hl7:given[2]",
             "family": "hl7:family"}
    elements = {key: _find(name, path) for key, path in paths.items()}
    for key, value in parts.items():
        # Spec §3.7: blank ("") means PDS holds a blank and is sent; None is left out.
        if value is None:
            templating.remove(elements[key])
        else:
            values[key] = value
    if not xmlsafe.elements(name):
        templating.remove(name)


def _gp_practice(
    practice: etree._Element, values: dict[str, str], gp: GpPractice | None
) -> None:
    if gp is None:
        templating.remove(practice)
        return
    organisation = _find(practice, "hl7:locationOrganization")
    _optional(practice, "hl7:telecom", values, "gp_telephone", gp.telephone)
    _optional(organisation, "hl7:id", values, "gp_code", gp.code)
    _optional(organisation, "hl7:name", values, "gp_name", gp.name)
    if not xmlsafe.elements(organisation):
        templating.remove(organisation)
    if not xmlsafe.elements(practice) and gp.address is None:
        templating.remove(practice)


def _address(address: Address, *, with_use: bool = True) -> etree._Element:
    element = templating.load(ADDRESS_TEMPLATE)
    lines = (*address.lines[:_ADDRESS_LINES], *([""] * _ADDRESS_LINES))[:_ADDRESS_LINES]
    values = {f"line_{number}": line for number, line in enumerate(lines, start=1)}
    use = _ADDRESS_USE_CODES.get(address.use or "", address.use) if with_use else None
    _optional_attribute(element, "use", values, use)
    _optional(element, "hl7:postalCode", values, "postcode", address.postcode)
    templating.fill(element, values)
    return element


def _telecom(use: str | None, value: str) -> etree._Element:
    element = templating.load(TELECOM_TEMPLATE)
    values = {"value": value}
    # Stored in words, as smsp reads them; sent as the HL7 codes (a code is sent as it is).
    codes = None if use is None else " ".join(_TELECOM_USE_CODES.get(w, w) for w in use.split())
    _optional_attribute(element, "use", values, codes)
    templating.fill(element, values)
    return element


def _local_id(
    root: etree._Element, values: dict[str, str], local_id: tuple[str, str] | None
) -> None:
    second_id = _find(root, "hl7:subject/hl7:patient/hl7:id[2]")
    if local_id is None:
        templating.remove(second_id)
    else:
        values["local_id_root"], values["local_id"] = local_id


def _optional(
    parent: etree._Element, path: str, values: dict[str, str], key: str, value: str | None
) -> None:
    if value is None:
        templating.remove(_find(parent, path))
    else:
        values[key] = value


def _optional_attribute(
    element: etree._Element, name: str, values: dict[str, str], value: str | None
) -> None:
    if value is None:
        del element.attrib[name]
    else:
        values[name] = value


def _fill_relates_to(
    envelope: etree._Element, values: dict[str, str], relates_to: str | None
) -> None:
    if relates_to is None:
        # WS-ADR-09: RelatesTo MAY be omitted in a synchronous reply; it is sent when known.
        templating.remove(_find(envelope, "soap:Header/wsa:RelatesTo"))
    else:
        values["relates_to"] = relates_to


def _hl7_date(iso: str | None) -> str | None:
    return None if iso is None else iso.replace("-", "")


def _insert_before(parent: etree._Element, path: str, element: etree._Element) -> None:
    anchor = parent.find(path, NS)
    if anchor is None:
        parent.append(element)
    else:
        anchor.addprevious(element)


def _find(root: etree._Element, path: str) -> etree._Element:
    element = root.find(path, NS)
    if element is None:
        raise templating.TemplateError(f"template {root.tag} has no {path}")
    return element


def _serialise(envelope: etree._Element) -> bytes:
    from lxml import etree

    etree.indent(envelope, space="  ")
    return templating.serialise(envelope)
