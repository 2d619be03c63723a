"""Typed results of an SMSP call: frozen dataclasses that renderers work from generically.

Blank and absent are kept apart throughout: ``""`` means the provider sent the element empty
(PDS holds a blank), ``None`` means the element was not there (spec §3.7).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import field
from typing import TYPE_CHECKING

from smsp_cli.fastclasses import dataclass

if TYPE_CHECKING:
    from smsp_cli.domain.operations import Operation

ADDRESS_USES = {"H": "home", "TMP": "temporary", "PST": "correspondence"}

# HL7 v3 TelecommunicationAddressUse codes (spec §3.7) as the words JSON carries: a public
# contract, listed in the README. A code smsp does not know is kept as sent.
TELECOM_USES = {
    "H": "home",
    "HP": "primary-home",
    "HV": "vacation-home",
    "WP": "work",
    "DIR": "direct",
    "PUB": "public",
    "BAD": "bad",
    "TMP": "temporary",
    "AS": "answering-service",
    "EC": "emergency-contact",
    "MC": "mobile",
    "PG": "pager",
}


def telecom_use_words(use: str | None) -> str | None:
    """``H`` -> ``home``, ``H MC`` -> ``home mobile``; unknown codes kept as sent."""
    if use is None:
        return None
    codes = use.split()
    if not codes:
        return use
    return " ".join(TELECOM_USES.get(code, code) for code in codes)


@dataclass(frozen=True)
class Address:
    """A postal address: use (home, temporary, correspondence, or the raw code), lines, postcode."""

    use: str | None
    lines: tuple[str, ...]
    postcode: str | None


@dataclass(frozen=True)
class Telecom:
    """A telephone number or email address exactly as PDS holds it (e.g. ``tel:...``).

    ``use`` is in words (``home``, ``mobile``: :data:`TELECOM_USES`) once read from a reply.
    """

    use: str | None
    value: str


@dataclass(frozen=True)
class GpPractice:
    """The patient's registered GP practice."""

    code: str | None
    name: str | None
    address: Address | None
    telephone: str | None


@dataclass(frozen=True)
class Patient:
    """A patient as getPatientDetailsResponse carries one (spec §3.7)."""

    nhs_number: str | None
    local_identifier: str | None = None
    title: str | None = None
    given_names: tuple[str, ...] = ()
    family_name: str | None = None
    gender: str | None = None  # male | female | not-known | not-specified, or the raw code
    birth_date: str | None = None  # YYYY-MM-DD, YYYY-MM or YYYY
    death_date: str | None = None
    addresses: tuple[Address, ...] = ()
    telecoms: tuple[Telecom, ...] = ()
    gp_practice: GpPractice | None = None
    # True or False when the API says whether the record is restricted (PDS FHIR's
    # meta.security R); None when it cannot say, as SMSP cannot.
    restricted: bool | None = None
    # What a record held only ended entries of, and when the last ended, e.g.
    # (("address", "2021-12-31"),): the table says "none current (the last ended on ...)".
    ended_only: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class FhirExchange:
    """What PDS FHIR said besides the record: for the JSON's ``fhir`` object."""

    http_status: int | None = None
    issue_code: str | None = None  # OperationOutcome issue details code, e.g. RESOURCE_NOT_FOUND
    diagnostics: str | None = None
    request_id: str | None = None  # the X-Request-ID sent, mirrored by the reply
    version_id: str | None = None  # the record's meta.versionId (its ETag)


@dataclass(frozen=True)
class Fault:
    """A SOAP 1.1 fault with its ITK ToolkitErrorInfo detail (spec §5.7)."""

    faultcode: str
    faultstring: str
    error_code: str | None = None
    error_text: str | None = None
    error_id: str | None = None
    diagnostic: str | None = None
    actor: str | None = None  # faultactor: the URL of the faulting node, when given


@dataclass(frozen=True)
class Reply:
    """What a provider answered to one request, before any judgement of the outcome.

    ``kind`` is the reply payload root (verifyNHSNumberResponse-v1-0, getNHSNumberResponse-v1-0
    or getPatientDetailsResponse-v1-0). ``payload`` is the reply payload serialised, for
    ``--output xml``: ``serialise_payload`` makes it on first use, since no other output needs
    it (it takes no part in equality).
    """

    kind: str
    response_code: str
    message_id: str | None = None  # the reply's own wsa:MessageID
    verified: bool | None = None  # verify only: validIdentifier/value
    nhs_number: str | None = None  # verify and trace
    local_identifier: str | None = None  # trace
    patient: Patient | None = None  # get, search, details
    # What the correlation rule (smsp_cli/domain/correlation.py) checks. ``relates_to``: the
    # ids of the request the reply says it answers (SMSP wsa:RelatesTo; none when omitted).
    # ``nhs_numbers``: every NHS number the payload carries, in document order.
    # ``records``: how many patient records the payload holds; None when the adapter did not
    # count them (the rule then counts ``patient`` or ``nhs_number``).
    relates_to: tuple[str, ...] = ()
    nhs_numbers: tuple[str, ...] = ()
    records: int | None = None
    serialise_payload: Callable[[], bytes] = field(default=bytes, repr=False, compare=False)

    @functools.cached_property
    def payload(self) -> bytes:
        """The reply payload as XML bytes (empty when there is none)."""
        return self.serialise_payload()


@dataclass(frozen=True)
class Outcome:
    """A reply judged for the user: its code's text, warnings and exit code."""

    operation: Operation  # the operation that was asked (its name is the WSDL operation's)
    reply: Reply
    response_text: str
    exit_code: int
    message_id: str  # the MessageID we sent
    warnings: tuple[str, ...] = field(default=())
    # The same warnings as stderr prints them: never the patient's NHS number, names or date of
    # birth (the new number of DEMOG-0017 is in the output, not on stderr).
    stderr_warnings: tuple[str, ...] = field(default=())
    synthetic: bool = False  # answered by the embedded sandbox
    environment: str = "live"  # live, test or sandbox: so test data never passes for live
    api: str = "smsp"  # smsp or fhir: which API answered
    fhir: FhirExchange | None = None  # PDS FHIR only
    superseded_nhs_number: str | None = None  # DEMOG-0017: the number that was asked for
    warning_codes: tuple[str, ...] = field(default=())  # stable codes of the warnings
    # verify only: the verdict of smsp_cli/domain/verdict.py (None: unknown or not checked),
    # and the words the table shows for it.
    verified: bool | None = None
    verification: str = ""
    # Every attempt's MessageID, in order (the last is ``message_id``); empty when not known.
    message_ids: tuple[str, ...] = field(default=())
