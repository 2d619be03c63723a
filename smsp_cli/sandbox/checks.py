"""Strict checking of one incoming SMSP request, as a strict provider would (spec §5, §3).

A request ends in exactly one of these:

* :class:`HttpProblem`: not an SMSP call at all (wrong path 404, not POST 405, no length 411,
  not XML 415). Answered as plain HTTP, without SOAP (ITK-WS §7.2).
* :class:`EnvelopeProblem`: a SOAP fault on HTTP 500 (spec §5.7). ErrorCode ``1000`` (Invalid
  Message) for anything wrong in the SOAP envelope, WS-Addressing, WS-Security or the
  Distribution Envelope; ``3000`` (Access Denied) when wsse:Username is not the client
  certificate's Subject CN (ITK-WS WS-SEC-07). SOAP 1.2 gets faultcode VersionMismatch (ITK-WS
  §7.10); an unknown header with mustUnderstand gets MustUnderstand (SOAP 1.1 §4.2.3).
* :class:`PayloadProblem`: a business reply with ``SMSP-0001`` on HTTP 200, because payload
  validation failures are returned as a response code (PROV-COMMON SMSP-VAL-001). That
  includes an NHS number that fails modulus 11: SMSP-VAL-002 makes the provider check it, and
  SMSP-0001 is the code for input the SMSP itself refuses. DEMOG-0042 comes from PDS, so the
  sandbox only answers it for a synthetic patient whose scenario asks for it.
* :class:`ValidRequest`: the operation, the ids for the audit record and the match criteria.

Timestamp policy (WS-Security, spec §5.3). Created and Expires must be xs:dateTime in UTC with a
``Z`` (fractions of a second allowed). Expires must be after Created (WS-SEC-06), at most
:data:`MAX_TIMESTAMP_LIFETIME` (10 minutes, WS-SEC-05) after it, and still in the future
(WS-SEC-06: expired messages are rejected). Created may be up to :data:`ALLOWED_CLOCK_SKEW`
(60 s) ahead of the sandbox's clock: ITK wants clocks within 250 ms of NTP (WS-SEC-04), but a
developer laptop is allowed a little drift; more than that is a clock to fix, and refused.

Deliberately tolerated, as real providers do: any order of SOAP header blocks (spec §5.3), a
missing wsa:From (WS-ADR-05), any wsa:To text (the example's wsa:To names a different host than
the one dialled), an optional senderAddress or handlingSpecification, xsi:schemaLocation.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from smsp_cli import xmlsafe
from smsp_cli.errors import ValidationError
from smsp_cli.identity import AuditId
from smsp_cli.models import (
    NHS_NUMBER_OID,
    SEX_CODE_SYSTEM,
    Gender,
    PartialDate,
    check_name,
    is_valid_nhs_number,
    parse_postcode,
)
from smsp_cli.operations import BY_SERVICE, DETAILS, ITEM_ORDER, DobResolution, Operation
from smsp_cli.sandbox.matching import Criteria
from smsp_cli.xmlsafe import NS

if TYPE_CHECKING:
    from lxml import etree

# A request is one patient's query: a few kilobytes. Anything near this is not SMSP.
MAX_BODY_BYTES = 1024 * 1024
ALLOWED_CLOCK_SKEW = dt.timedelta(seconds=60)
MAX_TIMESTAMP_LIFETIME = dt.timedelta(minutes=10)

INVALID_MESSAGE = "1000"
ACCESS_DENIED = "3000"

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
WSA_ANONYMOUS = "http://www.w3.org/2005/08/addressing/anonymous"
MESSAGE_TYPE_CODE_SYSTEM = "2.16.840.1.113883.2.1.3.2.4.17.284"

_UUID = "[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}"
_UPPER_UUID = re.compile(f"^{_UUID}$")
# WS-ADR-01/02: MessageID is an upper-case UUID; a uuid: or urn:uuid: prefix MAY be used.
_MESSAGE_ID = re.compile(f"^(?:urn:uuid:|uuid:)?{_UUID}$")
_UTC_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")
_OID = re.compile(r"^[0-2](\.(0|[1-9]\d*))+$")
_PRINTABLE_ASCII = re.compile(r"^[\x21-\x7e]+$")
_HL7_DATE = {
    DobResolution.FULL_ONLY: re.compile(r"^\d{8}$"),
    DobResolution.ANY: re.compile(r"^\d{4}(\d{2}(\d{2})?)?$"),
}
_UNDERSTOOD_HEADERS = frozenset({xmlsafe.WSA, xmlsafe.WSSE})
_GENDER_CODES = frozenset(gender.value for gender in Gender)
_FALSE = frozenset({"false", "0"})


@dataclass(frozen=True)
class HttpProblem:
    """Not an SMSP call: answered with this HTTP status and a one-line text body."""

    status: int
    reason: str


@dataclass(frozen=True)
class EnvelopeProblem:
    """A technical error: answered with a SOAP fault on HTTP 500 (spec §5.7)."""

    error_code: str  # ToolkitSOAPErrorCodes: 1000 or 3000
    reason: str  # ErrorText: what is wrong, for the user
    rule: str  # ErrorDiagnosticText: the rule broken
    faultcode: str = "Client"  # or VersionMismatch, MustUnderstand
    operation: Operation | None = None  # whatever was read before the problem
    message_id: str | None = None
    username: str | None = None


@dataclass(frozen=True)
class Envelope:
    """The parts of an accepted SOAP envelope and DE that the reply and the audit record need."""

    operation: Operation
    message_id: str
    tracking_id: str
    username: str
    audit_ids: tuple[AuditId, ...]


@dataclass(frozen=True)
class PayloadProblem:
    """The envelope is sound but the HL7 payload is not: a business reply SMSP-0001."""

    envelope: Envelope
    reason: str


@dataclass(frozen=True)
class ValidRequest:
    """A request that passed every check, ready for the patient index."""

    envelope: Envelope
    criteria: Criteria


CheckResult = ValidRequest | PayloadProblem | EnvelopeProblem


def check_transport(
    method: str,
    target: str,
    *,
    path: str,
    content_type: str | None,
    content_length: str | None,
    transfer_encoding: str | None = None,
) -> HttpProblem | EnvelopeProblem | None:
    """The HTTP-level rules, checked before a byte of the body is read (spec §5.5)."""
    if urlsplit(target).path != path:
        return HttpProblem(404, f"no SMSP service here; POST to {path}")
    if method != "POST":
        return HttpProblem(405, "SMSP accepts POST only (spec §5.5)")
    if transfer_encoding is not None or content_length is None:
        return HttpProblem(411, "send the SOAP message with a Content-Length")
    if not content_length.isdigit():
        return HttpProblem(400, "Content-Length is not a number")
    if int(content_length) > MAX_BODY_BYTES:
        return EnvelopeProblem(
            INVALID_MESSAGE,
            f"the message is {content_length} bytes, over the {MAX_BODY_BYTES}-byte limit",
            "sandbox limit: an SMSP request carries one query",
        )
    media_type, _, parameters = (content_type or "").partition(";")
    media_type = media_type.strip().lower()
    if media_type == "application/soap+xml":
        return EnvelopeProblem(INVALID_MESSAGE, "SOAP 1.2 is not accepted; send SOAP 1.1",
                               "spec §5.2, ITK-WS §7.10", faultcode="VersionMismatch")
    if media_type != "text/xml":
        return HttpProblem(415, "Content-Type must be text/xml (spec §5.5)")
    charset = _parameter(parameters, "charset")
    if charset is not None and charset.lower() not in {"utf-8", "utf8"}:
        return EnvelopeProblem(INVALID_MESSAGE, f"charset {charset} is not UTF-8",
                               "ITK-WS Table 3: every ITK message is UTF-8")
    return None


def check_request(
    body: bytes,
    *,
    soap_action: str | None,
    client_cn: str | None,
    now: dt.datetime | None = None,
) -> CheckResult:
    """Check a request body against every envelope and payload rule; ``now`` is for tests."""
    now = now or dt.datetime.now(dt.UTC)
    reader = _EnvelopeReader(soap_action, client_cn, now)
    try:
        envelope, payload_slot = reader.read(body)
    except _Refused as refusal:
        return EnvelopeProblem(
            refusal.error_code, refusal.reason, refusal.rule, faultcode=refusal.faultcode,
            operation=reader.seen.operation, message_id=reader.seen.message_id,
            username=reader.seen.username,
        )
    try:
        criteria = _PayloadReader(envelope.operation, now.date()).read(payload_slot)
    except _Invalid as invalid:
        return PayloadProblem(envelope, invalid.reason)
    return ValidRequest(envelope, criteria)


def unquote_soap_action(value: str | None) -> str | None:
    """The SOAPAction URI, quoted (WS-I BP) or not (the NHS examples); None when absent."""
    if value is None:
        return None
    text = value.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1].strip()
    return text or None


class _Refused(Exception):
    def __init__(
        self, reason: str, rule: str, *, error_code: str = INVALID_MESSAGE,
        faultcode: str = "Client",
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.rule = rule
        self.error_code = error_code
        self.faultcode = faultcode


class _Invalid(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Seen:
    operation: Operation | None = None
    message_id: str | None = None
    username: str | None = None


class _EnvelopeReader:
    """Reads the SOAP envelope and DE, raising :class:`_Refused` at the first broken rule."""

    def __init__(self, soap_action: str | None, client_cn: str | None, now: dt.datetime) -> None:
        self.soap_action = unquote_soap_action(soap_action)
        self.client_cn = client_cn
        self.now = now
        self.seen = _Seen()

    def read(self, body: bytes) -> tuple[Envelope, etree._Element]:
        root = self._parse(body)
        header = _only(root, "soap:Header", "soap:Header", "SOAP 1.1 §4")
        soap_body = _only(root, "soap:Body", "soap:Body", "SOAP 1.1 §4")
        if _elements(root) != [header, soap_body]:
            raise _Refused("soap:Envelope must hold soap:Header then soap:Body only",
                           "SOAP 1.1 §4, ITK-WS WS-STD-03")
        self._must_understand(header)
        operation, message_id = self._addressing(header)
        username = self._security(header)
        de = self._single_child(soap_body)
        tracking_id, audit_ids, payload_slot = self._distribution_envelope(de, operation)
        envelope = Envelope(operation, message_id, tracking_id, username, audit_ids)
        return envelope, payload_slot

    def _parse(self, body: bytes) -> etree._Element:
        try:
            root = xmlsafe.parse(body, max_bytes=MAX_BODY_BYTES)
        except xmlsafe.UnsafeXml as exc:
            raise _Refused(f"the message was refused unparsed: {exc}",
                           "spec §5.1: DOCTYPE, entities and malformed XML are refused") from None
        if root.tag == f"{{{SOAP12}}}Envelope":
            raise _Refused("SOAP 1.2 is not accepted; send SOAP 1.1", "spec §5.2, ITK-WS §7.10",
                           faultcode="VersionMismatch")
        if root.tag != f"{{{xmlsafe.SOAP}}}Envelope":
            raise _Refused("the message is not a SOAP 1.1 Envelope", "spec §5.2")
        return root

    def _must_understand(self, header: etree._Element) -> None:
        for block in _elements(header):
            flag = block.get(f"{{{xmlsafe.SOAP}}}mustUnderstand", "0").strip()
            namespace = _namespace(block)
            if flag in {"1", "true"} and namespace not in _UNDERSTOOD_HEADERS:
                raise _Refused(f"header {block.tag} must be understood, and is not",
                               "SOAP 1.1 §4.2.3", faultcode="MustUnderstand")

    def _addressing(self, header: etree._Element) -> tuple[Operation, str]:
        message_id = _text(header, "wsa:MessageID", "wsa:MessageID", "ITK-WS WS-ADR-01")
        self.seen.message_id = message_id  # even a malformed one: the fault relates to it
        if not _MESSAGE_ID.match(message_id):
            raise _Refused(f"wsa:MessageID {message_id!r} is not an upper-case UUID",
                           "ITK-WS WS-ADR-01/02, spec §5.3")
        action = _text(header, "wsa:Action", "wsa:Action", "ITK-WS WS-ADR-04")
        if self.soap_action is None:
            raise _Refused("the SOAPAction HTTP header is missing",
                           "SOAP 1.1 §6.1.1, ITK-WS WS-ADR-04")
        operation = BY_SERVICE.get(self.soap_action)
        if operation is None:
            raise _Refused(f"SOAPAction {self.soap_action!r} is not an SMSP PDS service",
                           "spec §2")
        self.seen.operation = operation
        if action != self.soap_action:
            raise _Refused(f"wsa:Action {action!r} differs from SOAPAction {self.soap_action!r}",
                           "ITK-WS WS-ADR-04, spec §2")
        _text(header, "wsa:To", "wsa:To", "ITK-WS WS-ADR-03")
        for reply_header in ("wsa:ReplyTo", "wsa:FaultTo"):
            for element in header.findall(reply_header, NS):
                address = (element.findtext("wsa:Address", "", NS) or "").strip()
                if address != WSA_ANONYMOUS:
                    raise _Refused(f"{reply_header} must be absent or anonymous for a "
                                   "synchronous call", "ITK-WS WS-ADR-06/10")
        return operation, message_id

    def _security(self, header: etree._Element) -> str:
        security = _only(header, "wsse:Security", "wsse:Security", "ITK-WS WS-SEC-03")
        timestamp = _only(security, "wsu:Timestamp", "wsu:Timestamp", "ITK-WS WS-SEC-04")
        created = _instant(timestamp, "wsu:Created")
        expires = _instant(timestamp, "wsu:Expires")
        self._timestamp_window(created, expires)
        username = _text(security, "wsse:UsernameToken/wsse:Username", "wsse:Username",
                         "ITK-WS WS-SEC-02")
        self.seen.username = username
        if self.client_cn is not None and username != self.client_cn:
            raise _Refused(
                f"wsse:Username {username!r} is not the client certificate's CN "
                f"{self.client_cn!r}", "ITK-WS WS-SEC-02/07", error_code=ACCESS_DENIED)
        return username

    def _timestamp_window(self, created: dt.datetime, expires: dt.datetime) -> None:
        rule = "ITK-WS WS-SEC-04/05/06"
        if expires <= created:
            raise _Refused("wsu:Expires is not after wsu:Created", rule)
        if expires - created > MAX_TIMESTAMP_LIFETIME:
            raise _Refused("the timestamp is valid for more than 10 minutes", rule)
        if created > self.now + ALLOWED_CLOCK_SKEW:
            raise _Refused(f"wsu:Created is more than {ALLOWED_CLOCK_SKEW.seconds} s in the "
                           "future: check the clock", rule)
        if expires <= self.now:
            raise _Refused("the message has expired (wsu:Expires has passed)", rule)

    def _single_child(self, soap_body: etree._Element) -> etree._Element:
        children = _elements(soap_body)
        if len(children) != 1 or children[0].tag != f"{{{xmlsafe.ITK}}}DistributionEnvelope":
            raise _Refused("soap:Body must hold exactly one itk:DistributionEnvelope", "spec §5.4")
        return children[0]

    def _distribution_envelope(
        self, de: etree._Element, operation: Operation
    ) -> tuple[str, tuple[AuditId, ...], etree._Element]:
        header = _only(de, "itk:header", "itk:header", "ITK-DE")
        payloads = _only(de, "itk:payloads", "itk:payloads", "ITK-DE")
        if _elements(de) != [header, payloads]:
            raise _Refused("itk:DistributionEnvelope must hold itk:header then itk:payloads",
                           "distributionEnvelope-v2-0.xsd")
        _in_order(header, ("addresslist", "auditIdentity", "manifest", "senderAddress",
                           "handlingSpecification"), xmlsafe.ITK, _refuse_de_order)
        if header.get("service") != operation.service:
            raise _Refused(f"DE service {header.get('service')!r} differs from wsa:Action",
                           "ITK-DE COR-DEH-01, spec §2")
        tracking_id = header.get("trackingid", "")
        if not _UPPER_UUID.match(tracking_id):
            raise _Refused(f"DE trackingid {tracking_id!r} is not an upper-case UUID",
                           "ITK-DE COR-DEH-02")
        audit_ids = _audit_identity(header)
        payload_slot = _manifest(header, payloads, operation)
        return tracking_id, audit_ids, payload_slot


def _audit_identity(header: etree._Element) -> tuple[AuditId, ...]:
    rule = "SMSP-AUDIT-002/005, ITK-DE COR-DEH-03/04"
    audit = _only(header, "itk:auditIdentity", "itk:auditIdentity", rule)
    ids = audit.findall("itk:id", NS)
    if not 1 <= len(ids) <= 4 or len(ids) != len(_elements(audit)):
        raise _Refused("itk:auditIdentity must hold one to four itk:id", rule)
    for element in ids:
        if not _PRINTABLE_ASCII.match(element.get("uri", "")):
            raise _Refused("each itk:auditIdentity/itk:id needs a printable ASCII uri", rule)
    return tuple(AuditId(uri=element.get("uri", ""), type=element.get("type")) for element in ids)


def _manifest(
    header: etree._Element, payloads: etree._Element, operation: Operation
) -> etree._Element:
    rule = "DE-PDS, spec §5.4"
    manifest = _only(header, "itk:manifest", "itk:manifest", rule)
    items = manifest.findall("itk:manifestitem", NS)
    slots = payloads.findall("itk:payload", NS)
    if manifest.get("count") != "1" or len(items) != 1 or len(_elements(manifest)) != 1:
        raise _Refused("itk:manifest must have count=\"1\" and one manifestitem", rule)
    if payloads.get("count") != "1" or len(slots) != 1 or len(_elements(payloads)) != 1:
        raise _Refused("itk:payloads must have count=\"1\" and one payload", rule)
    item, slot = items[0], slots[0]
    if not item.get("id") or item.get("id") != slot.get("id"):
        raise _Refused("manifestitem/@id does not match payload/@id", rule)
    if item.get("mimetype") != "text/xml":
        raise _Refused("manifestitem/@mimetype must be text/xml", rule)
    profile = item.get("profileid")
    if profile is None:
        raise _Refused("Profile ID is missing", "SMSP-DOCS: profileid must be provided")
    if profile != operation.request_profile:
        raise _Refused(f"profileid {profile!r} is not {operation.request_profile}", rule)
    if item.get("metadata") is not None or slot.get("filename") is not None:
        raise _Refused("manifestitem/@metadata and payload/@filename must not be sent", rule)
    for flag in ("base64", "compressed", "encrypted"):
        if item.get(flag, "false").strip() not in _FALSE:
            raise _Refused(f"manifestitem/@{flag} must be false: the payload is plain XML",
                           rule)
    return slot


class _PayloadReader:
    """Reads the HL7 query payload into :class:`Criteria`, raising :class:`_Invalid`."""

    def __init__(self, operation: Operation, today: dt.date) -> None:
        self.operation = operation
        self.today = today
        self.wildcards = operation.wildcards
        self.values: dict[str, str | None] = {}
        self.readers: dict[str, Callable[[etree._Element], None]] = {
            "Person.DateOfBirth": self._date_of_birth,
            "Person.Gender": self._gender,
            "Person.LocalIdentifier": self._local_identifier,
            "Person.NHSNumber": self._nhs_number,
            "Person.Name": self._name,
            "Person.Postcode": self._postcode,
        }

    def read(self, slot: etree._Element) -> Criteria:
        children = _elements(slot)
        if len(children) != 1:
            raise _Invalid(f"itk:payload holds {len(children)} elements, not one HL7 payload")
        root = children[0]
        operation = self.operation
        if root.tag != _hl7(operation.request_root):
            raise _Invalid(f"payload root is {_local(root)}, not {operation.request_root}")
        if root.get("classCode") != "CACT" or root.get("moodCode") != "EVN":
            raise _Invalid('payload classCode must be "CACT" and moodCode "EVN"')
        if [child.tag for child in _elements(root)] != [_hl7(t) for t in
                                                         ("id", "code", "queryEvent")]:
            raise _Invalid("payload must hold id, code and queryEvent, in that order")
        request_id = root.find("hl7:id", NS)
        assert request_id is not None  # the sequence was just checked
        if not _UPPER_UUID.match(request_id.get("root", "")) or "extension" in request_id.attrib:
            raise _Invalid("payload id/@root must be an upper-case UUID with no extension")
        code = root.find("hl7:code", NS)
        assert code is not None
        if (code.get("code"), code.get("codeSystem")) != (operation.request_code,
                                                           MESSAGE_TYPE_CODE_SYSTEM):
            raise _Invalid(f"payload code must be {operation.request_code} in "
                           f"{MESSAGE_TYPE_CODE_SYSTEM}")
        query_event = root.find("hl7:queryEvent", NS)
        assert query_event is not None
        self._items(query_event)
        self._mode_rules()
        return Criteria(**self.values)

    def _items(self, query_event: etree._Element) -> None:
        operation = self.operation
        present = _in_order(query_event, ITEM_ORDER, xmlsafe.HL7, _invalid_item_order)
        for name in present:
            if name not in operation.items:
                raise _Invalid(f"{name} is not part of {operation.name}")
        missing = sorted(operation.required - set(present))
        if missing:
            raise _Invalid(f"{missing[0]} is required for {operation.name}")
        has_number = "Person.NHSNumber" in present
        # Spec §3.3: getPatientDetails with an NHS number is a verification: no wildcards.
        self.wildcards = operation.wildcards and not (operation is DETAILS and has_number)
        for item in _elements(query_event):
            name = _local(item)
            self.readers[name](self._value(item, name))

    def _value(self, item: etree._Element, name: str) -> etree._Element:
        children = _elements(item)
        if [child.tag for child in children] != [_hl7("value"), _hl7("semanticsText")]:
            raise _Invalid(f"{name} must hold value then semanticsText")
        if (children[1].text or "").strip() != name:
            raise _Invalid(f"{name}/semanticsText must be {name}")
        return children[0]

    def _date_of_birth(self, value: etree._Element) -> None:
        text = value.get("value", "")
        resolution = self.operation.dob_resolution
        date = PartialDate.from_hl7(text) if _HL7_DATE[resolution].match(text) else None
        if date is None:
            raise _Invalid(f"date of birth is not a real date in the form {resolution.value} "
                           f"for {self.operation.name}")
        if text > self.today.strftime("%Y%m%d")[: len(text)]:
            raise _Invalid("date of birth is in the future")
        self.values["birth_date"] = text

    def _gender(self, value: etree._Element) -> None:
        code = value.get("code", "")
        if code not in _GENDER_CODES:
            raise _Invalid("gender code is not 0, 1, 2 or 9")
        if value.get("codeSystem") != SEX_CODE_SYSTEM:
            raise _Invalid(f"gender codeSystem must be {SEX_CODE_SYSTEM}")
        self.values["gender"] = code

    def _local_identifier(self, value: etree._Element) -> None:
        root, extension = value.get("root", ""), value.get("extension", "")
        if not _OID.match(root) or not extension.strip():
            raise _Invalid("Person.LocalIdentifier needs an OID root and an extension")
        self.values["local_id_root"] = root
        self.values["local_id"] = extension

    def _nhs_number(self, value: etree._Element) -> None:
        number = value.get("extension", "")
        if value.get("root") != NHS_NUMBER_OID:
            raise _Invalid(f"Person.NHSNumber root must be {NHS_NUMBER_OID}")
        if not is_valid_nhs_number(number):
            raise _Invalid("NHS number is not 10 digits passing modulus 11 (SMSP-VAL-002)")
        self.values["nhs_number"] = number

    def _name(self, value: etree._Element) -> None:
        parts = _elements(value)
        tags = [child.tag for child in parts]
        if tags not in ([], [_hl7("given")], [_hl7("family")], [_hl7("given"), _hl7("family")]):
            raise _Invalid("Person.Name/value holds given then family, each at most once")
        if self.operation.name_type3 and "use" in value.attrib:
            raise _Invalid("Person.Name must not carry @use for this operation "
                           "(PersonNameType3)")
        for part in parts:
            label = "given name" if _local(part) == "given" else "family name"
            try:
                check_name(label, part.text or "", wildcards=self.wildcards)
            except ValidationError:
                raise _Invalid(f"{label} is blank, has a control character, or has a wildcard "
                               "where none is allowed (spec §3.3)") from None
            self.values[_local(part)] = part.text
        if self.operation.name_type3 and self.values.get("family") is None:
            raise _Invalid(f"a family name is required for {self.operation.name} "
                           "(PersonNameType3)")

    def _postcode(self, value: etree._Element) -> None:
        parts = _elements(value)
        if [child.tag for child in parts] != [_hl7("postalCode")]:
            raise _Invalid("Person.Postcode/value holds exactly one postalCode")
        try:
            parse_postcode(parts[0].text or "", wildcards=self.wildcards)
        except ValidationError:
            raise _Invalid("postcode is not up to 8 letters and digits with one space, or has "
                           "a wildcard where none is allowed (spec §3.2-3.3)") from None
        self.values["postcode"] = parts[0].text

    def _mode_rules(self) -> None:
        # Spec §3.3: getPatientDetails without an NHS number is a search, which needs the
        # family name, the given name and the gender.
        if self.operation is DETAILS and self.values.get("nhs_number") is None:
            for key, label in (("family", "family name"), ("given", "given name"),
                               ("gender", "gender")):
                if self.values.get(key) is None:
                    raise _Invalid(f"{label} is required by getPatientDetails without an NHS "
                                   "number")


def _refuse_de_order(reason: str) -> Exception:
    return _Refused(f"itk:header: {reason}", "distributionEnvelope-v2-0.xsd")


def _invalid_item_order(reason: str) -> Exception:
    return _Invalid(f"queryEvent: {reason} (spec §3.1: XSD order)")


def _in_order(
    parent: etree._Element, order: Sequence[str], namespace: str,
    problem: Callable[[str], Exception],
) -> list[str]:
    """Local names of ``parent``'s children, checked to follow ``order``, each at most once."""
    names: list[str] = []
    for child in _elements(parent):
        name = _local(child)
        if _namespace(child) != namespace or name not in order:
            raise problem(f"{name} is not allowed here")
        if name in names:
            raise problem(f"{name} appears more than once")
        if names and order.index(name) < order.index(names[-1]):
            raise problem(f"{name} must come before {names[-1]}")
        names.append(name)
    return names


