"""The HTTP requests PDS FHIR is asked (pds-fhir §2): a read, or a single-match search.

Every request carries a fresh X-Request-ID (a UUID; the JSON's ``message_id``), kept for each
retry of that request as the API asks, ``Accept: application/fhir+json``, the bearer token, and
the ODS header when set. Application-restricted access allows ``_max-results=1`` only.
"""

from __future__ import annotations

import calendar
from dataclasses import field

from smsp_cli.domain.ids import random_uuid
from smsp_cli.domain.models import Gender, PartialDate, Query
from smsp_cli.fastclasses import dataclass

ACCEPT = "application/fhir+json"
ODS_HEADER = "NHSD-End-User-Organisation-ODS"
NOT_REQUESTED = "[not requested]"  # the token's place in a dry run

# FHIR administrative gender for smsp's genders (the search parameter).
FHIR_GENDERS = {
    Gender.MALE: "male",
    Gender.FEMALE: "female",
    Gender.NOT_KNOWN: "unknown",
    Gender.NOT_SPECIFIED: "other",
}


@dataclass(frozen=True)
class FhirRequest:
    """One request to send: the same X-Request-ID on every attempt of it."""

    method: str
    url: str
    params: tuple[tuple[str, str], ...]
    message_id: str  # X-Request-ID
    ods_code: str | None = None
    kind: str = "read"  # read | search
    tracking_id: str = field(default="", compare=False)  # the audit trail's field; = message_id
    body: bytes = field(default=b"", compare=False)  # a GET sends none

    def headers(self, token: str) -> dict[str, str]:
        """The headers of one attempt, with ``token`` as the bearer."""
        headers = {
            "Accept": ACCEPT,
            "Authorization": f"Bearer {token}",
            "X-Request-ID": self.message_id,
        }
        if self.ods_code:
            headers[ODS_HEADER] = self.ods_code
        return headers


def new_request_id() -> str:
    """A fresh X-Request-ID."""
    return random_uuid()


def read(endpoint: str, nhs_number: str, *, ods_code: str | None = None,
         request_id: str | None = None) -> FhirRequest:
    """GET /Patient/{nhs}."""
    rid = request_id or new_request_id()
    return FhirRequest("GET", f"{endpoint}/Patient/{nhs_number}", (), rid, ods_code, "read",
                       rid)


def search(endpoint: str, query: Query, *, ods_code: str | None = None,
           request_id: str | None = None) -> FhirRequest:
    """GET /Patient?family=&given=&gender=&birthdate=...&_max-results=1[&_exact-match=true]."""
    params: list[tuple[str, str]] = []
    if query.family is not None:
        params.append(("family", query.family))
    if query.given is not None:
        params.append(("given", query.given))
    if query.gender is not None:
        params.append(("gender", FHIR_GENDERS[query.gender]))
    params += birthdate_params(query.dob)
    if query.postcode is not None:
        params.append(("address-postalcode", query.postcode))
    # pds-fhir §2: the application-restricted proxy allows one result and 403s any other.
    params.append(("_max-results", "1"))
    wildcard = any("*" in (v or "") for v in (query.family, query.given, query.postcode))
    if not wildcard:
        params.append(("_exact-match", "true"))
    rid = request_id or new_request_id()
    return FhirRequest("GET", f"{endpoint}/Patient", tuple(params), rid, ods_code, "search",
                       rid)


def birthdate_params(dob: PartialDate) -> list[tuple[str, str]]:
    """``eqYYYY-MM-DD`` for a full date; a ``ge``/``le`` range for a year or a month."""
    if dob.is_full:
        return [("birthdate", f"eq{dob.iso()}")]
    first_month = dob.month or 1
    last_month = dob.month or 12
    last_day = calendar.monthrange(dob.year, last_month)[1]
    return [
        ("birthdate", f"ge{dob.year:04d}-{first_month:02d}-01"),
        ("birthdate", f"le{dob.year:04d}-{last_month:02d}-{last_day:02d}"),
    ]
