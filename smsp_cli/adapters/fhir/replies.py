"""What PDS FHIR sent back, bounded and checked, read into one :class:`FhirAnswer` or an error.

The checks, in order, so each reply has one explanation: the mirrored X-Request-ID; the
content type (JSON, or nothing usable); the JSON itself (size already capped by the
transport, then depth and node count); the resource type; then the HTTP status and the
OperationOutcome's code decide (pds-fhir §4):

* 200 Patient or Bundle: a record, or the search's matches;
* 200 OperationOutcome TOO_MANY_MATCHES: several matches (DEMOG-0007);
* 404 RESOURCE_NOT_FOUND: no match (DEMOG-0001); 404 INVALIDATED_RESOURCE: DEMOG-0022;
* 400, 401, 403 and other 4xx: ``ProviderRejected`` (exit 3); 401 is marked so the caller can
  sign in again once;
* 408, 429, 5xx: ``ProviderFailed`` with the status, which the retry policy retries.

Text from the reply reaches a person only through the sanitiser (:func:`quote`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import field
from typing import Any

from smsp_cli.domain import errors
from smsp_cli.fastclasses import dataclass
from smsp_cli.untrusted.bounds import escaped_within
from smsp_cli.untrusted.sanitize import mask_identifiers

MAX_DEPTH = 32  # a Patient nests about 8 deep; anything far deeper is no PDS record
MAX_NODES = 50_000  # values in one reply
MAX_STRING = 64 * 1024  # characters in any one value
# `,` `:` and `[` in the raw reply, counted before it is parsed: every JSON value but the first
# follows one of them, and every key follows `{` or `,`, so this bounds the objects the parser
# can build (a 10 MiB reply of `[{},{},...]` would build 3.5 million dicts, over 500 MiB).
# A PDS Patient has a few hundred; four for each of MAX_NODES values leaves room for the
# colons of URLs and timestamps inside strings, which are counted too.
MAX_SEPARATORS = 4 * MAX_NODES
# Bytes between two double quotes, counted before parsing too: a string longer than
# MAX_STRING characters spans at least that many bytes (12 for a character escaped as a
# surrogate pair), so a longer run is a value the shape check would refuse once built.
MAX_UNQUOTED_RUN = 12 * MAX_STRING
# Every string is a value or a key, and each key names one of the values: so a reply within
# MAX_NODES holds at most 2 x 2 x MAX_NODES double quotes (an escaped one in a string is rare).
MAX_QUOTES = 4 * MAX_NODES
_JSON_TYPES = ("application/fhir+json", "application/json")

NOT_FOUND = "RESOURCE_NOT_FOUND"
INVALIDATED = "INVALIDATED_RESOURCE"
TOO_MANY_MATCHES = "TOO_MANY_MATCHES"


@dataclass(frozen=True)
class FhirAnswer:
    """A reply that is an answer: a record, a search's matches, or a business outcome."""

    http_status: int
    resource_type: str  # Patient | Bundle | OperationOutcome
    resource: Mapping[str, Any] = field(repr=False)
    issue_code: str | None = None
    diagnostics: str | None = None
    request_id: str | None = None
    # The certificate the server presented (DER), which alone says whether the embedded
    # sandbox answered (smsp_cli.sandbox.provenance); set by the caller, never from the reply.
    server_certificate: bytes | None = field(default=None, repr=False)

    @property
    def patients(self) -> list[Mapping[str, Any]]:
        """The Patient resources of a Bundle (or the Patient itself)."""
        if self.resource_type == "Patient":
            return [self.resource]
        entries = self.resource.get("entry") or []
        if not isinstance(entries, list):
            raise errors.ProviderFailed("PDS FHIR sent a Bundle whose entry is not a list")
        found: list[Mapping[str, Any]] = []
        for entry in entries:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict) or resource.get("resourceType") != "Patient":
                raise errors.ProviderFailed("PDS FHIR sent a Bundle entry that is not a Patient")
            found.append(resource)
        return found


class FhirRejected(errors.ProviderRejected):
    """PDS FHIR refused the request (4xx); ``unauthorised`` for a 401 (token not accepted)."""

    def __init__(self, message: str, *, http_status: int, issue_code: str | None,
                 diagnostics: str | None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint, http_status=http_status)
        self.issue_code = issue_code
        self.diagnostics = diagnostics

    @property
    def unauthorised(self) -> bool:
        """A 401: the token was missing, invalid or expired."""
        return self.http_status == 401


