"""The SOAP envelope, WS-Addressing, WS-Security and Distribution Envelope rules (spec §5).

:class:`EnvelopeReader` reads an incoming request down to its ``itk:payload`` and raises
:class:`Refused` at the first broken rule: a SOAP fault on HTTP 500 (spec §5.7), ErrorCode
:data:`INVALID_MESSAGE` for anything wrong, :data:`ACCESS_DENIED` when wsse:Username is not the
client certificate's Subject CN (ITK-WS WS-SEC-07).

Each rule is decided as the spec decides it, and a refusal names the rule it applies:

* Timestamp (WS-Security, spec §5.3). Created and Expires must be xs:dateTime in UTC with a
  ``Z`` (fractions of a second allowed). Expires must be after Created and still in the future
  (WS-SEC-06: expired messages are rejected). A lifetime over :data:`MAX_TIMESTAMP_LIFETIME`
  (10 minutes) is accepted with a warning: WS-SEC-05 only recommends it, and NHS Digital's own
  examples live a year and more. Created may be up to :data:`ALLOWED_CLOCK_SKEW` (60 s) ahead
  of the sandbox's clock: ITK wants clocks within 250 ms of NTP (WS-SEC-04), but a developer
  laptop is allowed a little drift; more than that is a clock to fix, and refused.
* An audit id of the ASID type must be an ASID, digits only (spec §7.1): a placeholder such as
  ``__AUDITIDENT`` is refused. ITK identities (``urn:nhs-uk:identity:...``, the forms
  third-party providers use) are URIs, accepted as they are.
* The payload's id, the manifest item's reference to it, and any wsu:Id are xs:IDs: an NCName,
  a letter or ``_`` first (which is why the recommended form is ``uuid_`` + the UUID).
* What the spec says MUST be refused is refused: a wsse:Username other than the client
  certificate's CN (WS-SEC-07), a SOAPAction that is not wsa:Action (WS-ADR-04), and (in
  :mod:`~smsp_cli.sandbox.checks`) a charset other than UTF-8. A *lenient* reader, as
  third-party providers are for their own clients, accepts those three with a warning each,
  routing on wsa:Action when SOAPAction differs or is missing.

Deliberately tolerated, as real providers do: any order of SOAP header blocks (spec §5.3), a
missing wsa:From (WS-ADR-05), any wsa:To text (the example's wsa:To names a different host than
the one dialled), an optional senderAddress or handlingSpecification, xsi:schemaLocation.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

from smsp_cli.adapters.smsp import xmlsafe
from smsp_cli.adapters.smsp.xmlsafe import NS
from smsp_cli.domain.ids import UPPER_UUID, UUID
from smsp_cli.domain.operations import BY_SERVICE, Operation
from smsp_cli.fastclasses import dataclass
from smsp_cli.sandbox.xmlrules import in_order
from smsp_cli.settings.identity import ASID_TYPE, AuditId

if TYPE_CHECKING:
    from lxml import etree

ALLOWED_CLOCK_SKEW = dt.timedelta(seconds=60)
MAX_TIMESTAMP_LIFETIME = dt.timedelta(minutes=10)

INVALID_MESSAGE = "1000"
ACCESS_DENIED = "3000"

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
WSA_ANONYMOUS = "http://www.w3.org/2005/08/addressing/anonymous"

# WS-ADR-01/02: MessageID is an upper-case UUID; a uuid: or urn:uuid: prefix MAY be used.
_MESSAGE_ID = re.compile(f"^(?:urn:uuid:|uuid:)?{UUID}$")
# xs:ID is an NCName: a letter or "_", then letters, digits, ".", "-" or "_" (no colon).
_XS_ID = re.compile(r"^[^\W\d][\w.\-]*$")
_ASID = re.compile(r"^\d+$")
_WSU_ID = f"{{{xmlsafe.WSU}}}Id"
_UTC_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")
_PRINTABLE_ASCII = re.compile(r"^[\x21-\x7e]+$")
_UNDERSTOOD_HEADERS = frozenset({xmlsafe.WSA, xmlsafe.WSSE})
_FALSE = frozenset({"false", "0"})


@dataclass(frozen=True)
class Envelope:
    """The parts of an accepted SOAP envelope and DE that the reply and the audit record need."""

    operation: Operation
    message_id: str
    tracking_id: str
    username: str
    audit_ids: tuple[AuditId, ...]


class Refused(Exception):
    """A broken envelope rule: the reason for the user and the rule, for the SOAP fault."""

    def __init__(
        self,
        reason: str,
        rule: str,
        *,
        error_code: str = INVALID_MESSAGE,
        faultcode: str = "Client",
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.rule = rule
        self.error_code = error_code
        self.faultcode = faultcode


@dataclass
class Seen:
    """What was read before a refusal, so the fault and the record can still name it."""

    operation: Operation | None = None
    message_id: str | None = None
    username: str | None = None


def unquote_soap_action(value: str | None) -> str | None:
    """The SOAPAction URI, quoted (WS-I BP) or not (the NHS examples); None when absent."""
    if value is None:
        return None
    text = value.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1].strip()
    return text or None


class EnvelopeReader:
    """Reads the SOAP envelope and DE, raising :class:`Refused` at the first broken rule."""

    def __init__(
        self, soap_action: str | None, client_cn: str | None, now: dt.datetime, *,
        lenient: bool = False,
    ) -> None:
        self.soap_action = unquote_soap_action(soap_action)
        self.client_cn = client_cn
        self.now = now
        self.lenient = lenient
        self.seen = Seen()
        self.warnings: list[str] = []  # rules bent or only recommended, each with its rule

    def _tolerate(self, reason: str, rule: str, *, error_code: str = INVALID_MESSAGE) -> None:
        """A MUST that a lenient provider lets pass with a warning; a strict one refuses."""
        if not self.lenient:
            raise Refused(reason, rule, error_code=error_code)
        self.warnings.append(f"accepted (lenient): {reason} ({rule})")

    def read(self, body: bytes, *, max_bytes: int) -> tuple[Envelope, etree._Element]:
        """The envelope's parts and the ``itk:payload`` holding the HL7 query."""
        root = self._parse(body, max_bytes)
        header = _only(root, "soap:Header", "soap:Header", "SOAP 1.1 §4")
        soap_body = _only(root, "soap:Body", "soap:Body", "SOAP 1.1 §4")
        if xmlsafe.elements(root) != [header, soap_body]:
            raise Refused(
                "soap:Envelope must hold soap:Header then soap:Body only",
                "SOAP 1.1 §4, ITK-WS WS-STD-03",
            )
        self._must_understand(header)
        operation, message_id = self._addressing(header)
        for element in root.iter():
            identifier = element.get(_WSU_ID) if isinstance(element.tag, str) else None
            if identifier is not None:
                _xs_id(identifier, "wsu:Id", "WS-Security utility schema: wsu:Id is an xs:ID")
        username = self._security(header)
        de = self._single_child(soap_body)
        tracking_id, audit_ids, payload_slot = self._distribution_envelope(de, operation)
        envelope = Envelope(operation, message_id, tracking_id, username, audit_ids)
        return envelope, payload_slot

    def _parse(self, body: bytes, max_bytes: int) -> etree._Element:
        try:
            root = xmlsafe.parse(body, max_bytes=max_bytes)
        except xmlsafe.UnsafeXml as exc:
            raise Refused(
                f"the message was refused unparsed: {exc}",
                "spec §5.1: DOCTYPE, entities and malformed XML are refused",
            ) from None
        if root.tag == f"{{{SOAP12}}}Envelope":
            raise Refused(
                "SOAP 1.2 is not accepted; send SOAP 1.1",
                "spec §5.2, ITK-WS §7.10",
                faultcode="VersionMismatch",
            )
        if root.tag != f"{{{xmlsafe.SOAP}}}Envelope":
            raise Refused("the message is not a SOAP 1.1 Envelope", "spec §5.2")
        return root

    def _must_understand(self, header: etree._Element) -> None:
        for block in xmlsafe.elements(header):
            flag = block.get(f"{{{xmlsafe.SOAP}}}mustUnderstand", "0").strip()
            if flag in {"1", "true"} and xmlsafe.namespace(block) not in _UNDERSTOOD_HEADERS:
                raise Refused(
                    f"header {block.tag} must be understood, and is not",
                    "SOAP 1.1 §4.2.3",
                    faultcode="MustUnderstand",
                )

    def _addressing(self, header: etree._Element) -> tuple[Operation, str]:
        message_id = _text(header, "wsa:MessageID", "wsa:MessageID", "ITK-WS WS-ADR-01")
        self.seen.message_id = message_id  # even a malformed one: the fault relates to it
        if not _MESSAGE_ID.match(message_id):
            raise Refused(
                f"wsa:MessageID {message_id!r} is not an upper-case UUID",
                "ITK-WS WS-ADR-01/02, spec §5.3",
            )
        action = _text(header, "wsa:Action", "wsa:Action", "ITK-WS WS-ADR-04")
        route = self.soap_action
        if route is None:
            self._tolerate("the SOAPAction HTTP header is missing",
                           "SOAP 1.1 §6.1.1, ITK-WS WS-ADR-04")
            route = action  # lenient: routed on wsa:Action, as such providers do
        operation = BY_SERVICE.get(route)
        if operation is None:
            raise Refused(f"SOAPAction {route!r} is not an SMSP PDS service", "spec §2")
        self.seen.operation = operation
        if action != route:
            self._tolerate(f"wsa:Action {action!r} differs from SOAPAction {route!r}",
                           "ITK-WS WS-ADR-04, spec §2")
            operation = BY_SERVICE.get(action)
            if operation is None:
                raise Refused(f"wsa:Action {action!r} is not an SMSP PDS service", "spec §2")
            self.seen.operation = operation
        _text(header, "wsa:To", "wsa:To", "ITK-WS WS-ADR-03")
        for reply_header in ("wsa:ReplyTo", "wsa:FaultTo"):
            for element in header.findall(reply_header, NS):
                address = (element.findtext("wsa:Address", "", NS) or "").strip()
                if address != WSA_ANONYMOUS:
                    raise Refused(
                        f"{reply_header} must be absent or anonymous for a synchronous call",
                        "ITK-WS WS-ADR-06/10",
                    )
        return operation, message_id

    def _security(self, header: etree._Element) -> str:
        security = _only(header, "wsse:Security", "wsse:Security", "ITK-WS WS-SEC-03")
        timestamp = _only(security, "wsu:Timestamp", "wsu:Timestamp", "ITK-WS WS-SEC-04")
        created = _instant(timestamp, "wsu:Created")
        expires = _instant(timestamp, "wsu:Expires")
        self._timestamp_window(created, expires)
        username = _text(
            security, "wsse:UsernameToken/wsse:Username", "wsse:Username", "ITK-WS WS-SEC-02"
        )
        self.seen.username = username
        if self.client_cn is not None and username != self.client_cn:
            self._tolerate(
                f"wsse:Username {username!r} is not the client certificate's CN {self.client_cn!r}",
                "ITK-WS WS-SEC-02/07",
                error_code=ACCESS_DENIED,
            )
        return username

    def _timestamp_window(self, created: dt.datetime, expires: dt.datetime) -> None:
        rule = "ITK-WS WS-SEC-04/05/06"
        if expires <= created:
            raise Refused("wsu:Expires is not after wsu:Created", rule)
        if expires - created > MAX_TIMESTAMP_LIFETIME:
            # WS-SEC-05 recommends Created + 10 minutes; the spec refuses only expired messages.
            self.warnings.append(
                "accepted: the timestamp is valid for more than 10 minutes "
                "(ITK-WS WS-SEC-05 recommends 10)")
        if created > self.now + ALLOWED_CLOCK_SKEW:
            raise Refused(
                f"wsu:Created is more than {ALLOWED_CLOCK_SKEW.seconds} s in the "
                "future: check the clock",
                rule,
            )
        if expires <= self.now:
            raise Refused("the message has expired (wsu:Expires has passed)", rule)

    def _single_child(self, soap_body: etree._Element) -> etree._Element:
        children = xmlsafe.elements(soap_body)
        if len(children) != 1 or children[0].tag != f"{{{xmlsafe.ITK}}}DistributionEnvelope":
            raise Refused("soap:Body must hold exactly one itk:DistributionEnvelope", "spec §5.4")
        return children[0]

    def _distribution_envelope(
        self, de: etree._Element, operation: Operation
    ) -> tuple[str, tuple[AuditId, ...], etree._Element]:
        header = _only(de, "itk:header", "itk:header", "ITK-DE")
        payloads = _only(de, "itk:payloads", "itk:payloads", "ITK-DE")
        if xmlsafe.elements(de) != [header, payloads]:
            raise Refused(
                "itk:DistributionEnvelope must hold itk:header then itk:payloads",
                "distributionEnvelope-v2-0.xsd",
            )
        in_order(
            header,
            ("addresslist", "auditIdentity", "manifest", "senderAddress", "handlingSpecification"),
            xmlsafe.ITK,
            _refuse_de_order,
        )
        if header.get("service") != operation.service:
            raise Refused(
                f"DE service {header.get('service')!r} differs from wsa:Action",
                "ITK-DE COR-DEH-01, spec §2",
            )
        tracking_id = header.get("trackingid", "")
        if not UPPER_UUID.match(tracking_id):
            raise Refused(
                f"DE trackingid {tracking_id!r} is not an upper-case UUID", "ITK-DE COR-DEH-02"
            )
        audit_ids = _audit_identity(header)
        payload_slot = _manifest(header, payloads, operation)
        return tracking_id, audit_ids, payload_slot


