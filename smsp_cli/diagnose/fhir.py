"""``smsp doctor`` for a PDS FHIR profile: the climb with a signing key, a token and a read.

1. configuration  every setting present and valid (api, endpoint, api_key, signing key, token URL)
2. signing key    readable, an RSA private key of 2048 bits or more that loads; mode warning
3. DNS, 4. TCP    the endpoint's host resolves and accepts connections
5. TLS            the server's certificate against the trust store (CA bundle or the system's)
9. token          a real sign-in: each identity service refusal explained (exit 18)
7. PDS FHIR       a read of a test patient; RESOURCE_NOT_FOUND passes with a note; 401 and 403
                  fail, as a batch treats them as shared by every row (exit 16)
8. clock          the reply's Date header: a JWT's exp is refused beyond 5 minutes, so more than
                  60 s apart fails (exit 17)
"""

from __future__ import annotations

import ssl
import stat
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smsp_cli.diagnose.clock import Clock, check_clock
from smsp_cli.diagnose.network import Target, check_dns, check_tcp
from smsp_cli.diagnose.report import (
    FHIR_NAMES,
    FHIR_ORDER,
    Check,
    Layer,
    Report,
    Status,
    fail,
    skipped,
)
from smsp_cli.domain.errors import SmspError

if TYPE_CHECKING:
    import datetime as dt

    from smsp_cli.domain.models import Query
    from smsp_cli.settings.connection import ConnectionSettings
    from smsp_cli.settings.fhir import FhirSettings
    from smsp_cli.transport.trace import Trace

# INT's published test patient (the official sandbox's and INT's 9000000009).
INT_PROBE = ("9000000009", "2010-10-22")
SANDBOX_PROBE = ("9991000003", "1984-03-14")
TRUST_STORE = "the operating system's trust store"


def probe_for(settings: ConnectionSettings, query: Query | None) -> Query:
    """The read layer 7 sends: the given patient, or one the environment is known to hold."""
    if query is not None and query.nhs_number != SANDBOX_PROBE[0]:
        return query
    from smsp_cli.domain import operations
    from smsp_cli.domain.models import build_query

    number, dob = INT_PROBE if "int.api.service.nhs.uk" in settings.endpoint else SANDBOX_PROBE
    return build_query(operations.GET, nhs_number=number, dob=dob)


