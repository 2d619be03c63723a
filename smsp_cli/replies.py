"""Turn what a provider sent back into a typed :class:`results.Reply`, or one SmspError.

:func:`parse_reply` makes its checks in a fixed order, so that each reply has one explanation:

1. empty body;
2. the XML is refused (oversized, DOCTYPE, entity, not well-formed): ``UnsafeReply``;
3. a SOAP 1.1 Fault anywhere in a ``soap:Body``, whatever the HTTP status (spec §5.7);
4. a non-2xx HTTP status without a fault: ``ProviderRejected`` for 4xx, ``ProviderFailed``
   otherwise, naming the status (spec §5.6);
5. the business payload (spec §3.4-3.7).

An HTTP error whose body is empty, not XML, or declared/sniffed as an HTML page has no usable
SOAP body, so steps 1 and 2 report it by its status rather than by its body. Hostile XML that
claims to be XML is refused as unsafe whatever the status.

Blank and absent stay distinct in everything read from the payload (spec §3.7): an element that
is present but empty gives ``""``, an element (or attribute) that is absent gives ``None``. So
``<family/>`` gives ``family_name=""`` and a name without ``family`` gives ``None``. Text is
stripped of surrounding whitespace; telecom values are kept exactly as sent.

Unknown response codes are returned raw: judging them is ``codes.lookup``'s job (spec §6.1).
"""

from __future__ import annotations

import contextlib
import dataclasses
import http
import re
import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING

from smsp_cli import codes, errors, operations, results, xmlsafe
from smsp_cli.models import NHS_NUMBER_OID, Gender, PartialDate
from smsp_cli.xmlsafe import NS

if TYPE_CHECKING:
    from lxml import etree

# Longest piece of provider text quoted in an error message; the Fault keeps the full text.
_QUOTE_LIMIT = 300

# An HTML error page shows itself early: look for these in the first bytes only.
_HTML_MARKERS = (b"<!doctype html", b"<html")
_HTML_SNIFF_BYTES = 512

# HL7 TS: a date of 4, 6 or 8 digits; only a full date may carry a time, and any precision an
# optional UTC offset. The time and offset are ignored: SMSP dates are dates (spec §3.7).
_HL7_TIMESTAMP = re.compile(
    r"^(?:(?P<day>\d{8})(?:\d{2,}(?:\.\d+)?)?|(?P<month>\d{6})|(?P<year>\d{4}))"
    r"(?:[+-]\d{4})?$"
)


def parse_reply(
    status_code: int,
    body: bytes,
    *,
    expected: operations.Reply | None = None,
    content_type: str | None = None,
) -> results.Reply:
    """Parse one SMSP reply into a :class:`results.Reply`, or raise the SmspError it means.

    Raises ``UnsafeReply`` (exit 4) for refused XML, ``ProviderRejected`` (exit 3) for faults
    1000/3000 and HTTP 4xx, and ``ProviderFailed`` (exit 4) for faults 2100/2200/unknown/without
    detail, HTTP 5xx, a reply of another type than ``expected``, or a payload that cannot be
    found or has no response code. See the module docstring for the order of the checks.
    """
    if not body.strip():
        if _http_failed(status_code):
            raise _status_error(status_code, "an empty body")
        raise errors.UnsafeReply(f"provider sent an empty reply (HTTP {status_code})")
    root = _parse_xml(status_code, body, content_type)
    fault = _find_fault(root)
    if fault is not None:
        raise _fault_error(_read_fault(fault))
    if _http_failed(status_code):
        raise _status_error(status_code, "no SOAP fault")
    return _read_business_reply(root, expected)


# --- Steps 1-2: the body and the XML ------------------------------------------------------------


def _parse_xml(status_code: int, body: bytes, content_type: str | None) -> etree._Element:
    try:
        return xmlsafe.parse(body)
    except xmlsafe.UnsafeXml as exc:
        if _http_failed(status_code) and _is_error_page(exc, body, content_type):
            raise _status_error(status_code, _describe_body(body, content_type)) from None
        raise errors.UnsafeReply(
            f"provider reply (HTTP {status_code}) refused: {_quote(str(exc))}",
            hint="the reply was not used; report it to the provider",
        ) from None


def _http_failed(status_code: int) -> bool:
    return not 200 <= status_code < 300


def _is_error_page(exc: xmlsafe.UnsafeXml, body: bytes, content_type: str | None) -> bool:
    """True when an HTTP error's body is just not XML, rather than hostile XML."""
    return (
        isinstance(exc, xmlsafe.MalformedXml)
        or _declared_not_xml(content_type)
        or _looks_like_html(body)
    )


def _declared_not_xml(content_type: str | None) -> bool:
    media_type = _media_type(content_type)
    return media_type is not None and "xml" not in media_type


