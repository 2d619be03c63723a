"""One call end to end, whichever API answers it: request, mutual TLS, reply, judgement, retries.

The orchestrator above the adapters (:mod:`smsp_cli.adapters`): it resolves who is sending,
records every attempt in the audit trail (spec §7.2), traces the exchange, retries what may
pass (spec §5.9) and judges the reply (spec §6). The adapter for the settings' API builds each
request, sends it through the shared transport and reads the reply into the domain's results.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from smsp_cli import adapters
from smsp_cli.domain import warning_codes
from smsp_cli.domain.errors import SmspError
from smsp_cli.domain.models import format_nhs_number
from smsp_cli.domain.operations import VERIFY, Operation
from smsp_cli.settings import connection as settings_module
from smsp_cli.untrusted.sanitize import hide_values

if TYPE_CHECKING:
    import datetime as dt

    import httpx

    from smsp_cli.adapters import Adapter, Reading, Request
    from smsp_cli.adapters.fhir.requests import FhirRequest
    from smsp_cli.adapters.smsp.envelope import BuiltRequest
    from smsp_cli.audit.calls import CallAudit
    from smsp_cli.domain.correlation import Correlation
    from smsp_cli.domain.models import Query
    from smsp_cli.domain.results import FhirExchange, Outcome, Reply
    from smsp_cli.settings.connection import ConnectionSettings, Sourced
    from smsp_cli.transport.http import Session
    from smsp_cli.transport.retry import AttemptEvent, RetryPolicy
    from smsp_cli.transport.trace import Trace


# --- Settings for the run ------------------------------------------------------------------------
# The profile is --profile, else SMSP_PROFILE, else the config file's default_profile; the
# built-in ``sandbox`` profile starts the embedded provider, any other comes from the config file.

Flags = Mapping[str, str | None]
"""The settings given as flags, by setting name (None: not given)."""


@contextlib.contextmanager
def run_settings(flags: Flags) -> Iterator[ConnectionSettings]:
    """Settings for this run; with the sandbox profile, a live embedded provider behind them."""
    with layered(flags) as (values, profile_file):
        yield settings_module.resolve(values, profile_file=profile_file)


@contextlib.contextmanager
def layered(flags: Flags) -> Iterator[tuple[dict[str, Sourced], str | None]]:
    """Every setting with its source, and the config file its profile came from (if any)."""
    from smsp_cli.settings import config

    loaded = config.load()
    profile = config.choose_profile(loaded, dict(flags))
    if profile is None or profile.value != settings_module.SANDBOX_PROFILE:
        yield config.layered(loaded, dict(flags)), str(loaded.path) if profile else None
        return
    from smsp_cli.sandbox.embedded import running_fhir_sandbox, running_sandbox

    # --api fhir (or SMSP_API=fhir) with the sandbox profile: the embedded PDS FHIR provider.
    api = settings_module.gather({"api": flags.get("api")}).get("api")
    start = running_fhir_sandbox if api is not None and api.value.lower() == "fhir" else (
        running_sandbox)
    with start() as profile_values:
        yield config.layered(loaded, dict(flags), sandbox_values=profile_values), None


def chosen_api(flags: Flags) -> str:
    """smsp or fhir: the API the flags, environment and profile choose (nothing started)."""
    from smsp_cli.settings import config

    found = config.layered(config.load(), dict(flags)).get("api")
    return found.value.strip().lower() if found is not None else "smsp"


# --- One lookup ----------------------------------------------------------------------------------


def lookup(
    query: Query,
    flags: Flags,
    *,
    verbose: int = 0,
    trace_file: str | None = None,
    reveal: bool = False,
) -> tuple[Outcome, ConnectionSettings]:
    """Send one validated query with the settings the flags name; its outcome and the settings.

    ``verbose`` (-v) and ``trace_file`` (--trace-file) ask for the exchange's trace, written
    when the call ends, also when it fails; ``reveal`` leaves the patient's values in it.
    """
    from smsp_cli.output import banner
    from smsp_cli.output import tracefile as tracing

    with run_settings(flags) as settings:
        banner.announce(settings)  # spec §7.3: the Computer Misuse Act banner, live only
        hidden = query.identifying_values()
        with tracing.session(
            verbose=verbose, trace_file=trace_file, reveal=reveal, hidden=hidden
        ) as trace:
            try:
                # Every attempt is recorded in the audit trail (spec §7.2).
                outcome = call(
                    query, settings, trace=trace,
                    on_attempt=tracing.attempt_notes(verbose, hidden),
                )
            except SmspError as error:
                # A provider may echo the patient in a fault: never on stderr.
                error.message = hide_values(error.message, hidden, "***")
                error.api = settings.api  # type: ignore[attr-defined]  # the JSON's "api"
                raise
    return outcome, settings


def dry_run(query: Query, flags: Flags) -> tuple[BuiltRequest, str]:
    """The request a lookup would send, and where: nothing secret read, nothing sent, nobody asked.
    """
    from smsp_cli.adapters.smsp.dryrun import envelope_settings
    from smsp_cli.adapters.smsp.envelope import build_request

    with layered(flags) as (values, _):
        settings = envelope_settings(values)  # placeholders for what it cannot know
        return build_request(query, settings), settings.endpoint


def dry_run_fhir(query: Query, flags: Flags) -> list[FhirRequest]:
    """The PDS FHIR requests a lookup would send: no key read, no token asked for."""
    from smsp_cli.adapters.fhir.adapter import planned

    with layered(flags) as (values, _):
        endpoint = values.get("endpoint")
        base = endpoint.value if endpoint else "https://<endpoint not set>"
        ods = values.get("ods_code")
        return planned(query, base, ods.value if ods else None)


def prepare(
    query: Query,
    settings: ConnectionSettings,
    *,
    now: dt.datetime | None = None,
    username: str | None = None,
) -> Request:
    """Build the request this query would send with these settings (stamped ``now``), and
    load what signing in needs, so a batch finds a bad key before its first row.

    ``username`` is the sender when the caller has already named it.
    """
    from smsp_cli.audit.events import rejections_recorded

    adapter: Adapter[Request] = adapters.for_settings(settings)
    with rejections_recorded():  # a wrong passphrase is a failed login (spec §7.2)
        sender = username or adapter.sender(settings, None)
        adapter.load_credentials(settings)
    return adapter.build(query, settings, username=sender, now=now)


def load_credentials(settings: ConnectionSettings) -> None:
    """Load what signing in needs now (a passphrase asked once), or raise ConfigError."""
    adapters.for_settings(settings).load_credentials(settings)


def open_session(
    settings: ConnectionSettings,
    *,
    transport: httpx.BaseTransport | None = None,
    max_connections: int = 10,
) -> Session:
    """One TLS context and connection pool for these settings, for one call or many.

    The client certificate and key are loaded here, once, so a passphrase is asked for (or
    read) at most once however many requests the session sends.
    """
    from smsp_cli.audit.events import rejections_recorded

    with rejections_recorded():  # a wrong passphrase is a failed login (spec §7.2)
        return adapters.for_settings(settings).open_session(
            settings, transport=transport, max_connections=max_connections)


def sign_in(settings: ConnectionSettings, *, audit: CallAudit | None = None) -> float:
    """Sign in once now (no cached token used, no retry); when the new token expires.

    For doctor's token layer; the attempt is on the audit trail as a ``token`` record.
    """
    from smsp_cli.adapters.fhir.tokens import Tokens
    from smsp_cli.audit.calls import CallAudit

    recording = audit or CallAudit()
    try:
        with open_session(settings, max_connections=1) as session:
            tokens = Tokens(settings, session,
                            on_token=lambda fields: recording.token(settings, fields))
            return tokens.fresh().expires_at
    finally:
        if audit is None:
            recording.close()


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
    """Send the query to the provider and judge its reply (recording it in ``trace``).

    Transient failures are retried within ``policy`` (default: the settings' max_attempts and
    retry_backoff); ``on_attempt`` hears of every attempt, for -v. ``session`` (see
    :func:`open_session`) lets many calls share one TLS context and pool; without it the call
    opens and closes its own, on ``transport`` when one is given. Every attempt is recorded in
    the audit trail (``audit``, default the one the settings configure), with ``batch_row``
    when the call is one row of a batch.
    """
    from smsp_cli.audit.calls import CallAudit

    if session is not None and transport is not None:
        raise ValueError("give a session or a transport, not both")
    recording = audit or CallAudit()  # without one: the trail the settings configure
    try:
        if session is None:
            with open_session(settings, transport=transport, max_connections=1) as own:
                return _Call(query, settings, own, trace, policy, on_attempt, recording,
                             batch_row).run()
        return _Call(query, settings, session, trace, policy, on_attempt, recording,
                     batch_row).run()
    finally:
        if audit is None:
            recording.close()


def sender_name(settings: ConnectionSettings, session: Session) -> str:
    """Who the calls go on behalf of: SMSP's wsse:Username (the setting, else the client
    certificate's CN, ITK-WS WS-SEC-02); PDS FHIR's application, by its API key."""
    from smsp_cli.audit.events import rejections_recorded

    with rejections_recorded():
        return adapters.for_settings(settings).sender(settings, session)


# Fresh tokens one exchange may take after a 401 (each is also bounded by the adapter: a 401
# after the exchange's own sign-in is final).
_MAX_RENEWALS = 3


class _Call:
    """One call: its exchanges (a PDS FHIR search may ask for a read), each with its retries."""

    def __init__(
        self, query: Query, settings: ConnectionSettings, session: Session,
        trace: Trace | None, policy: RetryPolicy | None,
        on_attempt: Callable[[AttemptEvent], None] | None, audit: CallAudit,
        batch_row: int | None,
    ) -> None:
        from smsp_cli.transport import retry

        self.query = query
        self.settings = settings
        self.session = session
        self.trace = trace
        self.on_attempt = on_attempt
        self.audit = audit
        self.adapter: Adapter[Any] = adapters.for_settings(settings)
        self.username = sender_name(settings, session)
        self.recorder = audit.begin(query, settings, username=self.username,
                                    batch_row=batch_row)
        self.policy = policy or retry.RetryPolicy(
            attempts=settings.max_attempts, backoff=settings.retry_backoff
        )

    def run(self) -> Outcome:
        request = self.adapter.build(self.query, self.settings, username=self.username)
        reading, correlation, message_ids = self._exchange(request, None)
        while reading.follow_up is not None:
            # A second exchange the answer asks for (PDS FHIR: the read of a search's match).
            reading, correlation, message_ids = self._exchange(reading.follow_up, reading)
        environment = answered_environment(self.settings, reading.server_certificate)
        return judge(
            self.query.operation, reading.reply, reading.message_id, environment=environment,
            query=self.query, correlation=correlation, api=self.adapter.api,
            fhir=reading.fhir, message_ids=message_ids, also_warned=reading.warnings,
        )

    def _exchange(self, request: Request, before: Reading | None
                  ) -> tuple[Reading, Correlation, tuple[str, ...]]:
        """One request with its retries, read and checked against the question; with the
        reading's own message ids, else every attempt's."""
        from smsp_cli.domain.correlation import correlate

        authorisation = self.adapter.authorise(
            self.settings, self.session, policy=self.policy,
            on_token=lambda fields: self.audit.token(self.settings, fields),
        )
        attempt = 0
        renewals = 0  # attempts that only replaced a refused token: no retry spent on them
        sent: list[str] = []  # every attempt's id, for the failure that ends the call
        while True:
            attempt += 1
            if attempt > 1:
                request = self.adapter.again(request, self.query, self.settings,
                                             username=self.username)
            self.recorder.sent(request, attempt)  # spec §7.2: on record before it leaves
            sent.append(request.message_id)
            status: int | None = None
            try:
                answer = self.adapter.send(self.session, request, self.settings,
                                           trace=self.trace, authorisation=authorisation)
                status = answer.status_code
                reading = self.adapter.read(self.query, request, answer, before=before)
                # Before anything of the reply is used: does it answer this request?
                correlation = correlate(self.query, reading.reply, reading.message_id)
            except SmspError as error:
                self.recorder.failed(request, error, status)
                if renewals < _MAX_RENEWALS and authorisation.renew(error):
                    # A token that expired (or another thread's, refused meanwhile) is not the
                    # provider failing: sending again with a fresh one costs no retry.
                    renewals += 1
                    self._observe(attempt, request, error.one_line(), 0.0, None)
                    continue
                wait = self.adapter.retry_wait(error, attempt - renewals, status, self.policy)
                self._observe(attempt, request, error.one_line(), wait, status)
                if wait is None:
                    if attempt > 1:
                        error.message = f"{error.message} (after {attempt} attempts)"
                        error.args = (error.message,)
                    # Every attempt, in order (a PDS FHIR call repeats its one id).
                    error.message_ids = tuple(sent)
                    raise
                self.policy.sleep(wait)
                continue
            except BaseException:
                self.recorder.interrupted(request)
                raise
            self.recorder.received(request, reading.recorded or reading.reply, status,
                                   reading.recorded_fields)
            self._observe(attempt, request, None, None, None)
            return reading, correlation, reading.message_ids or tuple(sent)

    def _observe(self, attempt: int, request: Request, failure: str | None,
                 wait: float | None, status: int | None) -> None:
        if self.on_attempt is not None:
            self.on_attempt(_event(attempt, self.policy, request, failure, wait, status))


def _event(
    attempt: int, policy: RetryPolicy, request: Request, failure: str | None,
    wait: float | None, status: int | None,
) -> AttemptEvent:
    from smsp_cli.transport.retry import AttemptEvent

    return AttemptEvent(
        attempt, policy.attempts, request.message_id, request.tracking_id, failure, wait, status
    )


def answered_environment(settings: ConnectionSettings, server_certificate: bytes | None) -> str:
    """The environment an answer is labelled with: what smsp knows, never what a reply says.

    ``sandbox`` (and so synthetic data) only when the server that answered presented a
    certificate issued by the sandbox CA in smsp's data directory; otherwise the profile's
    kind, except that a profile of kind ``sandbox`` whose provider is not the embedded sandbox
    is ``live``: nothing vouches for its data being synthetic.
    """
    from smsp_cli.sandbox.provenance import from_embedded_sandbox

    if from_embedded_sandbox(server_certificate):
        return "sandbox"
    return "live" if settings.kind == "sandbox" else settings.kind


class _Warnings:
    """The warnings of one outcome, each with its stable code and its form for stderr."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.codes: list[str] = []
        self.stderr: list[str] = []  # the same, without the patient's identifiers

    def add(self, code: str | None, text: str, stderr: str | None = None) -> None:
        self.texts.append(text)
        self.codes.append(warning_codes.known(code or warning_codes.UNKNOWN_CODE))
        self.stderr.append(text if stderr is None else stderr)

    def add_as_given(self, code: str, text: str) -> None:
        """A warning the adapter read, with its own code, shown on stderr as in the output."""
        self.texts.append(text)
        self.codes.append(code)
        self.stderr.append(text)