def _audit_identity(header: etree._Element) -> tuple[AuditId, ...]:
    rule = "SMSP-AUDIT-002/005, ITK-DE COR-DEH-03/04"
    audit = _only(header, "itk:auditIdentity", "itk:auditIdentity", rule)
    ids = audit.findall("itk:id", NS)
    if not 1 <= len(ids) <= 4 or len(ids) != len(xmlsafe.elements(audit)):
        raise Refused("itk:auditIdentity must hold one to four itk:id", rule)
    for element in ids:
        uri = element.get("uri", "")
        if not _PRINTABLE_ASCII.match(uri):
            raise Refused("each itk:auditIdentity/itk:id needs a printable ASCII uri", rule)
        if element.get("type") == ASID_TYPE and not _ASID.match(uri):
            raise Refused(
                f"audit id {_shown(uri)} has the ASID type but is not an ASID (digits only, "
                "as allocated at endpoint registration)",
                "spec §7.1, AUDIT-GUIDE access method 5",
            )
    return tuple(AuditId(uri=element.get("uri", ""), type=element.get("type")) for element in ids)


def _manifest(
    header: etree._Element, payloads: etree._Element, operation: Operation
) -> etree._Element:
    rule = "DE-PDS, spec §5.4"
    manifest = _only(header, "itk:manifest", "itk:manifest", rule)
    items = manifest.findall("itk:manifestitem", NS)
    slots = payloads.findall("itk:payload", NS)
    if manifest.get("count") != "1" or len(items) != 1 or len(xmlsafe.elements(manifest)) != 1:
        raise Refused('itk:manifest must have count="1" and one manifestitem', rule)
    if payloads.get("count") != "1" or len(slots) != 1 or len(xmlsafe.elements(payloads)) != 1:
        raise Refused('itk:payloads must have count="1" and one payload', rule)
    item, slot = items[0], slots[0]
    if not item.get("id") or item.get("id") != slot.get("id"):
        raise Refused("manifestitem/@id does not match payload/@id", rule)
    _xs_id(slot.get("id", ""), "payload/@id", "distributionEnvelope-v2-0.xsd: payload/@id is an "
           "xs:ID, manifestitem/@id its xs:IDREF")
    if item.get("mimetype") != "text/xml":
        raise Refused("manifestitem/@mimetype must be text/xml", rule)
    profile = item.get("profileid")
    if profile is None:
        raise Refused("Profile ID is missing", "SMSP-DOCS: profileid must be provided")
    if profile != operation.request_profile:
        raise Refused(f"profileid {profile!r} is not {operation.request_profile}", rule)
    if item.get("metadata") is not None or slot.get("filename") is not None:
        raise Refused("manifestitem/@metadata and payload/@filename must not be sent", rule)
    for flag in ("base64", "compressed", "encrypted"):
        if item.get(flag, "false").strip() not in _FALSE:
            raise Refused(f"manifestitem/@{flag} must be false: the payload is plain XML", rule)
    return slot