class FhirFailed(errors.ProviderFailed):
    """PDS FHIR failed, or answered unusably (exit 4)."""

    def __init__(self, message: str, *, http_status: int | None, issue_code: str | None = None,
                 diagnostics: str | None = None, retry_after: float | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint, http_status=http_status)
        self.issue_code = issue_code
        self.diagnostics = diagnostics
        self.retry_after = retry_after


def parse(
    status: int, headers: Mapping[str, str], body: bytes, *, request_id: str
) -> FhirAnswer:
    """Check and read one reply; raise the SmspError it means (see the module docstring)."""
    mirrored = _header(headers, "x-request-id")
    if mirrored is not None and mirrored != request_id:
        raise FhirFailed("PDS FHIR answered another request: its X-Request-ID is not the one "
                         "sent", http_status=status, hint="the reply was not used")
    document = _document(status, headers, body)
    if document is None:
        raise _status_error(status, headers, None, None, "a body that is not FHIR JSON")
    resource_type = document.get("resourceType")
    issue_code, diagnostics = _issue(document) if resource_type == "OperationOutcome" else (
        None, None)
    if status == 200 and resource_type in ("Patient", "Bundle"):
        return FhirAnswer(status, str(resource_type), document, request_id=mirrored)
    if resource_type != "OperationOutcome":
        what = f"a {quote(str(resource_type))} resource" if resource_type else "JSON"
        raise _status_error(status, headers, None, None, f"{what}, not a Patient, Bundle or "
                            "OperationOutcome")
    if (status == 200 and issue_code == TOO_MANY_MATCHES) or (
        status == 404 and issue_code in (NOT_FOUND, INVALIDATED)
    ):
        return FhirAnswer(status, "OperationOutcome", document, issue_code, diagnostics,
                          mirrored)
    if status == 200:
        raise FhirFailed(
            f"PDS FHIR answered with an OperationOutcome ({quote(issue_code or 'no code')}) "
            f"instead of a record: {quote(diagnostics or 'no diagnostics')}",
            http_status=status, issue_code=issue_code, diagnostics=diagnostics,
            hint="the provider has no answer for this request (a sandbox without a scenario?)",
        )
    raise _status_error(status, headers, issue_code, diagnostics, "an OperationOutcome")


def _document(status: int, headers: Mapping[str, str], body: bytes) -> dict[str, Any] | None:
    if not body.strip():
        return None
    media = (_header(headers, "content-type") or "").split(";", 1)[0].strip().lower()
    if media not in _JSON_TYPES:
        if 200 <= status < 300:
            shown = quote(media) if media else "no content type"
            raise errors.UnsafeReply(f"PDS FHIR reply (HTTP {status}) refused: {shown}, not "
                                     "application/fhir+json", hint="the reply was not used")
        return None
    separators = body.count(b",") + body.count(b":") + body.count(b"[")
    if separators > MAX_SEPARATORS:
        raise errors.UnsafeReply(
            f"PDS FHIR reply (HTTP {status}) refused: JSON with more than {MAX_SEPARATORS:,} "
            "separators (`,` `:` `[`), too many values to read", hint="the reply was not used")
    _check_strings(body, status)
    try:
        document = json.loads(body)
    except RecursionError:
        raise errors.UnsafeReply(f"PDS FHIR reply (HTTP {status}) refused: JSON nested too "
                                 "deeply", hint="the reply was not used") from None
    except ValueError:
        if 200 <= status < 300:
            raise errors.UnsafeReply(f"PDS FHIR reply (HTTP {status}) refused: not valid JSON",
                                     hint="the reply was not used") from None
        return None
    _check_shape(document, status)
    return document if isinstance(document, dict) else None


def _check_strings(body: bytes, status: int) -> None:
    """Strings within bounds on the raw bytes, before any is built, or UnsafeReply."""
    if body.count(b'"') > MAX_QUOTES:
        raise errors.UnsafeReply(
            f"PDS FHIR reply (HTTP {status}) refused: JSON with more than {MAX_QUOTES:,} double "
            "quotes, too many strings to read", hint="the reply was not used")
    start = 0
    while start <= len(body):  # at most MAX_QUOTES + 1 runs
        quote = body.find(b'"', start)
        end = len(body) if quote < 0 else quote
        if end - start > MAX_UNQUOTED_RUN:
            raise errors.UnsafeReply(
                f"PDS FHIR reply (HTTP {status}) refused: JSON with more than "
                f"{MAX_UNQUOTED_RUN:,} bytes between two double quotes, a value too long to "
                "read", hint="the reply was not used")
        if quote < 0:
            return
        start = quote + 1