def _looks_like_html(body: bytes) -> bool:
    head = body[:_HTML_SNIFF_BYTES].lower()
    return any(marker in head for marker in _HTML_MARKERS)


def _media_type(content_type: str | None) -> str | None:
    if content_type is None:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def _describe_body(body: bytes, content_type: str | None) -> str:
    media_type = _media_type(content_type)
    if media_type is not None:
        return f"a {_quote(media_type)} body, not SOAP"
    if _looks_like_html(body):
        return "an HTML page, not SOAP"
    return "a body that is not XML"


# --- Steps 3-4: faults and HTTP status ----------------------------------------------------------


def _status_error(status_code: int, what: str) -> errors.SmspError:
    """ITK-WS §7.2: transport errors come as HTTP 4xx/5xx without a SOAP body (spec §5.6)."""
    status = f"HTTP {status_code}"
    with contextlib.suppress(ValueError):
        status += f" {http.HTTPStatus(status_code).phrase}"
    if 400 <= status_code < 500:
        return errors.ProviderRejected(f"provider rejected the request: {status} with {what}")
    if status_code >= 500:
        return errors.ProviderFailed(f"provider failed: {status} with {what}")
    return errors.ProviderFailed(f"provider answered with unexpected {status} with {what}")


def _find_fault(root: etree._Element) -> etree._Element | None:
    """The first ``soap:Body/soap:Fault`` anywhere, or the root itself if it is a bare Fault."""
    if root.tag == _tag("soap", "Fault"):
        return root
    return root.find(".//soap:Body/soap:Fault", NS)


def _read_fault(fault: etree._Element) -> results.Fault:
    """Read a SOAP 1.1 fault and its ``itk:ToolkitErrorInfo`` detail (spec §5.7)."""
    detail = _soap_fault_part(fault, "detail")
    info = None if detail is None else detail.find(".//itk:ToolkitErrorInfo", NS)
    return results.Fault(
        faultcode=_local_part(_text(_soap_fault_part(fault, "faultcode")) or ""),
        faultstring=_text(_soap_fault_part(fault, "faultstring")) or "",
        error_id=_toolkit_field(info, "ErrorID"),
        error_code=_toolkit_field(info, "ErrorCode"),
        error_text=_toolkit_field(info, "ErrorText"),
        diagnostic=_toolkit_field(info, "ErrorDiagnosticText"),
        actor=_text(_soap_fault_part(fault, "faultactor")),
    )


def _soap_fault_part(fault: etree._Element, name: str) -> etree._Element | None:
    # SOAP 1.1 fault children are unqualified; some toolkits qualify them anyway.
    return _child_qualified_or_not(fault, "soap", name)


def _toolkit_field(info: etree._Element | None, name: str) -> str | None:
    if info is None:
        return None
    return _text(_child_qualified_or_not(info, "itk", name))


def _child_qualified_or_not(
    parent: etree._Element, prefix: str, name: str
) -> etree._Element | None:
    found = parent.find(name)
    return found if found is not None else parent.find(f"{prefix}:{name}", NS)


def _local_part(qname: str) -> str:
    """``soap:Client`` and ``Client`` both give ``Client``."""
    return qname.rsplit(":", 1)[-1]


def _fault_error(fault: results.Fault) -> errors.SmspError:
    """Map a ToolkitErrorInfo ErrorCode to an exception (ToolkitSOAPErrorCodes, spec §5.7)."""
    text = _quote(fault.error_text or fault.faultstring or "no error text")
    if not fault.error_code:
        return errors.ProviderFailed(
            f"provider fault {_quote(fault.faultcode or 'without faultcode')}: {text} "
            "(no ToolkitErrorInfo ErrorCode)",
            fault=fault,
        )
    known = codes.FAULT_CODES.get(fault.error_code)
    if known is None:
        return errors.ProviderFailed(
            f"provider fault {_quote(fault.error_code)} (unknown error code): {text}", fault=fault
        )
    title, exit_code = known
    message = f"provider fault {fault.error_code} ({title}): {text}"
    rejected = exit_code is errors.ExitCode.REJECTED
    error_class = errors.ProviderRejected if rejected else errors.ProviderFailed
    return error_class(message, hint=_FAULT_HINTS.get(fault.error_code), fault=fault)


_FAULT_HINTS = {
    "2100": "retryable: the provider says the same request may succeed later",
    "3000": "access denied: check the client certificate, username and audit identity",
}


# --- Step 5: the business payload ---------------------------------------------------------------


def _read_business_reply(
    root: etree._Element, expected: operations.Reply | None
) -> results.Reply:
    payload = _locate_payload(root)
    kind = _local_name(payload)
    if expected is not None and kind != expected.value:
        raise errors.ProviderFailed(
            f"expected a {expected.value} reply but the provider sent {_quote(kind)}"
        )
    reply = results.Reply(
        kind=kind,
        response_code=_response_code(payload, kind),
        message_id=_message_id(root),
        payload=_serialise(payload),
    )
    reader = _PAYLOAD_READERS.get(kind)
    return reply if reader is None else reader(payload, reply)