def _only(parent: etree._Element, path: str, what: str, rule: str) -> etree._Element:
    found = parent.findall(path, NS)
    if not found:
        raise _Refused(f"{what} is missing", rule)
    if len(found) > 1:
        raise _Refused(f"{what} appears {len(found)} times", rule)
    return found[0]


def _text(parent: etree._Element, path: str, what: str, rule: str) -> str:
    text = (_only(parent, path, what, rule).text or "").strip()
    if not text:
        raise _Refused(f"{what} is empty", rule)
    return text


def _instant(timestamp: etree._Element, path: str) -> dt.datetime:
    rule = "ITK-WS WS-SEC-04/05, spec §5.3"
    text = _text(timestamp, path, path, rule)
    if not _UTC_DATETIME.match(text):
        raise _Refused(f"{path} {text!r} is not a UTC time such as 2016-07-27T11:10:23Z", rule)
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise _Refused(f"{path} {text!r} is not a real time", rule) from None


def _elements(parent: etree._Element) -> list[etree._Element]:
    return [child for child in parent if isinstance(child.tag, str)]


def _namespace(element: etree._Element) -> str:
    tag = str(element.tag)
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def _local(element: etree._Element) -> str:
    return str(element.tag).rsplit("}", 1)[-1]


def _hl7(name: str) -> str:
    return f"{{{xmlsafe.HL7}}}{name}"


def _parameter(parameters: str, name: str) -> str | None:
    for parameter in parameters.split(";"):
        key, _, value = parameter.partition("=")
        if key.strip().lower() == name:
            return value.strip().strip('"')
    return None