def _check_shape(document: object, status: int) -> None:
    """Depth, node count and string length within bounds, or UnsafeReply."""
    stack: list[tuple[object, int]] = [(document, 1)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if depth > MAX_DEPTH or nodes > MAX_NODES:
            what = f"nested deeper than {MAX_DEPTH}" if depth > MAX_DEPTH else (
                f"more than {MAX_NODES:,} values")
            raise errors.UnsafeReply(f"PDS FHIR reply (HTTP {status}) refused: JSON {what}",
                                     hint="the reply was not used")
        if isinstance(value, dict):
            for key, item in value.items():
                if len(key) > MAX_STRING:
                    raise _long(status)
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str) and len(value) > MAX_STRING:
            raise _long(status)


def _long(status: int) -> errors.UnsafeReply:
    return errors.UnsafeReply(f"PDS FHIR reply (HTTP {status}) refused: a value longer than "
                              f"{MAX_STRING:,} characters", hint="the reply was not used")


def _issue(document: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The first issue's Spine error code and diagnostics."""
    issues = document.get("issue")
    first = issues[0] if isinstance(issues, list) and issues else None
    if not isinstance(first, dict):
        return None, None
    code = None
    details = first.get("details")
    codings = details.get("coding") if isinstance(details, dict) else None
    if isinstance(codings, list) and codings and isinstance(codings[0], dict):
        found = codings[0].get("code")
        code = found if isinstance(found, str) else None
    diagnostics = first.get("diagnostics")
    return code, diagnostics if isinstance(diagnostics, str) else None


_RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})
_HINTS = {
    401: "the access token was not accepted; check the application's access to this API",
    403: "access denied: check the application is approved for application-restricted "
         "access to PDS FHIR",
    429: "the application's rate limit was reached (5 a second by default); lower rate_limit",
}


def _status_error(status: int, headers: Mapping[str, str], issue_code: str | None,
                  diagnostics: str | None, what: str) -> errors.SmspError:
    import http

    phrase = ""
    with contextlib.suppress(ValueError):
        phrase = " " + http.HTTPStatus(status).phrase
    said = f" {quote(issue_code)}" if issue_code else ""
    if diagnostics:
        said += f": {quote(diagnostics)}"
    if 400 <= status < 500 and status not in _RETRYABLE:
        return FhirRejected(f"PDS FHIR rejected the request: HTTP {status}{phrase}{said}"
                            + ("" if said else f" with {what}"),
                            http_status=status, issue_code=issue_code, diagnostics=diagnostics,
                            hint=_HINTS.get(status))
    verb = "answered unusably" if 200 <= status < 300 else "failed"
    return FhirFailed(f"PDS FHIR {verb}: HTTP {status}{phrase}{said}"
                      + ("" if said else f" with {what}"),
                      http_status=status, issue_code=issue_code, diagnostics=diagnostics,
                      retry_after=retry_after(headers) if status in _RETRYABLE else None,
                      hint=_HINTS.get(status))


def retry_after(headers: Mapping[str, str]) -> float | None:
    """A Retry-After of seconds (or an HTTP date), capped at 60 s; None when absent or bad."""
    value = (_header(headers, "retry-after") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return min(float(value), 60.0)
    import email.utils
    import time

    try:
        moment = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, min(moment - time.time(), 60.0))


def is_retryable_status(status: int | None) -> bool:
    """408, 429, 500, 502, 503 and 504 are retried (pds-fhir §4)."""
    return status in _RETRYABLE


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def quote(text: str, limit: int = 300) -> str:
    """Provider text made safe for one line: identifiers masked, controls escaped, bounded."""
    head = mask_identifiers(" ".join(text[: limit * 2].split()))
    shown, taken = escaped_within(head, limit)
    if taken < len(head) or len(text) > limit * 2:
        shown = escaped_within(head, limit - 1)[0] + "…"
    return shown
