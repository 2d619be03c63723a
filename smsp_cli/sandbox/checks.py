"""Strict checking of one incoming SMSP request, as a strict provider would (spec §5, §3).

A request ends in exactly one of these:

* :class:`HttpProblem`: not an SMSP call at all (wrong path 404, not POST 405, no length 411,
  not XML 415). Answered as plain HTTP, without SOAP (ITK-WS §7.2).
* :class:`EnvelopeProblem`: a SOAP fault on HTTP 500 (spec §5.7). ErrorCode ``1000`` (Invalid
  Message) for anything wrong in the SOAP envelope, WS-Addressing, WS-Security or the
  Distribution Envelope; ``3000`` (Access Denied) when wsse:Username is not the client
  certificate's Subject CN (ITK-WS WS-SEC-07). SOAP 1.2 gets faultcode VersionMismatch (ITK-WS
  §7.10); an unknown header with mustUnderstand gets MustUnderstand (SOAP 1.1 §4.2.3).
* :class:`PayloadProblem`: a business reply with ``SMSP-0001`` on HTTP 200 (PROV-COMMON
  SMSP-VAL-001).
* :class:`ValidRequest`: the operation, the ids for the audit record and the match criteria.

:func:`check_transport` applies the HTTP rules; :func:`check_request` the body's, through
:mod:`~smsp_cli.sandbox.envelope_checks` and :mod:`~smsp_cli.sandbox.payload_checks`.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from smsp_cli.domain.operations import Operation
from smsp_cli.fastclasses import dataclass
from smsp_cli.sandbox.envelope_checks import INVALID_MESSAGE, Envelope, EnvelopeReader, Refused
from smsp_cli.sandbox.matching import Criteria
from smsp_cli.sandbox.payload_checks import Invalid, PayloadReader

# A request is one patient's query: a few kilobytes. Anything near this is not SMSP.
MAX_BODY_BYTES = 1024 * 1024


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
    warnings: tuple[str, ...] = ()  # rules let pass before the refusal (see envelope_checks)


@dataclass(frozen=True)
class PayloadProblem:
    """The envelope is sound but the HL7 payload is not: a business reply SMSP-0001."""

    envelope: Envelope
    reason: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ValidRequest:
    """A request that passed every check, ready for the patient index."""

    envelope: Envelope
    criteria: Criteria
    warnings: tuple[str, ...] = ()  # accepted, each with the rule it bent or only recommends


CheckResult = ValidRequest | PayloadProblem | EnvelopeProblem


def check_transport(
    method: str,
    target: str,
    *,
    path: str,
    content_type: str | None,
    content_length: str | None,
    transfer_encoding: str | None = None,
    lenient: bool = False,
    warnings: list[str] | None = None,
) -> HttpProblem | EnvelopeProblem | None:
    """The HTTP-level rules, checked before a byte of the body is read (spec §5.5).

    ``lenient`` lets a charset other than UTF-8 pass, with a line added to ``warnings``.
    """
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
        return EnvelopeProblem(
            INVALID_MESSAGE,
            "SOAP 1.2 is not accepted; send SOAP 1.1",
            "spec §5.2, ITK-WS §7.10",
            faultcode="VersionMismatch",
        )
    if media_type != "text/xml":
        return HttpProblem(415, "Content-Type must be text/xml (spec §5.5)")
    charset = _parameter(parameters, "charset")
    if charset is not None and charset.lower() not in {"utf-8", "utf8"}:
        reason = f"charset {charset[:40]} is not UTF-8"
        rule = "ITK-WS Table 3: every ITK message is UTF-8"
        if not lenient:
            return EnvelopeProblem(INVALID_MESSAGE, reason, rule)
        if warnings is not None:
            warnings.append(f"accepted (lenient): {reason} ({rule})")
    return None


def check_request(
    body: bytes,
    *,
    soap_action: str | None,
    client_cn: str | None,
    now: dt.datetime | None = None,
    lenient: bool = False,
) -> CheckResult:
    """Check a request body against every envelope and payload rule; ``now`` is for tests.

    ``lenient``: the MUSTs third-party providers let pass (see envelope_checks) are warnings.
    """
    now = now or dt.datetime.now(dt.UTC)
    reader = EnvelopeReader(soap_action, client_cn, now, lenient=lenient)
    try:
        envelope, payload_slot = reader.read(body, max_bytes=MAX_BODY_BYTES)
    except Refused as refusal:
        return EnvelopeProblem(
            refusal.error_code,
            refusal.reason,
            refusal.rule,
            faultcode=refusal.faultcode,
            operation=reader.seen.operation,
            message_id=reader.seen.message_id,
            username=reader.seen.username,
            warnings=tuple(reader.warnings),
        )
    try:
        criteria = PayloadReader(envelope.operation, now.date()).read(payload_slot)
    except Invalid as invalid:
        return PayloadProblem(envelope, invalid.reason, tuple(reader.warnings))
    return ValidRequest(envelope, criteria, tuple(reader.warnings))


def _parameter(parameters: str, name: str) -> str | None:
    for parameter in parameters.split(";"):
        key, _, value = parameter.partition("=")
        if key.strip().lower() == name:
            return value.strip().strip('"')
    return None
