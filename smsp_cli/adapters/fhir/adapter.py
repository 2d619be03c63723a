"""The PDS FHIR adapter: a bearer token, a read or a single-match search, replies into results.

It implements :class:`smsp_cli.adapters.Adapter` for PDS FHIR (pds-fhir §2);
:mod:`smsp_cli.service` drives it as it drives SMSP's, so the results, response codes, exit
codes and audit trail are the same. What it reads an answer as:

* a read whose record is the one asked for is SMSP-0000; another id is PDS's answer for a
  superseded number (DEMOG-0017) if that record passes the verification rule, else it belongs to
  another patient (exit 4); verify and get apply SMSP's verification rule (spec §3.3)
  themselves: a record that fails it is DEMOG-0040 and none of it is shown;
* 404 RESOURCE_NOT_FOUND or an empty Bundle is DEMOG-0001, INVALIDATED_RESOURCE DEMOG-0022,
  TOO_MANY_MATCHES DEMOG-0007;
* a search's one match asks for a read of the full record (the reading's follow-up), so the
  JSON holds what ``get`` shows; if that read finds nothing, the search's reduced record stands.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from smsp_cli.adapters import Reading
from smsp_cli.adapters.fhir import records
from smsp_cli.adapters.fhir import requests as fhir_requests
from smsp_cli.adapters.fhir.tokens import RETRY_AFTER_CAP, Tokens, fhir_settings, signing_key
from smsp_cli.domain import warning_codes
from smsp_cli.domain.correlation import OTHER_NHS_NUMBER, SEVERAL_PATIENTS
from smsp_cli.domain.errors import MismatchedReply, ProviderFailed, SmspError
from smsp_cli.domain.models import is_valid_nhs_number
from smsp_cli.domain.operations import DETAILS, GET, TRACE, VERIFY, Operation
from smsp_cli.domain.results import FhirExchange, Patient, Reply
from smsp_cli.domain.verification import verifies
from smsp_cli.fastclasses import dataclass

if TYPE_CHECKING:
    import datetime as dt

    import httpx

    from smsp_cli.adapters import Authorisation, TokenEvent
    from smsp_cli.adapters.fhir.replies import FhirAnswer
    from smsp_cli.adapters.fhir.requests import FhirRequest
    from smsp_cli.domain.models import Query
    from smsp_cli.settings.connection import ConnectionSettings
    from smsp_cli.transport.http import HttpReply, Session
    from smsp_cli.transport.retry import RetryPolicy
    from smsp_cli.transport.trace import Trace

MATCH = "{id of the match}"  # a dry run's stand-in for the number a search finds


class BearerToken:
    """The token one exchange is sent with; a 401 renews it once (same X-Request-ID)."""

    def __init__(self, tokens: Tokens) -> None:
        self._tokens = tokens
        self._token = tokens.current()
        self._signed_in = False  # this exchange signed in after a 401: no second chance

    def headers(self) -> Mapping[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def renew(self, error: SmspError) -> bool:
        from smsp_cli.adapters.fhir.replies import FhirRejected

        if self._signed_in or not (isinstance(error, FhirRejected) and error.unauthorised):
            return False
        # A 401 with a token we held: take the one another thread has just got, or sign in,
        # and send once more. Another thread's token may have been refused meanwhile too, so
        # only a 401 after this exchange's own sign-in is final.
        self._token, self._signed_in = self._tokens.replacement(self._token)
        return True


class FhirAdapter:
    """PDS FHIR R4, application-restricted access: GETs with a bearer token."""

    api = "fhir"

    def open_session(
        self, settings: ConnectionSettings, *, transport: httpx.BaseTransport | None = None,
        max_connections: int = 10,
    ) -> Session:
        """A pool whose TLS trusts the profile's CA bundle, else the operating system's store."""
        import ssl

        from smsp_cli.domain.errors import ConfigError
        from smsp_cli.transport.http import Session

        fhir = fhir_settings(settings)
        if fhir.ca_bundle is not None:
            if not fhir.ca_bundle.is_file():
                raise ConfigError(f"CA bundle {fhir.ca_bundle} does not exist or is not a file")
            try:
                context = ssl.create_default_context(cafile=str(fhir.ca_bundle))
            except (ssl.SSLError, OSError):
                raise ConfigError(f"CA bundle {fhir.ca_bundle} is not readable PEM") from None
        else:
            import truststore

            # As pip does: the trust store the organisation manages, TLS-inspecting proxy too.
            context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = (ssl.TLSVersion.TLSv1_3 if settings.min_tls_version == "1.3"
                                   else ssl.TLSVersion.TLSv1_2)
        return Session(context, transport=transport, max_connections=max_connections)

    def sender(self, settings: ConnectionSettings, session: Session | None = None) -> str:
        """The application, by its API key (the JWT's iss and sub)."""
        return fhir_settings(settings).api_key

    def load_credentials(self, settings: ConnectionSettings) -> None:
        """Load the signing key now (its passphrase asked once), or raise ConfigError."""
        signing_key(settings)

    def authorise(
        self, settings: ConnectionSettings, session: Session, *, policy: RetryPolicy,
        on_token: TokenEvent,
    ) -> BearerToken:
        """A token usable for 30 s more: the cached one, else one signed in for now."""
        return BearerToken(Tokens(settings, session, policy=policy, on_token=on_token))

    def build(
        self,
        query: Query,
        settings: ConnectionSettings,
        *,
        username: str,
        now: dt.datetime | None = None,
    ) -> FhirRequest:
        """A read by NHS number, else a single-match search (a fresh X-Request-ID)."""
        return planned(query, settings.endpoint, fhir_settings(settings).ods_code)[0]

    def again(self, request: FhirRequest, query: Query, settings: ConnectionSettings, *,
              username: str) -> FhirRequest:
        """The same request: every retry of a call keeps its X-Request-ID (pds-fhir §2)."""
        return request

    def send(
        self, session: Session, request: FhirRequest, settings: ConnectionSettings, *,
        trace: Trace | None, authorisation: Authorisation,
    ) -> HttpReply:
        """GET within the settings' timeouts, with the bearer token."""
        token = authorisation.headers()["Authorization"].removeprefix("Bearer ")
        return session.send(
            request.method, request.url, params=request.params,
            headers=request.headers(token),
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            trace=trace,
        )

    def read(self, query: Query, request: FhirRequest, answer: HttpReply, *,
             before: Reading | None = None) -> Reading:
        """The answer checked (pds-fhir §4), then read as SMSP's reply to the same query."""
        from smsp_cli.adapters.fhir import replies

        parsed = replace(replies.parse(answer.status_code, answer.headers, answer.body,
                                       request_id=request.message_id),
                         server_certificate=answer.server_certificate)
        recorded = _recorded(parsed)
        fields = {"issue_code": parsed.issue_code} if parsed.issue_code else None
        if before is not None:
            return _full_record(query, request, parsed, before, recorded, fields)
        if request.kind == "read":
            reply, extra = _read_reply(query, parsed)
        else:
            reply, extra, match = _search_reply(query, parsed)
            if match is not None and query.operation is not TRACE:
                # A search returns a reduced record: read the one match for the full one.
                follow = fhir_requests.read(request.url.removesuffix("/Patient"), match,
                                            ods_code=request.ods_code)
                return replace(_reading(reply, request, parsed, extra, recorded, fields),
                               follow_up=follow)
        return _reading(reply, request, parsed, extra, recorded, fields)

    def retry_wait(self, error: SmspError, attempt: int, http_status: int | None,
                   policy: RetryPolicy) -> float | None:
        """Connection failures and 408, 429 and 5xx, a Retry-After honoured (capped at 60 s)."""
        from smsp_cli.adapters.fhir.replies import FhirFailed, is_retryable_status
        from smsp_cli.transport.http import TransientNetworkError

        retryable = isinstance(error, TransientNetworkError) or (
            isinstance(error, FhirFailed) and is_retryable_status(http_status))
        if not retryable or attempt >= policy.attempts:
            return None
        after = error.retry_after if isinstance(error, FhirFailed) else None
        return min(after, RETRY_AFTER_CAP) if after is not None else policy.delay(attempt)


def planned(query: Query, endpoint: str, ods_code: str | None) -> list[FhirRequest]:
    """The requests a lookup sends: a read by number, else a search (and, but for trace, the
    read of its one match, whose number only the search gives)."""
    base = endpoint.rstrip("/")
    operation = query.operation
    if operation in (VERIFY, GET) or (operation is DETAILS and query.nhs_number):
        assert query.nhs_number is not None
        return [fhir_requests.read(base, query.nhs_number, ods_code=ods_code)]
    found = [fhir_requests.search(base, query, ods_code=ods_code)]
    if operation is not TRACE:
        found.append(fhir_requests.read(base, MATCH, ods_code=ods_code))
    return found


def _recorded(answer: FhirAnswer) -> Reply:
    """What the trail records of an answer: the NHS numbers it names."""
    numbers = [str(p.get("id")) for p in answer.patients] if answer.resource_type != (
        "OperationOutcome") else []
    first = numbers[0] if numbers else None
    return Reply(kind="fhir", response_code=answer.issue_code or "", nhs_number=first,
                 message_id=answer.request_id)


@dataclass(frozen=True)
class _Extra:
    codes: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()


def _reading(reply: Reply, request: FhirRequest, answer: FhirAnswer, extra: _Extra,
             recorded: Reply, fields: Mapping[str, str] | None) -> Reading:
    version = records.version_id(answer.resource) if answer.resource_type == "Patient" else None
    return Reading(
        reply, request.message_id, recorded=recorded, recorded_fields=fields,
        warnings=tuple(zip(extra.codes, extra.texts, strict=True)),
        fhir=FhirExchange(
            http_status=answer.http_status,
            issue_code=answer.issue_code,
            diagnostics=answer.diagnostics,
            request_id=request.message_id,
            version_id=version,
        ),
        server_certificate=answer.server_certificate,
    )


def _full_record(query: Query, request: FhirRequest, answer: FhirAnswer, before: Reading,
                 recorded: Reply, fields: Mapping[str, str] | None) -> Reading:
    """The read of a search's match: its full record, else the search's reduced one."""
    match = before.reply.patient.nhs_number if before.reply.patient else None
    if answer.resource_type == "Patient":
        record = answer.resource
        if records.patient(record).nhs_number != match:
            raise MismatchedReply("PDS FHIR answered the read of the matched record with "
                                  "another patient's record", reason=OTHER_NHS_NUMBER)
        patient = records.patient(record, local_identifier=_local(query))
        full = _reply(query.operation, "SMSP-0000", patient)
        return _reading(full, request, answer, _extra(patient), recorded, fields)
    # The full read found nothing: the search's own, reduced record, saying so.
    return replace(before, recorded=recorded, recorded_fields=fields, follow_up=None, warnings=(
        *before.warnings, (warning_codes.REDUCED_RECORD,
                           "the full record could not be read: this is the search's reduced "
                           "record")))


def _read_reply(query: Query, answer: FhirAnswer) -> tuple[Reply, _Extra]:
    operation = query.operation
    if answer.resource_type == "OperationOutcome":
        code = "DEMOG-0022" if answer.issue_code == "INVALIDATED_RESOURCE" else "DEMOG-0001"
        return _reply(operation, code, None, verified=False), _Extra()
    if answer.resource_type != "Patient":
        raise ProviderFailed("PDS FHIR answered a read with a Bundle, not a Patient")
    record = answer.resource
    patient = records.patient(record, local_identifier=_local(query))
    asked = query.nhs_number
    held = patient.nhs_number or ""
    passes = verifies(query.dob, query.family, query.given, records.birth_date(record),
                      records.held_names(record))
    if held == asked:
        if not passes:
            return _reply(operation, "DEMOG-0040", None, verified=False), _Extra()
        return _reply(operation, "SMSP-0000", patient), _extra(patient)
    if not is_valid_nhs_number(held) or not passes:
        # Another record than the one asked for, which the details given do not verify: it
        # belongs to another patient (the correlation rule): nothing of it is shown.
        raise MismatchedReply(
            "PDS FHIR answered with a record for another NHS number that does not verify "
            "against the details given", reason=OTHER_NHS_NUMBER,
        )
    # PDS's answer for a superseded number: the record under its new number (DEMOG-0017).
    return _reply(operation, "DEMOG-0017", patient), _extra(patient)


def _search_reply(query: Query, answer: FhirAnswer) -> tuple[Reply, _Extra, str | None]:
    operation = query.operation
    if answer.resource_type == "OperationOutcome":
        code = "DEMOG-0007" if answer.issue_code == "TOO_MANY_MATCHES" else "DEMOG-0001"
        return _reply(operation, code, None), _Extra(), None
    matches = answer.patients
    if not matches:
        return _reply(operation, "DEMOG-0001", None), _Extra(), None
    if len(matches) > 1:
        raise MismatchedReply(f"PDS FHIR answered a search with {len(matches)} records despite "
                              "_max-results=1", reason=SEVERAL_PATIENTS)
    patient = records.patient(matches[0], local_identifier=_local(query))
    if not is_valid_nhs_number(patient.nhs_number or ""):
        raise ProviderFailed("PDS FHIR answered a search with a record without a valid NHS "
                             "number", hint="the reply was not used")
    return _reply(operation, "SMSP-0000", patient), _extra(patient), patient.nhs_number


def _extra(patient: Patient) -> _Extra:
    codes: list[str] = []
    texts: list[str] = []
    if patient.restricted:
        codes.append(warning_codes.RESTRICTED)
        texts.append("this record is restricted: its address, telecoms and GP are withheld; "
                     "never disclose where the patient may be")
    for what, ended in patient.ended_only:
        codes.append(warning_codes.NO_CURRENT[what])
        noun = {"address": "address", "telecom": "phone or email", "gp": "GP registration"}[what]
        texts.append(f"no current {noun} (the last ended on {ended})")
    return _Extra(tuple(codes), tuple(texts))


def _local(query: Query) -> str | None:
    # PDS FHIR has no local identifier to echo: the one the user gave, none when none was.
    return query.local_id.extension if query.local_id is not None else None


def _reply(operation: Operation, code: str, patient: Patient | None,
           verified: bool | None = None) -> Reply:
    if operation is VERIFY:
        ok = code in ("SMSP-0000", "DEMOG-0017")
        return Reply(kind=operation.reply.value, response_code=code,
                     verified=ok if verified is None else verified,
                     nhs_number=patient.nhs_number if patient else None)
    if operation is TRACE:
        return Reply(kind=operation.reply.value, response_code=code,
                     nhs_number=patient.nhs_number if patient else None,
                     local_identifier=patient.local_identifier if patient else None)
    return Reply(kind=operation.reply.value, response_code=code, patient=patient)


FHIR = FhirAdapter()
"""The one PDS FHIR adapter: tokens live in the cache, not in it."""