class FhirClimb:
    """Runs the PDS FHIR layers in order, timing each; stops at the first failure."""

    def __init__(self, settings: ConnectionSettings, query: Query | None, clock: Clock) -> None:
        assert settings.fhir is not None
        self.settings = settings
        self.fhir: FhirSettings = settings.fhir
        self.query = probe_for(settings, query)
        self.clock = clock
        self.origin = time.perf_counter()
        self.target: Target | None = None
        self.addresses: tuple[str, ...] = ()
        self.connected: tuple[str, int] | None = None
        self.trace: Trace | None = None
        self.received_at: dt.datetime | None = None

    def run(self) -> Report:
        steps: list[tuple[Layer, Callable[[], Check]]] = [
            (Layer.CONFIG, self.config),
            (Layer.CERTIFICATE, self.signing_key),
            (Layer.DNS, self.dns),
            (Layer.TCP, self.tcp),
            (Layer.TLS, self.tls),
            (Layer.TOKEN, self.token),
            (Layer.SMSP, self.read),
            (Layer.CLOCK, self.clock_skew),
        ]
        checks: list[Check] = []
        for layer, step in steps:
            started = time.perf_counter()
            check = step()
            title, name = FHIR_NAMES.get(layer, (None, None))
            checks.append(replace(check, layer=layer, title=title, name=name,
                                  started=started - self.origin,
                                  elapsed=time.perf_counter() - started))
            if check.status is Status.FAIL:
                checks += skipped(layer, FHIR_ORDER, FHIR_NAMES)
                break
        settings = self.settings
        shown = (("endpoint", settings.endpoint), ("profile", settings.profile),
                 ("kind", settings.kind))
        return Report(settings.endpoint, tuple(checks), total=time.perf_counter() - self.origin,
                      settings=tuple((key, value, settings.sources.get(key, ""))
                                     for key, value in shown if value))

    def config(self) -> Check:
        try:
            self.target = Target.parse(self.settings.endpoint)
        except ValueError as exc:
            return fail(Layer.CONFIG, str(exc), "the endpoint is not a usable URL",
                        "fix --endpoint")
        sources = self.settings.sources
        facts = (
            ("api", "fhir"),
            ("endpoint", self.settings.endpoint),
            ("api_key", self.fhir.api_key),
            ("signing_key", str(self.fhir.signing_key)),
            ("signing_key_id", self.fhir.signing_key_id),
            ("token_url", self.fhir.token_url),
            ("ods_code", self.fhir.ods_code or "(not set)"),
            ("trust", str(self.fhir.ca_bundle) if self.fhir.ca_bundle else TRUST_STORE),
        )
        where = tuple((key, sources[key]) for key, _ in facts if key in sources)
        profile = f"profile {self.settings.profile}" if self.settings.profile else (
            "flags and environment")
        return Check(Layer.CONFIG, Status.PASS, f"PDS FHIR settings complete ({profile})", facts,
                     sources=where)

    def signing_key(self) -> Check:
        from smsp_cli.adapters.fhir.tokens import signing_key

        path = self.fhir.signing_key
        try:
            key = signing_key(self.settings)
        except SmspError as error:
            return fail(Layer.CERTIFICATE, error.message, "the JWT cannot be signed without it",
                        error.hint or "set --signing-key (SMSP_SIGNING_KEY) to the RSA key, PEM")
        facts = (("signing key", str(path)), ("type", f"RSA, {key.key_size} bits"))
        if _readable_by_others(path):
            return Check(Layer.CERTIFICATE, Status.WARN,
                         "the signing key loads, but others may read its file", facts,
                         cause="anyone who can read the key can sign in as this application",
                         next_step=f"run `chmod 600 {path}`")
        return Check(Layer.CERTIFICATE, Status.PASS, f"RSA {key.key_size}-bit key loads", facts)

    def dns(self) -> Check:
        assert self.target is not None
        check, self.addresses = check_dns(self.target.host, self.target.port,
                                          timeout=self.settings.connect_timeout)
        return check

    def tcp(self) -> Check:
        assert self.target is not None
        check, self.connected = check_tcp(self.addresses, self.target.port,
                                          timeout=self.settings.connect_timeout)
        return check

    def tls(self) -> Check:
        from smsp_cli import service

        assert self.target is not None
        assert self.connected is not None
        try:
            session = service.open_session(self.settings)
        except SmspError as error:
            return fail(Layer.TLS, error.message, "the trust settings cannot be loaded",
                        error.hint)
        session.close()
        context = _context(self.settings)
        trust = str(self.fhir.ca_bundle) if self.fhir.ca_bundle else TRUST_STORE
        host, port = self.target.host, self.target.port
        try:
            import socket

            with socket.create_connection(self.connected, timeout=self.settings.connect_timeout
                                          ) as raw, context.wrap_socket(
                    raw, server_hostname=host) as tls:
                version = tls.version() or "TLS"
                peer = tls.getpeercert() or {}
        except ssl.SSLCertVerificationError as exc:
            return fail(Layer.TLS, f"the server certificate of {host} is not trusted: "
                        f"{exc.verify_message}",
                        f"it does not chain to a CA in {trust}",
                        "set ca_bundle to the CA that signs it (a TLS-inspecting proxy's CA, "
                        "say), or have it installed in the system's store",
                        (("trust", trust),))
        except (ssl.SSLError, OSError) as exc:
            return fail(Layer.TLS, f"TLS handshake with {host}:{port} failed: {exc}",
                        "the server did not complete a TLS handshake", "check the endpoint")
        subject: Any = peer.get("subject", ())
        names = [str(pair[1]) for part in subject for pair in part if pair[0] == "commonName"]
        facts = (("protocol", version), ("server certificate", names[0] if names else "?"),
                 ("trust", trust))
        return Check(Layer.TLS, Status.PASS, f"{version}, server certificate trusted", facts)

    def token(self) -> Check:
        from smsp_cli import service

        try:
            expires_at = service.sign_in(self.settings)
        except SmspError as error:
            facts = (("token URL", self.fhir.token_url),)
            return fail(Layer.TOKEN, error.message, _token_cause(error), error.hint or
                        "check token_url, api_key, signing_key and signing_key_id", facts)
        left = max(0, int(expires_at - time.time()))
        return Check(Layer.TOKEN, Status.PASS, f"signed in: a token for {left} s",
                     (("token URL", self.fhir.token_url), ("token", "[redacted]")))

    def read(self) -> Check:
        from smsp_cli import service
        from smsp_cli.transport import retry
        from smsp_cli.transport.trace import Trace

        self.trace = Trace()
        number = self.query.nhs_number or ""
        facts: tuple[tuple[str, str], ...] = (("test patient", number),)
        try:
            outcome = service.call(self.query, self.settings, trace=self.trace,
                                        policy=retry.RetryPolicy(attempts=1))
        except SmspError as error:
            self.received_at = self.clock()
            status = error.http_status
            if status in (401, 403):
                return fail(Layer.SMSP, error.message,
                            "the API refuses this application: every lookup would fail alike",
                            "check the application is approved for application-restricted "
                            "access to PDS FHIR in this environment", facts)
            return fail(Layer.SMSP, error.message, "the read of the test patient failed",
                        error.hint or "check the endpoint (the FHIR base URL)", facts)
        finally:
            self.trace.finish()
        self.received_at = self.clock()
        code = outcome.reply.response_code
        facts += (("response", f"{code} {outcome.response_text}"),
                  ("X-Request-ID", outcome.message_id))
        if outcome.fhir is not None and outcome.fhir.issue_code == "RESOURCE_NOT_FOUND":
            return Check(Layer.SMSP, Status.PASS,
                         "PDS FHIR answers (the test patient is not held here: "
                         "RESOURCE_NOT_FOUND)", facts)
        return Check(Layer.SMSP, Status.PASS, f"PDS FHIR answers ({code})", facts)

    def clock_skew(self) -> Check:
        assert self.trace is not None
        assert self.received_at is not None
        check = check_clock(self.trace.response_headers, self.received_at)
        if check.status is Status.FAIL:
            return replace(check, cause="the identity service refuses a JWT whose exp is more "
                           "than 5 minutes ahead, or already passed, by its clock")
        return check


def _context(settings: ConnectionSettings) -> ssl.SSLContext:
    assert settings.fhir is not None
    if settings.fhir.ca_bundle is not None:
        return ssl.create_default_context(cafile=str(settings.fhir.ca_bundle))
    import truststore

    return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def _readable_by_others(path: Path) -> bool:
    import os

    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return False
    return os.name == "posix" and bool(mode & (stat.S_IRGRP | stat.S_IROTH))


def _token_cause(error: SmspError) -> str:
    from smsp_cli.adapters.fhir.signin import TokenRefused

    if isinstance(error, TokenRefused):
        return "the identity service refused the signed JWT"
    if error.http_status == 404:
        return "the token URL has no token service (is it the environment's token URL?)"
    return "no token could be got from the token URL"