def _locate_payload(root: etree._Element) -> etree._Element:
    """Find the HL7 payload: in a SOAP envelope, in a bare DE (TKW stubs), or bare (Examples).

    Spec §5.1: ``soap:Envelope/soap:Body/itk:DistributionEnvelope/itk:payloads/itk:payload/*``.
    """
    container = root
    if root.tag == _tag("soap", "Envelope"):
        body = root.find("soap:Body", NS)
        if body is None:
            raise errors.ProviderFailed("provider reply is a SOAP envelope without a Body")
        container = _first_element(body, "the SOAP Body is empty")
    if container.tag == _tag("itk", "DistributionEnvelope"):
        slot = container.find("itk:payloads/itk:payload", NS)
        if slot is None:
            raise errors.ProviderFailed("the Distribution Envelope carries no itk:payload")
        container = _first_element(slot, "the Distribution Envelope payload is empty")
    if _namespace(container) != xmlsafe.HL7:
        raise errors.ProviderFailed(
            f"provider reply has no HL7 payload: found {_quote(_local_name(container))} "
            f"in namespace {_quote(_namespace(container) or 'none')}"
        )
    return container


def _first_element(parent: etree._Element, when_missing: str) -> etree._Element:
    for child in parent:
        if isinstance(child.tag, str):  # skips comments and processing instructions
            return child
    raise errors.ProviderFailed(f"provider reply unusable: {when_missing}")


def _response_code(payload: etree._Element, kind: str) -> str:
    """The business outcome is ``value/@code`` (spec §3.4); a blank code is no code."""
    value = payload.find("hl7:value", NS)
    code = None if value is None else _attribute(value, "code")
    if not code:
        raise errors.ProviderFailed(f"provider reply {_quote(kind)} has no response code")
    return code


def _message_id(root: etree._Element) -> str | None:
    if root.tag != _tag("soap", "Envelope"):
        return None
    return _text(root.find("soap:Header/wsa:MessageID", NS))


def _serialise(payload: etree._Element) -> bytes:
    """The payload alone, re-indented, with only the namespaces it uses, for ``--output xml``."""
    import copy

    from lxml import etree

    alone = copy.deepcopy(payload)
    alone.tail = None
    etree.cleanup_namespaces(alone)
    etree.indent(alone, space="  ")
    return etree.tostring(alone, encoding="utf-8", pretty_print=True)


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


_PAYLOAD_READERS: dict[str, Callable[[etree._Element, results.Reply], results.Reply]] = {
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
        extension = _attribute(identifier, "extension")
        if _attribute(identifier, "root") == NHS_NUMBER_OID:
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
    use = _attribute(addr, "use")
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


# --- Small XML helpers --------------------------------------------------------------------------


def _tag(prefix: str, local: str) -> str:
    """The Clark name lxml uses for an element, built from the shared namespace table."""
    return f"{{{NS[prefix]}}}{local}"


def _namespace(element: etree._Element) -> str | None:
    tag = element.tag
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else None


def _local_name(element: etree._Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def _text(element: etree._Element | None) -> str | None:
    """Stripped text content (comments excluded); ``""`` when empty, ``None`` when absent."""
    if element is None:
        return None
    # itertext() is typed str | bytes; a parsed document only ever yields str.
    return "".join(part for part in element.itertext() if isinstance(part, str)).strip()


def _child_text(parent: etree._Element | None, name: str) -> str | None:
    return None if parent is None else _text(parent.find(f"hl7:{name}", NS))


def _texts(parent: etree._Element, name: str) -> tuple[str, ...]:
    return tuple(_text(child) or "" for child in parent.findall(f"hl7:{name}", NS))


def _attribute(element: etree._Element, name: str) -> str | None:
    value = element.get(name)
    return None if value is None else value.strip()


def _child_attribute(parent: etree._Element | None, child: str, name: str) -> str | None:
    found = None if parent is None else parent.find(f"hl7:{child}", NS)
    return None if found is None else _attribute(found, name)


def _boolean(value: str | None) -> bool | None:
    """HL7 BL: exactly "true" or "false"; anything else is no answer."""
    return {"true": True, "false": False}.get((value or "").strip())


def _quote(text: str) -> str:
    """Provider text made safe for one terminal line: no control characters, bounded length."""
    visible = "".join(
        " " if unicodedata.category(char).startswith("C") else char for char in text
    )
    visible = " ".join(visible.split())
    if len(visible) > _QUOTE_LIMIT:
        visible = visible[: _QUOTE_LIMIT - 1] + "…"
    return visible
