"""The sandbox's patients as PDS FHIR holds them: the SMSP sandbox's one table, a FHIR front.

Each scenario of :data:`smsp_cli.sandbox.patients.SCENARIOS` becomes the FHIR outcome that
stands for it (the README's PDS FHIR table lists them):

* found, minimal, cached, response-invalid: the record; sensitive: restricted (``meta.security``
  R, address, telecom and GP withheld); deceased: ``deceasedDateTime``;
* superseded: a read of the old number answers the record under its new one;
* invalidated: 404 INVALIDATED_RESOURCE; multiple-match: a search answers TOO_MANY_MATCHES;
* not-verified: PDS holds another birth date than the one users have (year and month off), so
  smsp's verification rule refuses it;
* retryable-fault: a 429 for the first attempt of each X-Request-ID, then the record;
* spine-down: 503 SERVICE_UNAVAILABLE; provider-error, spine-error, fatal-fault: 500;
* access-denied, credentials-rejected: 403 ACCESS_DENIED; input-rejected, invalid-message,
  old-style-number: 400 INVALID_VALUE.
"""

from __future__ import annotations

from typing import Any

from smsp_cli.domain.results import Address, Patient, Telecom
from smsp_cli.sandbox.patients import SandboxPatient

ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
_GENDERS = {"male": "male", "female": "female", "not-known": "unknown",
            "not-specified": "other"}
_ADDRESS_USES = {"home": "home", "temporary": "temp", "correspondence": "billing"}
# The sandbox holds telecom uses in smsp's words (smsp_cli.domain.results.TELECOM_USES).
_TELECOM_USES = {"home": "home", "primary-home": "home", "mobile": "mobile", "work": "work",
                 "temporary": "temp"}

# scenario -> (HTTP status, Spine error code) answered instead of the record.
ERRORS: dict[str, tuple[int, str]] = {
    "invalidated": (404, "INVALIDATED_RESOURCE"),
    "spine-down": (503, "SERVICE_UNAVAILABLE"),
    "provider-error": (500, "UNKNOWN_ERROR"),
    "spine-error": (500, "UNKNOWN_ERROR"),
    "fatal-fault": (500, "UNKNOWN_ERROR"),
    "access-denied": (403, "ACCESS_DENIED"),
    "credentials-rejected": (403, "ACCESS_DENIED"),
    "input-rejected": (400, "INVALID_VALUE"),
    "invalid-message": (400, "INVALID_VALUE"),
    "old-style-number": (400, "INVALID_VALUE"),
}
RATE_LIMITED_ONCE = "retryable-fault"


def resource(sandbox: SandboxPatient, *, reduced: bool = False) -> dict[str, Any]:
    """The Patient resource PDS FHIR would answer for this record."""
    patient = sandbox.patient
    restricted = sandbox.sensitive
    record: dict[str, Any] = {
        "resourceType": "Patient",
        "id": patient.nhs_number,
        "identifier": [{"system": NHS_NUMBER_SYSTEM, "value": patient.nhs_number}],
        "meta": {
            "versionId": "2",
            "security": [{
                "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                "code": "R" if restricted else "U",
                "display": "restricted" if restricted else "unrestricted",
            }],
        },
        "name": [_name(patient)],
        "gender": _GENDERS.get(patient.gender or "", "unknown"),
        "birthDate": _birth_date(sandbox),
    }
    if patient.death_date:
        record["deceasedDateTime"] = f"{patient.death_date}T00:00:00+00:00"
    if restricted:
        return record  # PDS withholds address, telecom and GP of a restricted record
    addresses = [_address(a) for a in patient.addresses if not reduced or a.use == "home"]
    if addresses:
        record["address"] = addresses
    if patient.telecoms and not reduced:
        record["telecom"] = [_telecom(t) for t in patient.telecoms]
    practice = patient.gp_practice
    if practice is not None and practice.code:
        record["generalPractitioner"] = [{
            "id": "254406A3",
            "type": "Organization",
            "identifier": {"system": ODS_SYSTEM, "value": practice.code,
                           "period": {"start": "2020-01-01"}},
        }]
    return record


def _name(patient: Patient) -> dict[str, Any]:
    name: dict[str, Any] = {"id": "123", "use": "usual", "period": {"start": "2010-01-01"}}
    if patient.given_names:
        name["given"] = list(patient.given_names)
    if patient.family_name is not None:
        name["family"] = patient.family_name
    if patient.title:
        name["prefix"] = [patient.title]
    return name


def _birth_date(sandbox: SandboxPatient) -> str | None:
    text = sandbox.patient.birth_date
    if sandbox.scenario != "not-verified" or not text or len(text) != 10:
        return text
    # PDS holds another date than the one the user has: year and month off, day the same.
    year, month, day = int(text[:4]), int(text[5:7]), text[8:]
    return f"{year - 1:04d}-{month % 12 + 1:02d}-{day}"


def _address(address: Address) -> dict[str, Any]:
    found: dict[str, Any] = {"period": {"start": "2015-01-01"}, "line": list(address.lines)}
    if address.use:
        found["use"] = _ADDRESS_USES.get(address.use, address.use)
    if address.postcode:
        found["postalCode"] = address.postcode
    return found


def _telecom(telecom: Telecom) -> dict[str, Any]:
    scheme, _, value = telecom.value.partition(":")
    system = "email" if scheme == "mailto" else "phone"
    found: dict[str, Any] = {"period": {"start": "2015-01-01"}, "system": system,
                             "value": value or telecom.value}
    if telecom.use:
        found["use"] = _TELECOM_USES.get(telecom.use, "home")
    return found


def operation_outcome(code: str, *, severity: str = "error", diagnostics: str | None = None,
                      display: str | None = None) -> dict[str, Any]:
    """An OperationOutcome shaped as the official sandbox's error bodies."""
    issue: dict[str, Any] = {
        "severity": severity,
        "code": _ISSUE_TYPES.get(code, "processing"),
        "details": {"coding": [{
            "system": "https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode",
            "version": "1",
            "code": code,
            "display": display or code.replace("_", " ").capitalize(),
        }]},
    }
    if diagnostics:
        issue["diagnostics"] = diagnostics
    return {"resourceType": "OperationOutcome", "issue": [issue]}


_ISSUE_TYPES = {
    "RESOURCE_NOT_FOUND": "not-found",
    "INVALIDATED_RESOURCE": "not-found",
    "ACCESS_DENIED": "forbidden",
    "TOO_MANY_MATCHES": "multiple-matches",
    "INVALID_RESOURCE_ID": "value",
    "INVALID_VALUE": "value",
    "MISSING_VALUE": "required",
    "INVALID_SEARCH_DATA": "value",
    "TOO_MANY_REQUESTS": "throttled",
    "SERVICE_UNAVAILABLE": "transient",
    "UNKNOWN_ERROR": "exception",
}


def bundle(resources: list[dict[str, Any]], base: str) -> dict[str, Any]:
    """A searchset Bundle of the matches."""
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": "2026-01-01T00:00:00+00:00",
        "total": len(resources),
        "entry": [{"fullUrl": f"{base}/Patient/{item['id']}", "search": {"score": 1},
                   "resource": item} for item in resources],
    }
