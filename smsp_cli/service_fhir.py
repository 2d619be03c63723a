"""One PDS FHIR call end to end: sign in, read or search, judge as SMSP would (pds-fhir §2).

The same results, response codes, exit codes and audit trail as an SMSP call: a read whose
record is the one asked for is SMSP-0000; another id is PDS's answer for a superseded number
(DEMOG-0017) if that record passes the verification rule, else it belongs to another patient
(exit 4); 404 RESOURCE_NOT_FOUND or an empty Bundle is DEMOG-0001, INVALIDATED_RESOURCE is
DEMOG-0022, TOO_MANY_MATCHES is DEMOG-0007. verify and get apply SMSP's verification rule
(spec §3.3) themselves: a record that fails it is DEMOG-0040 and none of it is shown.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from smsp_cli.adapters.fhir import records
from smsp_cli.adapters.fhir import requests as fhir_requests
from smsp_cli.adapters.fhir.replies import FhirAnswer, FhirFailed, FhirRejected
from smsp_cli.domain import warning_codes
from smsp_cli.domain.correlation import OTHER_NHS_NUMBER, SEVERAL_PATIENTS
from smsp_cli.domain.errors import MismatchedReply, ProviderFailed, SmspError
from smsp_cli.domain.models import is_valid_nhs_number
from smsp_cli.domain.operations import DETAILS, GET, TRACE, VERIFY, Operation
from smsp_cli.domain.results import FhirExchange, Outcome, Patient, Reply
from smsp_cli.domain.verification import verifies

if TYPE_CHECKING:
    import httpx

    from smsp_cli.adapters.fhir.requests import FhirRequest
    from smsp_cli.adapters.fhir.signin import AccessToken
    from smsp_cli.audit import CallAudit, CallRecorder
    from smsp_cli.domain.models import Query
    from smsp_cli.settings.connection import ConnectionSettings
    from smsp_cli.settings.fhir import FhirSettings
    from smsp_cli.transport.http import HttpReply, Session
    from smsp_cli.transport.retry import AttemptEvent, RetryPolicy
    from smsp_cli.transport.trace import Trace

RETRY_AFTER_CAP = 60.0  # seconds: the longest a Retry-After is waited for


def open_session(
    settings: ConnectionSettings, *, transport: httpx.BaseTransport | None = None,
    max_connections: int = 10,
) -> Session:
    """A pool whose TLS trusts the profile's CA bundle, else the operating system's store."""
    import ssl

    from smsp_cli.domain.errors import ConfigError
    from smsp_cli.transport.http import Session

    fhir = _fhir(settings)
    if fhir.ca_bundle is not None:
        if not fhir.ca_bundle.is_file():
            raise ConfigError(f"CA bundle {fhir.ca_bundle} does not exist or is not a file")
        try:
            context = ssl.create_default_context(cafile=str(fhir.ca_bundle))
        except (ssl.SSLError, OSError):
            raise ConfigError(f"CA bundle {fhir.ca_bundle} is not readable PEM") from None
    else:
        import truststore

        # As pip does: the trust store the organisation manages, TLS-inspecting proxy included.
        context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = (ssl.TLSVersion.TLSv1_3 if settings.min_tls_version == "1.3"
                               else ssl.TLSVersion.TLSv1_2)
    return Session(context, transport=transport, max_connections=max_connections)


def _fhir(settings: ConnectionSettings) -> FhirSettings:
    if settings.fhir is None:
        raise ValueError("not a PDS FHIR profile")
    return settings.fhir


# --- Signing in --------------------------------------------------------------------------------


class Tokens:
    """Access tokens for one profile: cached in-process and on disk, fetched when needed."""

    def __init__(self, settings: ConnectionSettings, session: Session, audit: CallAudit) -> None:
        from smsp_cli.adapters.fhir import tokencache

        fhir = _fhir(settings)
        self._settings = settings
        self._session = session
        self._audit = audit
        self.key = tokencache.cache_key(settings.profile, fhir.api_key, fhir.token_url)

    def current(self) -> str:
        """A token usable for 30 s more: the cached one, else a new one."""
        from smsp_cli.adapters.fhir import tokencache

        token = tokencache.cached(self.key)
        return (token or self.fresh()).value

    def fresh(self) -> AccessToken:
        """Sign in now (the cached token is dropped first)."""
        from smsp_cli.adapters.fhir import signin, tokencache

        tokencache.drop(self.key)
        fhir = _fhir(self._settings)
        key = signing_key(self._settings)
        assertion = signin.client_assertion(
            key, api_key=fhir.api_key, key_id=fhir.signing_key_id, token_url=fhir.token_url
        )
        status: int | None = None
        try:
            # Never traced: the body is the signed JWT, the reply the token.
            answer = self._session.send(
                "POST", fhir.token_url,
                headers={"Content-Type": "application/x-www-form-urlencoded",
                         "Accept": "application/json"},
                content=signin.token_form(assertion),
                connect_timeout=self._settings.connect_timeout,
                read_timeout=self._settings.read_timeout,
                max_bytes=signin.MAX_TOKEN_REPLY,
            )
            status = answer.status_code
            token = signin.read_token_reply(answer.status_code, answer.body, fhir.token_url)
        except signin.TokenRefused as refused:
            self._record("refused", status, refused)
            raise
        except SmspError as error:
            self._record("failed", status, error)
            raise
        self._record("issued", status, None)
        tokencache.store(self.key, token)
        return token

    def after_refusal(self, refused: str) -> str:
        """A token to try after ``refused`` got a 401: one another thread has already got, or
        a new one."""
        from smsp_cli.adapters.fhir import tokencache

        token = tokencache.cached(self.key)
        if token is not None and token.value != refused:
            return token.value
        return self.fresh().value

    def drop(self) -> None:
        """Forget the token: the API said it is no longer good."""
        from smsp_cli.adapters.fhir import tokencache

        tokencache.drop(self.key)

    def _record(self, outcome: str, status: int | None, error: SmspError | None) -> None:
        fields: dict[str, Any] = {"token_url": _fhir(self._settings).token_url,
                                  "outcome": outcome, "http_status": status}
        if error is not None:
            fields["exit_code"] = int(error.exit_code)
        self._audit.token(self._settings, fields)


_keys: dict[str, Any] = {}
_keys_lock = threading.Lock()


def signing_key(settings: ConnectionSettings) -> Any:
    """The profile's signing key, loaded once a process (so its passphrase is asked once)."""
    from smsp_cli.adapters.fhir import signin

    path = _fhir(settings).signing_key
    with _keys_lock:
        key = _keys.get(str(path))
        if key is None:
            key = _keys[str(path)] = signin.load_signing_key(path, _passphrase(settings))
        return key