def judge(
    operation: Operation,
    reply: Reply,
    message_id: str,
    *,
    environment: str,
    query: Query | None = None,
    correlation: Correlation | None = None,
    api: str = "smsp",
    fhir: FhirExchange | None = None,
    message_ids: tuple[str, ...] = (),
    also_warned: tuple[tuple[str, str], ...] = (),
) -> Outcome:
    """Map the reply's response code to its text, warnings and exit code (spec §6).

    With the ``query`` that was sent, the advice after "no match" or "several matches" fits
    the command that ran and what it was given. ``correlation`` is what
    :func:`smsp_cli.domain.correlation.correlate` found (the successor of a superseded number);
    without it the reply's own number stands for the successor. ``api``, ``fhir`` and
    ``message_ids`` are the outcome's as the call knows them; ``also_warned`` holds the
    (code, text) warnings the adapter read beyond the response code's, put after its own.
    """
    # The judgement's tables load here: a dry run imports this module and judges nothing.
    from smsp_cli.domain import codes
    from smsp_cli.domain.results import Outcome
    from smsp_cli.domain.verdict import verdict

    info = codes.lookup(reply.response_code)
    exit_code = info.exit_code
    found = _Warnings()
    advice = codes.match_advice(reply.response_code, query) if query is not None else None
    if advice:
        found.add(info.warning_code, advice)
    elif reply.response_code == SUPERSEDED:
        successor = _successor(reply, correlation)
        line, shown = superseded_warning(operation, query, reply, successor)
        found.add(warning_codes.SUPERSEDED, line, shown)
    elif info.warning:
        found.add(info.warning_code, info.warning)
    answer = None
    if operation is VERIFY:
        answer = verdict(reply.response_code, reply.verified, info.text, exit_code)
        exit_code = answer.exit_code
        if answer.warning is not None and answer.warning not in found.texts:
            code = (warning_codes.NOT_VERIFIED if answer.verified is False
                    else warning_codes.VERIFICATION_UNKNOWN)
            found.add(code, answer.warning)
    death = reply.patient.death_date if reply.patient is not None else None
    if death is not None:
        # A date of death is patient data: stderr points at the output instead.
        found.add(
            warning_codes.DECEASED,
            f"DECEASED: date of death {death}" if death.strip() else "DECEASED",
            "DECEASED: the patient is recorded as deceased (date of death in the output)",
        )
    for code, text in also_warned:
        found.add_as_given(code, text)
    given = query.nhs_number if query is not None else None
    return Outcome(
        operation=operation,
        reply=reply,
        response_text=info.text,
        exit_code=int(exit_code),
        message_id=message_id,
        warnings=tuple(found.texts),
        warning_codes=tuple(found.codes),
        stderr_warnings=tuple(found.stderr),
        synthetic=environment == "sandbox",
        environment=environment,
        superseded_nhs_number=given if reply.response_code == SUPERSEDED else None,
        verified=answer.verified if answer is not None else None,
        verification=answer.shown if answer is not None else "",
        api=api,
        fhir=fhir,
        message_ids=message_ids,
    )


