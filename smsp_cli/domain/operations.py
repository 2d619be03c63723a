"""The one table of the five SMSP PDS operations (spec §2, §3.3).

The operations differ only by the data here; envelope building, the sandbox and rendering all
read this table instead of carrying five copies of the same code.
"""

from __future__ import annotations

from enum import Enum

from smsp_cli.fastclasses import dataclass

SERVICE_PREFIX = "urn:nhs-itk:services:201005:"
PROFILE_PREFIX = "urn:nhs-en:profile:"


class DobResolution(Enum):
    """Which date-of-birth precisions an operation accepts (TS.NHS.TimestampType1 or Type4)."""

    FULL_ONLY = "YYYYMMDD"
    ANY = "YYYYMMDD, YYYYMM or YYYY"


class ReplyKind(Enum):
    """The three response payload shapes (spec §3.5-3.7): what kind of reply, not the reply.

    The reply itself, as read, is :class:`smsp_cli.domain.results.Reply`.
    """

    VERIFY = "verifyNHSNumberResponse-v1-0"
    NHS_NUMBER = "getNHSNumberResponse-v1-0"
    PATIENT_DETAILS = "getPatientDetailsResponse-v1-0"


# queryEvent items, in the XSD sequence order shared by every request schema (spec §3.1).
ITEM_ORDER = (
    "Person.DateOfBirth",
    "Person.Gender",
    "Person.LocalIdentifier",
    "Person.NHSNumber",
    "Person.Name",
    "Person.Postcode",
)


@dataclass(frozen=True)
class Operation:
    """Everything that distinguishes one SMSP PDS operation from another."""

    command: str  # the smsp sub-command
    name: str  # the WSDL operation name, e.g. "verifyNHSNumber"
    request_root: str  # HL7 payload root element
    request_code: str  # payload code/@code
    reply: ReplyKind  # the reply payload this operation answers with
    schema: str  # QUPA message type of the request payload
    items: tuple[str, ...]  # queryEvent items allowed, in XSD order
    required: frozenset[str]  # items that must be present
    dob_resolution: DobResolution
    wildcards: bool  # '*' allowed in names and postcode (spec §3.3)
    name_type3: bool  # PN.NHS.PersonNameType3: no @use, family mandatory

    @property
    def service(self) -> str:
        """Service URN = SOAPAction = wsa:Action = DE header/@service."""
        return f"{SERVICE_PREFIX}{self.name}-v1-0"

    @property
    def response_service(self) -> str:
        """The Action and DE service a reply carries (ITK-WS WS-ADR-04 (2))."""
        return f"{self.service}Response"

    @property
    def request_profile(self) -> str:
        """manifestitem/@profileid of the request."""
        return f"{PROFILE_PREFIX}{self.request_code}"

    @property
    def response_profile(self) -> str:
        """manifestitem/@profileid of the reply."""
        return f"{PROFILE_PREFIX}{self.reply.value}"

    @property
    def template(self) -> str:
        """File name of the payload template in templates/."""
        return f"{self.name}.xml"


def _ordered(*items: str) -> tuple[str, ...]:
    return tuple(item for item in ITEM_ORDER if item in items)


VERIFY = Operation(
    command="verify",
    name="verifyNHSNumber",
    request_root="verifyNHSNumberRequest-v1-0",
    request_code="verifyNHSNumberRequest-v1-0",
    reply=ReplyKind.VERIFY,
    schema="QUPA_MT000001GB01",
    items=_ordered("Person.DateOfBirth", "Person.NHSNumber", "Person.Name"),
    required=frozenset({"Person.DateOfBirth", "Person.NHSNumber"}),
    dob_resolution=DobResolution.FULL_ONLY,
    wildcards=False,
    name_type3=False,
)

TRACE = Operation(
    command="trace",
    name="getNHSNumber",
    request_root="getNHSNumberRequest-v1-0",
    request_code="getNHSNumberRequest-v1-0",
    reply=ReplyKind.NHS_NUMBER,
    schema="QUPA_MT000002GB01",
    items=_ordered(
        "Person.DateOfBirth",
        "Person.Gender",
        "Person.LocalIdentifier",
        "Person.Name",
        "Person.Postcode",
    ),
    required=frozenset({"Person.DateOfBirth", "Person.Gender", "Person.Name"}),
    dob_resolution=DobResolution.ANY,
    wildcards=True,
    name_type3=True,
)

GET = Operation(
    command="get",
    name="getPatientDetailsByNHSNumber",
    request_root="getPatientDetailsByNHSNumberRequest-v1-0",
    request_code="getPatientDetailsByNHSNumberRequest-v1-0",
    reply=ReplyKind.PATIENT_DETAILS,
    schema="QUPA_MT000003GB01",
    items=_ordered(
        "Person.DateOfBirth", "Person.LocalIdentifier", "Person.NHSNumber", "Person.Name"
    ),
    required=frozenset({"Person.DateOfBirth", "Person.NHSNumber"}),
    dob_resolution=DobResolution.FULL_ONLY,
    wildcards=False,
    name_type3=False,
)

SEARCH = Operation(
    command="search",
    name="getPatientDetailsBySearch",
    request_root="getPatientDetailsBySearchRequest-v1-0",
    request_code="getPatientDetailsBySearchRequest-v1-0",
    reply=ReplyKind.PATIENT_DETAILS,
    schema="QUPA_MT000004GB01",
    items=_ordered(
        "Person.DateOfBirth",
        "Person.Gender",
        "Person.LocalIdentifier",
        "Person.Name",
        "Person.Postcode",
    ),
    required=frozenset({"Person.DateOfBirth", "Person.Gender", "Person.Name"}),
    dob_resolution=DobResolution.FULL_ONLY,
    wildcards=True,
    name_type3=True,
)

DETAILS = Operation(
    command="details",
    name="getPatientDetails",
    # The root is not "...Request-v1-0" for this one operation (spec §2).
    request_root="getPatientDetails-v1-0",
    request_code="getPatientDetailsRequest-v1-0",
    reply=ReplyKind.PATIENT_DETAILS,
    schema="QUPA_MT000005GB01",
    items=ITEM_ORDER,
    required=frozenset({"Person.DateOfBirth"}),
    dob_resolution=DobResolution.FULL_ONLY,
    # Wildcards only in the search mode (no NHS number); models.py enforces the mode rule.
    wildcards=True,
    name_type3=False,
)

ALL: tuple[Operation, ...] = (VERIFY, GET, SEARCH, TRACE, DETAILS)
BY_NAME: dict[str, Operation] = {op.name: op for op in ALL}
BY_SERVICE: dict[str, Operation] = {op.service: op for op in ALL}
BY_COMMAND: dict[str, Operation] = {op.command: op for op in ALL}
