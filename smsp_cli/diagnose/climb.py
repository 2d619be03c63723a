"""The climb: run the layers in order, hand findings up, stop at the first failure."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from smsp_cli.diagnose.clock import Clock, check_clock, utc_now
from smsp_cli.diagnose.local import check_certificate, check_config, setting_facts
from smsp_cli.diagnose.network import Target, check_dns, check_tcp
from smsp_cli.diagnose.report import Check, Layer, Report, Status, fail, skipped
from smsp_cli.diagnose.soap import check_http, check_smsp, probe_query
from smsp_cli.diagnose.tls import check_tls, client_context
from smsp_cli.domain.errors import SmspError
from smsp_cli.transport.trace import Trace

if TYPE_CHECKING:
    import datetime as dt

    from smsp_cli.domain.models import Query
    from smsp_cli.domain.results import Outcome
    from smsp_cli.service import Flags
    from smsp_cli.settings.clientcert import ClientCredentials
    from smsp_cli.settings.connection import ConnectionSettings, Sourced
    from smsp_cli.transport.trace import Phase


def diagnose(
    flags: Flags, *, query: Query | None = None, clock: Clock = utc_now
) -> Report:
    """Resolve the settings the flags name (starting the sandbox if asked), then climb."""
    from smsp_cli.service import run_settings

    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        try:
            settings = stack.enter_context(run_settings(flags))
        except SmspError as error:
            values = _effective_values(flags)
            facts, sources = setting_facts(
                {key: found.value for key, found in values.items()},
                {key: found.source for key, found in values.items()},
            )
            check = Check(
                Layer.CONFIG,
                Status.FAIL,
                error.message,
                facts,
                cause="the settings are incomplete or invalid, so nothing can be sent",
                next_step=error.hint or "fix the setting named above",
                elapsed=time.perf_counter() - started,
                sources=sources,
            )
            endpoint = values.get("endpoint")
            return Report(
                endpoint.value if endpoint else None,
                (check, *skipped(Layer.CONFIG)),
                total=check.elapsed,
                settings=tuple((key, found.value, found.source) for key, found in values.items()),
            )
        return diagnose_settings(settings, query=query, clock=clock)


def _effective_values(flags: Flags) -> dict[str, Sourced]:
    """The settings as flags, environment and profile give them, valid or not."""
    from smsp_cli.settings import config
    from smsp_cli.settings.connection import gather

    try:
        return config.layered(config.load(), flags)
    except SmspError:  # an unreadable config file: what flags and environment say
        return gather(flags)


def diagnose_settings(
    settings: ConnectionSettings, *, query: Query | None = None, clock: Clock = utc_now
) -> Report:
    """Climb every layer for resolved settings."""
    if settings.api == "fhir":
        from smsp_cli.diagnose.fhir import FhirClimb

        return FhirClimb(settings, query, clock).run()
    return _Climb(settings, query or probe_query(), clock).run()


@dataclass
class _Findings:
    """What one layer learns that a later layer needs."""

    addresses: tuple[str, ...] = ()
    connected: tuple[str, int] | None = None
    client: ClientCredentials | None = None
    trace: Trace | None = None
    outcome: Outcome | None = None
    error: SmspError | None = None
    received_at: dt.datetime | None = None
    call_started: float = 0.0


class _Climb:
    """Runs the layers in order, timing each, and hands findings from one to the next."""

    def __init__(self, settings: ConnectionSettings, query: Query, clock: Clock) -> None:
        self.settings = settings
        self.query = query
        self.clock = clock
        self.found = _Findings()
        self.origin = time.perf_counter()
        self.target: Target | None = None

    def run(self) -> Report:
        steps: list[tuple[Layer, Callable[[], Check]]] = [
            (Layer.CONFIG, self.config),
            (Layer.CERTIFICATE, self.certificate),
            (Layer.DNS, self.dns),
            (Layer.TCP, self.tcp),
            (Layer.TLS, self.tls),
            (Layer.HTTP, self.http),
            (Layer.SMSP, self.smsp),
            (Layer.CLOCK, self.clock_skew),
        ]
        checks: list[Check] = []
        for layer, step in steps:
            started = time.perf_counter()
            check = step()
            checks.append(
                replace(
                    check,
                    layer=layer,
                    started=started - self.origin,
                    elapsed=time.perf_counter() - started,
                )
            )
            if check.status is Status.FAIL:
                checks += skipped(layer)
                break
        settings = self.settings
        shown = (("endpoint", settings.endpoint), ("profile", settings.profile),
                 ("kind", settings.kind))
        return Report(
            settings.endpoint,
            tuple(checks),
            phases=self._call_phases(),
            total=time.perf_counter() - self.origin,
            settings=tuple(
                (key, value, settings.sources.get(key, "")) for key, value in shown if value
            ),
        )

    def config(self) -> Check:
        try:
            self.target = Target.parse(self.settings.endpoint)
        except ValueError as exc:
            return fail(
                Layer.CONFIG, str(exc), "the endpoint is not a usable URL", "fix --endpoint"
            )
        return check_config(self.settings)

    def certificate(self) -> Check:
        check, self.found.client = check_certificate(self.settings, self.clock())
        return check

    def dns(self) -> Check:
        assert self.target is not None
        check, self.found.addresses = check_dns(
            self.target.host, self.target.port, timeout=self.settings.connect_timeout
        )
        return check

    def tcp(self) -> Check:
        assert self.target is not None
        check, self.found.connected = check_tcp(
            self.found.addresses, self.target.port, timeout=self.settings.connect_timeout
        )
        return check

    def tls(self) -> Check:
        assert self.target is not None
        assert self.found.connected is not None
        try:
            context = client_context(self.settings, self.found.client)
        except SmspError as error:
            return fail(Layer.TLS, error.message, "the TLS settings cannot be loaded", error.hint)
        return check_tls(
            self.target,
            context,
            address=self.found.connected,
            timeout=self.settings.connect_timeout,
            ca_bundle=self.settings.ca_bundle,
            client=self.found.client.certificate if self.found.client else None,
            now=self.clock(),
            # Each probe connection has a lookup attempt's deadline: connect + read timeout.
            budget=self.settings.connect_timeout + self.settings.read_timeout,
        )

    def http(self) -> Check:
        self._call()
        assert self.found.trace is not None
        return check_http(self.found.trace, self.found.error)

    def smsp(self) -> Check:
        assert self.found.trace is not None
        return check_smsp(self.found.trace, self.found.outcome, self.found.error)

    def clock_skew(self) -> Check:
        assert self.found.trace is not None
        assert self.found.received_at is not None
        return check_clock(self.found.trace.response_headers, self.found.received_at)

    def _call(self) -> None:
        """The one real SMSP call that layers 6, 7 and 8 judge."""
        from smsp_cli import service
        from smsp_cli.transport import retry

        trace = Trace()
        self.found.trace = trace
        self.found.call_started = time.perf_counter() - self.origin
        try:
            # One attempt: a retry would hide the failure being diagnosed.
            self.found.outcome = service.call(
                self.query, self.settings, trace=trace, policy=retry.RetryPolicy(attempts=1)
            )
        except SmspError as error:
            self.found.error = error
            trace.fail(error)
        self.found.received_at = self.clock()
        trace.finish()

    def _call_phases(self) -> tuple[Phase, ...]:
        trace = self.found.trace
        if trace is None:
            return ()
        shift = self.found.call_started
        return tuple(replace(phase, start=phase.start + shift) for phase in trace.phases())
