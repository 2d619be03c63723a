"""Build the bytes of one SMSP request from the plain XML templates in templates/ (spec §3, §5).

A request is the SOAP 1.1 envelope of ``envelope.xml`` (WS-Addressing, WS-Security timestamp and
username, ITK Distribution Envelope) with the operation's HL7 payload template placed in
``itk:payload``, optional parts removed from the tree. The tree is filled and serialised by lxml
once for each shape of request (which parts are dropped, which values there are); each request
joins its values, escaped as libxml2 escapes them, into that layout
(:mod:`smsp_cli.adapters.smsp.templating`). lxml itself is only imported by templating, when a
request is built, so importing this module stays cheap.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from smsp_cli.adapters.smsp import templating
from smsp_cli.adapters.smsp.xmlsafe import clark
from smsp_cli.domain.errors import ValidationError
from smsp_cli.domain.ids import UPPER_UUID
from smsp_cli.domain.ids import new_uuid as fresh_upper_uuid
from smsp_cli.fastclasses import dataclass
from smsp_cli.settings.identity import ITK_IDENTITY_TYPE, MAX_AUDIT_IDS, AuditId

if TYPE_CHECKING:
    from smsp_cli.domain.models import Query
    from smsp_cli.domain.operations import Operation

ENVELOPE_TEMPLATE = "envelope.xml"

# ITK-WS WS-SEC-05: Expires is Created + 10 minutes; the host rejects a message outside it.
TIMESTAMP_LIFETIME = dt.timedelta(minutes=10)
# Spec §5.3: UTC to the second with a Z, as in 2016-07-27T11:10:23Z.
_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# Spec §3.1 and §5.4: payload id/@root and DE trackingid must be upper-case hex, no prefix.
# xs:ID values cannot start with a digit, hence the prefix on payload ids (spec §5.4).
_PAYLOAD_ID_PREFIX = "uuid_"
# Anything outside the XML 1.0 Char production cannot be carried at all (lxml refuses it).
# Written as the complement of Char within Unicode: the same code points, and compiled about
# ten times faster than the negated production, on every lookup's start-up.
_NOT_XML_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

_AUDIT_IDENTITY = "soap:Body/itk:DistributionEnvelope/itk:header/itk:auditIdentity"
_SENDER = "soap:Header/wsa:From"
_PAYLOAD_SLOT = "soap:Body/itk:DistributionEnvelope/itk:payloads/itk:payload"
_QUERY_EVENT = f"{_PAYLOAD_SLOT}/hl7:*/hl7:queryEvent"
_PERSON_NAME = f"{_QUERY_EVENT}/hl7:Person.Name/hl7:value"


@dataclass(frozen=True)
class EnvelopeSettings:
    """Per-provider values the envelope carries (spec §5.3, §7.1)."""

    endpoint: str
    username: str
    audit_identity: tuple[AuditId, ...]
    sender_address: str | None = None  # optional wsa:From/wsa:Address

    def __post_init__(self) -> None:
        if not self.endpoint.strip():
            raise ValidationError("endpoint", "must not be blank (it is also wsa:To)")
        if not self.username.strip():
            # WS-SEC-02: the Subject CN of the client certificate.
            raise ValidationError("username", "must not be blank")
        if not 1 <= len(self.audit_identity) <= MAX_AUDIT_IDS:
            # SMSP-AUDIT-005 rejects a DE without one; the DE XSD allows at most four.
            raise ValidationError("audit id", f"give between 1 and {MAX_AUDIT_IDS} ids")
        if self.sender_address is not None and not self.sender_address.strip():
            raise ValidationError("sender address", "must not be blank when given")


@dataclass(frozen=True)
class BuiltRequest:
    """A request ready to POST, and the ids an audit record needs (spec §7.2)."""

    body: bytes  # UTF-8 with XML declaration
    soap_action: str
    message_id: str
    tracking_id: str
    payload_id: str
    created: dt.datetime


@dataclass(frozen=True)
class _Ids:
    message_id: str
    tracking_id: str
    payload_id: str
    request_id: str


def build_request(
    query: Query,
    settings: EnvelopeSettings,
    *,
    now: dt.datetime | None = None,
    new_uuid: Callable[[], str] | None = None,
) -> BuiltRequest:
    """Build the SOAP request for a validated query; ``now`` and ``new_uuid`` are for tests."""
    created = _created_at(now)
    ids = _fresh_ids(fresh_upper_uuid) if new_uuid is None else _fresh_ids(_checked(new_uuid))
    values = _envelope_values(query.operation, settings, ids, created)
    values.update(_payload_values(query, ids.request_id))
    return BuiltRequest(
        body=_layout(query, settings, _xml_safe(values)).render(values),
        # Spec §2: SOAPAction = wsa:Action = DE header/@service = the service URN.
        soap_action=query.operation.service,
        message_id=ids.message_id,
        tracking_id=ids.tracking_id,
        payload_id=ids.payload_id,
        created=created,
    )


# Layouts by the shape of request they serve (see _layout); a handful in any one run.
_layouts: dict[tuple[object, ...], templating.Layout] = {}
_MAX_LAYOUTS = 256


def _layout(query: Query, settings: EnvelopeSettings, values: Mapping[str, str]
            ) -> templating.Layout:
    """The layout for this request: its operation's payload template in itk:payload of the
    envelope template, with the parts it has no value for dropped.

    Laid out once for each shape: what the parts dropped depend on (the query's items, a
    given or family name left out, how many audit ids, a sender address or not) and which
    values there are.
    """
    shape = (query.operation.template, frozenset(values), query.items(),
             query.given is None, query.family is None,
             len(settings.audit_identity), settings.sender_address is None)
    found = _layouts.get(shape)
    if found is None:
        def prune(filled: templating.Filled) -> None:
            _drop_unused_envelope_parts(filled, settings)
            _drop_unused_payload_parts(filled, query)

        template = (ENVELOPE_TEMPLATE, _PAYLOAD_SLOT, query.operation.template)
        found = templating.laid_out(template, shape[1], prune)
        if len(_layouts) >= _MAX_LAYOUTS:
            _layouts.clear()
        _layouts[shape] = found
    return found


def _fresh_ids(new_uuid: Callable[[], str]) -> _Ids:
    # WS-ADR-01/02, COR-DEH-02: every id is new per message and none is reused for another,
    # so a retry built again gets all new ids (spec §5.9).
    return _Ids(
        message_id=new_uuid(),
        tracking_id=new_uuid(),
        payload_id=_PAYLOAD_ID_PREFIX + new_uuid(),
        request_id=new_uuid(),
    )


def _checked(new_uuid: Callable[[], str]) -> Callable[[], str]:
    """A test's ``new_uuid``, its values put in the form ITK requires (ours already are)."""

    def upper_uuid() -> str:
        value = new_uuid().strip().upper()
        if not UPPER_UUID.match(value):
            raise ValueError(f"new_uuid returned {value!r}, which is not a UUID")
        return value

    return upper_uuid