def _passphrase(settings: ConnectionSettings) -> Callable[[str], Any]:
    def ask(what: str) -> Any:
        from smsp_cli.settings.credentials import PassphraseSource

        return PassphraseSource.for_settings(settings)(what)

    return ask


# --- One call ----------------------------------------------------------------------------------


@dataclass
class _Context:
    settings: ConnectionSettings
    session: Session
    tokens: Tokens
    recorder: CallRecorder
    policy: RetryPolicy
    trace: Trace | None
    on_attempt: Callable[[AttemptEvent], None] | None


def call(
    query: Query,
    settings: ConnectionSettings,
    *,
    transport: httpx.BaseTransport | None = None,
    trace: Trace | None = None,
    policy: RetryPolicy | None = None,
    on_attempt: Callable[[AttemptEvent], None] | None = None,
    session: Session | None = None,
    audit: CallAudit | None = None,
    batch_row: int | None = None,
) -> Outcome:
    """Ask PDS FHIR and judge its answer as :func:`smsp_cli.service.call` does for SMSP."""
    from smsp_cli.audit import CallAudit
    from smsp_cli.transport import retry

    recording = audit or CallAudit()
    own = session is None
    live = session or open_session(settings, transport=transport, max_connections=1)
    try:
        fhir = _fhir(settings)
        context = _Context(
            settings, live, Tokens(settings, live, recording),
            recording.begin(query, settings, username=fhir.api_key, batch_row=batch_row),
            policy or retry.RetryPolicy(attempts=settings.max_attempts,
                                        backoff=settings.retry_backoff),
            trace, on_attempt,
        )
        return _judged(query, context)
    finally:
        if own:
            live.close()
        if audit is None:
            recording.close()


def _judged(query: Query, context: _Context) -> Outcome:
    operation = query.operation
    endpoint = context.settings.endpoint
    ods = _fhir(context.settings).ods_code
    by_number = operation in (VERIFY, GET) or (operation is DETAILS and query.nhs_number)
    if by_number:
        assert query.nhs_number is not None
        request = fhir_requests.read(endpoint, query.nhs_number, ods_code=ods)
        answer = _send(request, context)
        reply, extra = _read_reply(query, answer)
        return _outcome(query, reply, request, answer, context, extra)
    request = fhir_requests.search(endpoint, query, ods_code=ods)
    answer = _send(request, context)
    reply, extra, match = _search_reply(query, answer)
    if match is None or operation is TRACE:
        return _outcome(query, reply, request, answer, context, extra)
    # A search returns a reduced record: read the one match for the full one, as get shows it.
    full_request = fhir_requests.read(endpoint, match, ods_code=ods)
    full = _send(full_request, context)
    if full.resource_type == "Patient":
        record = full.resource
        if records.patient(record).nhs_number != match:
            raise MismatchedReply("PDS FHIR answered the read of the matched record with "
                                  "another patient's record", reason=OTHER_NHS_NUMBER)
        patient = records.patient(record, local_identifier=_local(query))
        full_reply = _reply(operation, "SMSP-0000", patient)
        return _outcome(query, full_reply, full_request, full, context, _extra(patient))
    # The full read found nothing: the search's own, reduced record, saying so.
    reduced = replace(extra, codes=(*extra.codes, warning_codes.REDUCED_RECORD), texts=(
        *extra.texts, "the full record could not be read: this is the search's reduced record"))
    return _outcome(query, reply, request, answer, context, reduced)