SUPERSEDED = "DEMOG-0017"
# Where to find a superseded number's successor when the provider did not name it.
_FIND_SUCCESSOR = "find the current number with 'smsp trace' or 'smsp search'"


def _successor(reply: Reply, correlation: Correlation | None) -> str | None:
    if correlation is not None and correlation.superseded is not None:
        return correlation.successor  # asked by number: only another number succeeds it
    return reply.patient.nhs_number if reply.patient else reply.nhs_number


def superseded_warning(
    operation: Operation, query: Query | None, reply: Reply, successor: str | None
) -> tuple[str, str]:
    """DEMOG-0017's warning, as output and as stderr shows it, for the command that ran.

    With the successor named, it is the number to use (stderr points at the output instead
    of printing it); without, it says so plainly, with advice that fits the command.
    """
    if successor:
        head = "the NHS number you supplied has been superseded: use the new NHS number"
        return f"{head} {format_nhs_number(successor)}", f"{head} shown in the output"
    if query is None or query.nhs_number is None:
        line = ("the patient's NHS number has been superseded and the provider did not name "
                "its successor; check the current number with the provider before using it")
        return line, line
    head = ("the NHS number you supplied has been superseded and the provider did not name "
            "its successor")
    if operation is VERIFY:
        line = f"{head}: do not use it; {_FIND_SUCCESSOR}"
    elif reply.patient is not None:
        line = (f"{head}: the record shown is under the superseded number; "
                f"{_FIND_SUCCESSOR} before updating local records")
    else:
        line = f"{head}; {_FIND_SUCCESSOR}"
    return line, line