def _created_at(now: dt.datetime | None) -> dt.datetime:
    moment = dt.datetime.now(dt.UTC) if now is None else now
    if moment.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    # Spec §5.3: ITK header timestamps are UTC, whole seconds.
    return moment.astimezone(dt.UTC).replace(microsecond=0)


def _drop_unused_envelope_parts(filled: templating.Filled, settings: EnvelopeSettings) -> None:
    audit_ids = filled.at(_AUDIT_IDENTITY).findall(clark("itk:id"))
    for surplus in audit_ids[len(settings.audit_identity) :]:
        templating.remove(surplus)
    if settings.sender_address is None:
        # WS-ADR-05: hosts must not require wsa:From, so it is only sent when configured.
        templating.remove(filled.at(_SENDER))


def _envelope_values(
    operation: Operation, settings: EnvelopeSettings, ids: _Ids, created: dt.datetime
) -> dict[str, str]:
    values = {
        "message_id": ids.message_id,
        "service": operation.service,
        "endpoint": settings.endpoint,  # WS-ADR-03: wsa:To is the URL the request is POSTed to
        "created": created.strftime(_TIMESTAMP_FORMAT),
        "expires": (created + TIMESTAMP_LIFETIME).strftime(_TIMESTAMP_FORMAT),
        "username": settings.username,
        "tracking_id": ids.tracking_id,
        "payload_id": ids.payload_id,  # one placeholder, so manifestitem/@id == payload/@id
        "profile_id": operation.request_profile,
    }
    if settings.sender_address is not None:
        values["sender_address"] = settings.sender_address
    for number, audit_id in enumerate(settings.audit_identity, start=1):
        values[f"audit_uri_{number}"] = audit_id.uri
        # A None type means the XSD default (ITK identity); it is written out because a
        # receiver parsing without the schema would not apply the default (spec §7.1).
        values[f"audit_type_{number}"] = audit_id.type or ITK_IDENTITY_TYPE
    return values


def _drop_unused_payload_parts(filled: templating.Filled, query: Query) -> None:
    present = set(query.items())
    # Spec §3.1: optional items are omitted; the template already holds them in XSD order.
    for item in query.operation.items:
        if item not in present:
            templating.remove(filled.at(f"{_QUERY_EVENT}/hl7:{item}"))
    # Spec §3.2: given and family are each 0..1 (the family rule is models.py's to enforce).
    if "Person.Name" in present and query.given is None:
        templating.remove(filled.at(f"{_PERSON_NAME}/hl7:given"))
    if "Person.Name" in present and query.family is None:
        templating.remove(filled.at(f"{_PERSON_NAME}/hl7:family"))


def _payload_values(query: Query, request_id: str) -> dict[str, str]:
    optional = {
        "gender_code": query.gender.value if query.gender else None,
        "local_id_root": query.local_id.root if query.local_id else None,
        "local_id": query.local_id.extension if query.local_id else None,
        "nhs_number": query.nhs_number,
        "given": query.given,
        "family": query.family,
        "postcode": query.postcode,
    }
    values = {"request_id": request_id, "dob": query.dob.hl7()}
    values.update({name: value for name, value in optional.items() if value is not None})
    return values


def _xml_safe(values: Mapping[str, str]) -> Mapping[str, str]:
    if not _NOT_XML_CHAR.search("".join(values.values())):
        return values  # the usual request: one search over every value at once
    for name, value in values.items():
        if _NOT_XML_CHAR.search(value):
            raise ValidationError(_field_label(name), "contains a character XML cannot carry")
    return values


def _field_label(placeholder: str) -> str:
    # The names models.py and identity.py use for the same fields, so errors read alike.
    if placeholder.startswith("audit_"):
        return "audit id"
    labels = {"given": "given name", "family": "family name", "local_id": "local id"}
    return labels.get(placeholder, placeholder.replace("_", " "))