def _send(request: FhirRequest, context: _Context) -> FhirAnswer:
    """One request with its retries (same X-Request-ID each time) and one sign-in again."""
    from smsp_cli.adapters.fhir import replies
    from smsp_cli.transport.http import TransientNetworkError

    attempt = 0
    signed_in_again = False
    token = context.tokens.current()
    while True:
        attempt += 1
        context.recorder.sent(request, attempt)
        status: int | None = None
        try:
            answer: HttpReply = context.session.send(
                request.method, request.url, params=request.params,
                headers=request.headers(token),
                connect_timeout=context.settings.connect_timeout,
                read_timeout=context.settings.read_timeout,
                trace=context.trace,
            )
            status = answer.status_code
            parsed = replace(replies.parse(status, answer.headers, answer.body,
                                           request_id=request.message_id),
                             server_certificate=answer.server_certificate)
        except FhirRejected as rejected:
            context.recorder.failed(request, rejected, status)
            if rejected.unauthorised and not signed_in_again:
                # A 401 with a token we held: drop it, sign in, send once more (same id).
                signed_in_again = True
                token = context.tokens.after_refusal(token)
                _observe(context, attempt, request, rejected.one_line(), 0.0)
                continue
            _observe(context, attempt, request, rejected.one_line(), None)
            raise _after(rejected, attempt, request) from None
        except SmspError as error:
            context.recorder.failed(request, error, status)
            retryable = isinstance(error, TransientNetworkError) or (
                isinstance(error, FhirFailed) and replies.is_retryable_status(status))
            wait: float | None = None
            if retryable and attempt < context.policy.attempts:
                after = error.retry_after if isinstance(error, FhirFailed) else None
                wait = min(after, RETRY_AFTER_CAP) if after is not None else (
                    context.policy.delay(attempt))
            _observe(context, attempt, request, error.one_line(), wait, status)
            if wait is None:
                raise _after(error, attempt, request) from None
            context.policy.sleep(wait)
            continue
        except BaseException:
            context.recorder.interrupted(request)
            raise
        _observe(context, attempt, request, None, None)
        context.recorder.received(request, _audit_reply(parsed), status,
                                  {"issue_code": parsed.issue_code} if parsed.issue_code else None)
        return parsed


def _after(error: SmspError, attempt: int, request: FhirRequest) -> SmspError:
    if attempt > 1:
        error.message = f"{error.message} (after {attempt} attempts)"
        error.args = (error.message,)
    # The call's name for the provider: every attempt carried the same X-Request-ID.
    error.message_ids = (request.message_id,) * attempt
    return error


def _observe(context: _Context, attempt: int, request: FhirRequest, failure: str | None,
             wait: float | None, status: int | None = None) -> None:
    if context.on_attempt is None:
        return
    from smsp_cli.transport.retry import AttemptEvent

    context.on_attempt(AttemptEvent(attempt, context.policy.attempts, request.message_id,
                                    request.tracking_id, failure, wait, status))


def _audit_reply(answer: FhirAnswer) -> Reply:
    """What the trail records of an answer: the NHS numbers it names."""
    numbers = [str(p.get("id")) for p in answer.patients] if answer.resource_type != (
        "OperationOutcome") else []
    first = numbers[0] if numbers else None
    return Reply(kind="fhir", response_code=answer.issue_code or "", nhs_number=first,
                 message_id=answer.request_id)


# --- Judgement ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Extra:
    codes: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()
    superseded: str | None = None


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
    extra = _extra(patient)
    return _reply(operation, "DEMOG-0017", patient), replace(extra, superseded=asked)


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


def _outcome(query: Query, reply: Reply, request: FhirRequest, answer: FhirAnswer,
             context: _Context, extra: _Extra) -> Outcome:
    from smsp_cli import service
    from smsp_cli.domain.correlation import correlate

    settings = context.settings
    # The API-neutral rule: the number asked for (or one successor), one patient at most.
    correlation = correlate(query, reply, request.message_id)
    outcome = service.judge(query.operation, reply, request.message_id,
                            environment=service.answered_environment(
                                settings, answer.server_certificate),
                            query=query, correlation=correlation)
    version = records.version_id(answer.resource) if answer.resource_type == "Patient" else None
    return replace(
        outcome,
        warnings=(*outcome.warnings, *extra.texts),
        stderr_warnings=(*outcome.stderr_warnings, *extra.texts),
        warning_codes=(*outcome.warning_codes, *extra.codes),
        api="fhir",
        superseded_nhs_number=extra.superseded,
        fhir=FhirExchange(
            http_status=answer.http_status,
            issue_code=answer.issue_code,
            diagnostics=answer.diagnostics,
            request_id=request.message_id,
            version_id=version,
        ),
    )