def _xs_id(value: str, what: str, rule: str) -> None:
    if not _XS_ID.match(value):
        raise Refused(
            f"{what} {_shown(value)} is not an xs:ID (a letter or _ first, no colon or space; "
            "e.g. uuid_ and the UUID)",
            rule,
        )


def _shown(value: str, limit: int = 64) -> str:
    """A client's value quoted in a refusal, bounded."""
    return repr(value if len(value) <= limit else value[:limit] + "...")


def _refuse_de_order(reason: str) -> Exception:
    return Refused(f"itk:header: {reason}", "distributionEnvelope-v2-0.xsd")


def _only(parent: etree._Element, path: str, what: str, rule: str) -> etree._Element:
    found = parent.findall(path, NS)
    if not found:
        raise Refused(f"{what} is missing", rule)
    if len(found) > 1:
        raise Refused(f"{what} appears {len(found)} times", rule)
    return found[0]


def _text(parent: etree._Element, path: str, what: str, rule: str) -> str:
    text = (_only(parent, path, what, rule).text or "").strip()
    if not text:
        raise Refused(f"{what} is empty", rule)
    return text


def _instant(timestamp: etree._Element, path: str) -> dt.datetime:
    rule = "ITK-WS WS-SEC-04/05, spec §5.3"
    text = _text(timestamp, path, path, rule)
    if not _UTC_DATETIME.match(text):
        raise Refused(f"{path} {text!r} is not a UTC time such as 2016-07-27T11:10:23Z", rule)
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise Refused(f"{path} {text!r} is not a real time", rule) from None
