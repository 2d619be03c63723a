"""``smsp doctor``'s checks: climb the connection layer by layer and stop at the first failure.

1. configuration    every setting present and valid
2. certificate      our certificate and key: readable, matching, in date, chain, CN vs username
3. DNS              the endpoint's host name resolves
4. TCP              something accepts connections on the port
5. TLS              the handshake: server certificate, host name, our certificate accepted
6. HTTP             the POST gets an HTTP answer on a status SOAP uses (200, or 500 for faults)
7. SMSP             the answer is a well-formed business reply or SOAP fault
8. clock            our clock against the server's Date header (timestamps live 10 minutes)

Every check returns a :class:`Check`; nothing here prints. A failing layer stops the climb,
because each layer needs the one below it, and the layers above are reported as skipped. Each
failing layer has its own exit code (:data:`EXIT_CODE_MEANINGS`, documented in the README).

The local clock is a parameter (``clock``), so a test can stand a wrong clock in front of a
real server.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from smsp_cli import tlsprobe
from smsp_cli.errors import SmspError, UsageError
from smsp_cli.tracing import Phase, Trace, format_seconds

if TYPE_CHECKING:
    from cryptography import x509

    from smsp_cli.clientcert import ClientCredentials
    from smsp_cli.models import Query
    from smsp_cli.options import ConnectionOptions
    from smsp_cli.results import Outcome
    from smsp_cli.settings import ConnectionSettings

Clock = Callable[[], dt.datetime]

# The probe for layer 7: a built-in sandbox patient, and for other providers a syntactically
# valid number from the 999 test range that belongs to no real patient. Any well-formed answer,
# "no match" included, proves the SOAP layer works.
PROBE_NHS_NUMBER = "9991000003"
PROBE_DOB = "1984-03-14"

CERT_WARN_DAYS = 30
# WS-DSC-03 asks for 250 ms, but the Date header has one-second resolution and the reply
# takes time to arrive, so only a few seconds are visible at all.
CLOCK_WARN = dt.timedelta(seconds=5)
# Timestamps are valid for 10 minutes (spec §5.3). A clock behind the server's loses that much
# of the window; one ahead makes wsu:Created lie in the future, which hosts refuse beyond a
# small allowance (60 s in the sandbox, as in common WS-Security stacks).
CLOCK_FAIL = dt.timedelta(seconds=60)


class Layer(IntEnum):
    """The layers, in the order they are checked."""

    CONFIG = 1
    CERTIFICATE = 2
    DNS = 3
    TCP = 4
    TLS = 5
    HTTP = 6
    SMSP = 7
    CLOCK = 8

    @property
    def title(self) -> str:
        """How the checklist names the layer."""
        return _TITLES[self]

    @property
    def key(self) -> str:
        """The layer's name in the JSON report."""
        return self.name.lower()

    @property
    def exit_code(self) -> int:
        """The process exit code when this layer fails: 10 to 17."""
        return 9 + int(self)


_TITLES = {
    Layer.CONFIG: "configuration",
    Layer.CERTIFICATE: "certificate and key",
    Layer.DNS: "DNS",
    Layer.TCP: "TCP connect",
    Layer.TLS: "TLS handshake",
    Layer.HTTP: "HTTP",
    Layer.SMSP: "SMSP",
    Layer.CLOCK: "clock",
}

EXIT_CODE_MEANINGS: dict[int, str] = {
    0: "every layer passed (warnings allowed)",
    Layer.CONFIG.exit_code: "configuration: a setting is missing or invalid",
    Layer.CERTIFICATE.exit_code: (
        "certificate and key: unreadable, key does not match, expired or not yet valid, no CN"
    ),
    Layer.DNS.exit_code: "DNS: the endpoint's host name does not resolve",
    Layer.TCP.exit_code: "TCP connect: refused, timed out or no route",
    Layer.TLS.exit_code: (
        "TLS handshake: server certificate untrusted, expired or for another host name, client "
        "certificate refused, no common protocol, no answer, or not TLS at all"
    ),
    Layer.HTTP.exit_code: (
        "HTTP: no HTTP answer, or a status SOAP does not use (wrong path, redirect, access "
        "refused, gateway error)"
    ),
    Layer.SMSP.exit_code: "SMSP: the reply is not a well-formed SMSP reply or SOAP fault",
    Layer.CLOCK.exit_code: "clock: more than 60 s away from the server's clock",
}


class Status(StrEnum):
    """A check's verdict."""

    PASS = "pass"
    WARN = "warn"  # works, but needs attention
    FAIL = "fail"
    SKIP = "skipped"  # not checked: a layer below failed


@dataclass(frozen=True)
class Check:
    """One layer's verdict, the facts behind it and, when not a pass, the cause and next step."""

    layer: Layer
    status: Status
    summary: str
    facts: tuple[tuple[str, str], ...] = ()
    cause: str | None = None
    next_step: str | None = None
    started: float = 0.0  # seconds from the start of the diagnosis
    elapsed: float = 0.0


@dataclass(frozen=True)
class Report:
    """Every layer's check, in order, and the timings of the SMSP call's phases."""

    endpoint: str | None
    checks: tuple[Check, ...]
    phases: tuple[Phase, ...] = ()  # the POST's own phases, in seconds from the diagnosis start
    total: float = 0.0

    @property
    def failed(self) -> Check | None:
        """The failing check, if any (there is at most one: the climb stops there)."""
        return next((check for check in self.checks if check.status is Status.FAIL), None)

    @property
    def warnings(self) -> tuple[Check, ...]:
        """Checks that passed with a warning."""
        return tuple(check for check in self.checks if check.status is Status.WARN)

    @property
    def exit_code(self) -> int:
        """0 when every layer passed, else the failing layer's code."""
        failed = self.failed
        return failed.layer.exit_code if failed else 0


@dataclass(frozen=True)
class Target:
    """The endpoint URL, taken apart."""

    url: str
    host: str
    port: int
    path: str
    netloc: str

    @classmethod
    def parse(cls, url: str) -> Target:
        """Split an https:// URL; ValueError if it has no host or a bad port."""
        parts = urlsplit(url)
        if not parts.hostname:
            raise ValueError(f"endpoint {url!r} has no host name")
        return cls(url, parts.hostname, parts.port or 443, parts.path or "/", parts.netloc)


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
    notes: list[str] = field(default_factory=list)


def utc_now() -> dt.datetime:
    """The local clock, in UTC."""
    return dt.datetime.now(dt.UTC)


def probe_query(nhs_number: str | None = None, dob: str | None = None) -> Query:
    """The verifyNHSNumber request layer 7 sends: the given patient, or the built-in probe."""
    from smsp_cli import operations
    from smsp_cli.models import build_query

    if (nhs_number is None) != (dob is None):
        raise UsageError(
            "--nhs-number and --dob go together", hint="give both, or neither for the default"
        )
    return build_query(
        operations.VERIFY, nhs_number=nhs_number or PROBE_NHS_NUMBER, dob=dob or PROBE_DOB
    )


def diagnose(
    conn: ConnectionOptions, *, query: Query | None = None, clock: Clock = utc_now
) -> Report:
    """Resolve the settings these options name (starting the sandbox if asked), then climb."""
    from smsp_cli.runner import connection

    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        try:
            settings = stack.enter_context(connection(conn))
        except SmspError as error:
            check = Check(
                Layer.CONFIG,
                Status.FAIL,
                error.message,
                cause="the settings are incomplete or invalid, so nothing can be sent",
                next_step=error.hint or "fix the setting named above",
                elapsed=time.perf_counter() - started,
            )
            return Report(None, (check, *_skipped(Layer.CONFIG)), total=check.elapsed)
        return diagnose_settings(settings, query=query, clock=clock)


def diagnose_settings(
    settings: ConnectionSettings, *, query: Query | None = None, clock: Clock = utc_now
) -> Report:
    """Climb every layer for resolved settings."""
    return _Climb(settings, query or probe_query(), clock).run()


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
                checks += _skipped(layer)
                break
        return Report(
            self.settings.endpoint,
            tuple(checks),
            phases=self._call_phases(),
            total=time.perf_counter() - self.origin,
        )

    def config(self) -> Check:
        try:
            self.target = Target.parse(self.settings.endpoint)
        except ValueError as exc:
            return _fail(
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
            return _fail(Layer.TLS, error.message, "the TLS settings cannot be loaded", error.hint)
        return check_tls(
            self.target,
            context,
            address=self.found.connected,
            timeout=self.settings.connect_timeout,
            ca_bundle=self.settings.ca_bundle,
            client=self.found.client.certificate if self.found.client else None,
            now=self.clock(),
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
        from smsp_cli import retry, service

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


def _skipped(failed: Layer) -> list[Check]:
    return [
        Check(layer, Status.SKIP, f"not checked: {failed.title} failed")
        for layer in Layer
        if layer > failed
    ]


def _fail(layer: Layer, summary: str, cause: str | None, next_step: str | None) -> Check:
    return Check(layer, Status.FAIL, summary, cause=cause, next_step=next_step)


# --- 1. configuration --------------------------------------------------------------------


def check_config(settings: ConnectionSettings) -> Check:
    """The resolved settings and where each came from."""
    sources = settings.sources

    def shown(key: str, value: object) -> tuple[str, str]:
        origin = sources.get(key)
        return key.replace("_", " "), f"{value}" + (f"  (from {origin})" if origin else "")

    facts = [
        shown("endpoint", settings.endpoint),
        shown("cert", settings.cert),
        shown("key", settings.key or "(inside the certificate file)"),
        shown("ca_bundle", settings.ca_bundle),
        shown("audit_id", settings.audit_id),
        shown("username", settings.username or "(the client certificate's CN)"),
        (
            "timeouts",
            f"connect {settings.connect_timeout:g} s, read {settings.read_timeout:g} s",
        ),
    ]
    where = f"profile {settings.profile}" if settings.profile else "flags and environment"
    return Check(Layer.CONFIG, Status.PASS, f"settings complete ({where})", tuple(facts))


# --- 2. certificate and key --------------------------------------------------------------


def check_certificate(
    settings: ConnectionSettings, now: dt.datetime
) -> tuple[Check, ClientCredentials | None]:
    """Our certificate and key: readable, matching, in date; the chain; CN against username."""
    from smsp_cli import clientcert
    from smsp_cli.credentials import PassphraseSource

    try:
        client = clientcert.load(
            settings.cert, settings.key, PassphraseSource.for_settings(settings)
        )
    except SmspError as error:
        return _certificate_unusable(error), None
    bundle, bundle_problem = _ca_bundle(settings.ca_bundle)
    if bundle_problem is not None:
        return _fail(
            Layer.CERTIFICATE,
            bundle_problem,
            "the server's certificate cannot be checked without the CA certificates",
            "point --ca-bundle at the PEM CA certificates of the provider",
        ), client
    leaf = client.certificate
    checks = [
        _validity(leaf, now),
        _chain(leaf, client.chain, bundle),
        _username(leaf, settings.username),
        _client_usage(leaf),
    ]
    facts = [
        ("subject", _dn(leaf.subject)),
        ("issuer", _dn(leaf.issuer)),
        ("valid", f"{_day(leaf.not_valid_before_utc)} to {_day(leaf.not_valid_after_utc)}"),
        ("key", f"{_key_kind(leaf)}, matches the certificate"),
    ]
    for extra in checks:
        facts += list(extra.facts)
    worst = next((c for c in checks if c.status is Status.FAIL), None) or next(
        (c for c in checks if c.status is Status.WARN), None
    )
    if worst is not None:
        # The worst problem leads; any other one is still named.
        facts += [
            ("also", c.summary) for c in checks if c.status is not Status.PASS and c is not worst
        ]
        return replace(worst, facts=tuple(facts)), client
    days = (leaf.not_valid_after_utc - now).days
    summary = f"{_cn(leaf) or _dn(leaf.subject)}, valid for {days} more days"
    return Check(Layer.CERTIFICATE, Status.PASS, summary, tuple(facts)), client


def _certificate_unusable(error: SmspError) -> Check:
    text = error.message
    if "does not match" in text:
        cause = "the private key is not the one the certificate was issued for"
        step = "use the key from the same endpoint registration (or the PKCS#12 file)"
    elif "encrypted" in text or "passphrase" in text:
        cause = "the key is encrypted and no working passphrase was given"
        step = error.hint or "pass --passphrase-file FILE"
    elif "not readable" in text or "holds no" in text:
        cause = "the file holds no usable certificate or key"
        step = "use the PEM certificate and key, or the PKCS#12 file from endpoint registration"
    else:
        cause = "the certificate or key cannot be read"
        step = error.hint or "check the path and its permissions"
    return _fail(Layer.CERTIFICATE, text, cause, step)


def _ca_bundle(path: Path) -> tuple[list[x509.Certificate], str | None]:
    from cryptography import x509

    try:
        data = path.read_bytes()
    except OSError as exc:
        return [], f"cannot read CA bundle {path}: {exc.strerror}"
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        certificates = []
    if not certificates:
        return [], f"CA bundle {path} holds no PEM certificates"
    return certificates, None


def _validity(leaf: x509.Certificate, now: dt.datetime) -> Check:
    start, end = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    if now < start:
        return _fail(
            Layer.CERTIFICATE,
            f"client certificate is not valid until {_moment(start)}",
            "the certificate is not yet valid, or this computer's clock is behind",
            "check the clock (NTP); if it is right, wait or use the current certificate",
        )
    if now >= end:
        return _fail(
            Layer.CERTIFICATE,
            f"client certificate expired on {_moment(end)}",
            "servers refuse expired certificates (spec §5.8, WS-SEC-01)",
            "renew the endpoint certificate (NHS endpoint registration) and configure the new one",
        )
    days = (end - now).days
    if days < CERT_WARN_DAYS:
        return Check(
            Layer.CERTIFICATE,
            Status.WARN,
            f"client certificate expires in {days} days ({_day(end)})",
            cause="once expired, every connection will fail",
            next_step="renew the endpoint certificate now",
        )
    return Check(Layer.CERTIFICATE, Status.PASS, "in date")


def _chain(
    leaf: x509.Certificate, sent: Iterable[x509.Certificate], bundle: list[x509.Certificate]
) -> Check:
    """Can our certificate's chain be completed from what we send and what we trust?"""
    pool = [*sent, *bundle]
    names = [_cn(leaf) or _dn(leaf.subject)]
    current = leaf
    for _ in range(8):
        if current.issuer == current.subject:
            break
        issuer = next(
            (c for c in pool if c.subject == current.issuer and _signed(current, c)), None
        )
        if issuer is None:
            return Check(
                Layer.CERTIFICATE,
                Status.WARN,
                f"chain incomplete: issuer {_dn(current.issuer)} is in neither the certificate "
                "file nor the CA bundle",
                (("chain", " -> ".join([*names, f"{_dn(current.issuer)} (missing)"])),),
                cause="unless the server already holds that CA, it cannot verify your certificate",
                next_step="add the sub-CA and root from your endpoint registration to the "
                "certificate file (a PKCS#12 file carries them)",
            )
        names.append(_cn(issuer) or _dn(issuer.subject))
        current = issuer
    return Check(Layer.CERTIFICATE, Status.PASS, "chain complete", (("chain", " -> ".join(names)),))


def _signed(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        child.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _client_usage(leaf: x509.Certificate) -> Check:
    """A certificate restricted to other purposes (e.g. serverAuth only) is refused by servers."""
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    try:
        usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return Check(Layer.CERTIFICATE, Status.PASS, "no usage restriction")
    if ExtendedKeyUsageOID.CLIENT_AUTH in usages:
        return Check(Layer.CERTIFICATE, Status.PASS, "client authentication allowed")
    return Check(
        Layer.CERTIFICATE,
        Status.WARN,
        "the certificate is not for client authentication (no clientAuth extended key usage)",
        cause="TLS servers refuse it as a client certificate (alert: unsupported or bad "
        "certificate)",
        next_step="use the endpoint certificate issued for this system, not a server certificate",
    )


def _username(leaf: x509.Certificate, username: str | None) -> Check:
    cn = _cn(leaf)
    if not cn and not username:
        return _fail(
            Layer.CERTIFICATE,
            "client certificate has no Subject CN, and no username is configured",
            "wsse:Username must carry the certificate's CN (ITK-WS WS-SEC-02)",
            "pass --username, or use the endpoint certificate",
        )
    if username is None or username == cn:
        return Check(
            Layer.CERTIFICATE, Status.PASS, "username ok", (("wsse:Username", f"{cn} (the CN)"),)
        )
    return Check(
        Layer.CERTIFICATE,
        Status.WARN,
        f"wsse:Username {username!r} is not the certificate's CN {cn!r}",
        (("wsse:Username", f"{username} (configured; the CN is {cn})"),),
        cause="ITK-WS WS-SEC-02 requires the CN; hosts that check it (WS-SEC-07) refuse the "
        "message with fault 3000",
        next_step="remove --username / SMSP_USERNAME, or set it to the CN",
    )


# --- 3. DNS ------------------------------------------------------------------------------


def check_dns(host: str, port: int, *, timeout: float) -> tuple[Check, tuple[str, ...]]:
    """Resolve the endpoint's host, within ``timeout`` (getaddrinfo itself has none)."""
    if tlsprobe.is_ip(host):
        return Check(Layer.DNS, Status.PASS, f"{host} is an IP address: no lookup needed"), (
            host.strip("[]"),
        )
    answer: list[object] = []

    def lookup() -> None:
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            answer.append(tuple(dict.fromkeys(str(entry[4][0]) for entry in found)))
        except OSError as exc:
            answer.append(exc)

    worker = threading.Thread(target=lookup, name="smsp-doctor-dns", daemon=True)
    worker.start()
    worker.join(timeout)
    if not answer:
        return _fail(
            Layer.DNS,
            f"no DNS answer for {host} within {timeout:g} s",
            "the DNS servers configured here do not answer",
            "check the network and DNS settings; NHS endpoints resolve only on the VPN or HSCN",
        ), ()
    result = answer[0]
    if isinstance(result, OSError):
        return _dns_failure(host, result), ()
    assert isinstance(result, tuple)
    return Check(
        Layer.DNS,
        Status.PASS,
        f"{host} resolves to {', '.join(result)}",
        (("addresses", ", ".join(result)),),
    ), result


def _dns_failure(host: str, error: OSError) -> Check:
    temporary = getattr(socket, "EAI_AGAIN", None)
    if error.errno == temporary:
        cause = "the DNS servers did not give an answer (a temporary failure)"
    else:
        cause = "DNS says the name does not exist"
    return _fail(
        Layer.DNS,
        f"cannot resolve {host}: {error.strerror or error}",
        cause,
        "check the host name in the endpoint; NHS endpoints (Opentest, PTL, live) resolve only "
        "on the VPN or HSCN, with its DNS servers",
    )


# --- 4. TCP ------------------------------------------------------------------------------


def check_tcp(
    addresses: tuple[str, ...], port: int, *, timeout: float
) -> tuple[Check, tuple[str, int] | None]:
    """Connect to each address in turn; the first that accepts is used from here on."""
    failures: list[tuple[str, OSError]] = []
    for address in addresses:
        started = time.perf_counter()
        try:
            with socket.create_connection((address, port), timeout=timeout):
                took = time.perf_counter() - started
        except OSError as exc:
            failures.append((address, exc))
            continue
        facts = [("connected", f"{_hostport(address, port)} in {format_seconds(took)}")]
        facts += [("failed first", f"{_hostport(a, port)}: {_os_reason(e)}") for a, e in failures]
        return Check(
            Layer.TCP, Status.PASS, f"{_hostport(address, port)} accepts connections", tuple(facts)
        ), (address, port)
    if not failures:
        return _fail(Layer.TCP, "no address to connect to", None, None), None
    return _tcp_failure(failures, port, timeout), None


def _tcp_failure(failures: list[tuple[str, OSError]], port: int, timeout: float) -> Check:
    address, error = failures[-1]
    where = _hostport(address, port)
    facts = tuple((_hostport(a, port), _os_reason(e)) for a, e in failures)
    if isinstance(error, ConnectionRefusedError):
        check = _fail(
            Layer.TCP,
            f"connection to {where} refused",
            f"nothing listens on port {port} there (or a firewall rejects the connection)",
            "check the port in the endpoint, and that the provider is running",
        )
    elif isinstance(error, TimeoutError):
        check = _fail(
            Layer.TCP,
            f"no answer from {where} within {timeout:g} s",
            "a firewall drops the packets, or the host is reachable only over the VPN or HSCN",
            "check the VPN/HSCN connection and firewall rules; raise --timeout if the link is slow",
        )
    else:
        check = _fail(
            Layer.TCP,
            f"cannot connect to {where}: {_os_reason(error)}",
            "there is no network route to the provider",
            "check the VPN/HSCN connection and routing",
        )
    return replace(check, facts=facts)


# --- 5. TLS ------------------------------------------------------------------------------


def client_context(
    settings: ConnectionSettings, client: ClientCredentials | None
) -> ssl.SSLContext:
    """The very TLS context a lookup uses: CA bundle, our certificate, minimum version."""
    from smsp_cli import transport

    return transport.ssl_context(
        settings.ca_bundle,
        settings.cert,
        settings.key,
        client=client,
        min_tls_version=settings.min_tls_version,
    )


def check_tls(
    target: Target,
    context: ssl.SSLContext,
    *,
    address: tuple[str, int],
    timeout: float,
    ca_bundle: Path,
    client: x509.Certificate | None,
    now: dt.datetime,
) -> Check:
    """Shake hands as a lookup would, then ask the server a HEAD to hear its verdict on us."""
    result = tlsprobe.handshake(
        address, target.host, context, timeout=timeout, probe_request=_head(target)
    )
    flight = tlsprobe.server_flight(address, target.host, timeout=timeout)
    if result.error is not None and not _only_silent(result):
        return _tls_failure(result, target, address, timeout, ca_bundle, client, flight)
    return _tls_success(result, target, address, timeout, flight, now)


def _head(target: Target) -> bytes:
    """A harmless request that makes the server give its verdict on our certificate."""
    request = f"HEAD {target.path} HTTP/1.1\r\nHost: {target.netloc}\r\nConnection: close\r\n\r\n"
    return request.encode("ascii")


def _only_silent(result: tlsprobe.Handshake) -> bool:
    """The handshake worked and the server merely did not answer our HEAD in time."""
    return result.stage == "probe" and isinstance(result.error, TimeoutError)


def _tls_success(
    result: tlsprobe.Handshake,
    target: Target,
    address: tuple[str, int],
    timeout: float,
    flight: tlsprobe.ServerFlight | None,
    now: dt.datetime,
) -> Check:
    from cryptography import x509

    facts = [
        ("protocol", f"{result.version}, cipher {result.cipher}"),
        ("handshake", format_seconds(result.seconds)),
    ]
    warnings: list[Check] = []
    if result.peer_der:
        server = x509.load_der_x509_certificate(result.peer_der)
        facts += [
            ("server certificate", f"{_dn(server.subject)}, issued by {_dn(server.issuer)}"),
            ("server names", ", ".join(_san_names(server)) or "(none; CN only)"),
            ("host name", f"{target.host} matches the server certificate"),
            ("server expires", _expiry_text(server.not_valid_after_utc, now)),
        ]
        if (server.not_valid_after_utc - now).days < CERT_WARN_DAYS:
            warnings.append(
                Check(
                    Layer.TLS,
                    Status.WARN,
                    f"the server's certificate expires on {_day(server.not_valid_after_utc)}",
                    cause="after that every client will refuse the server",
                    next_step="tell the provider",
                )
            )
    facts.append(("server chain", _chain_text(result, flight)))
    asked, required_warning = _client_certificate_facts(target, address, timeout, flight)
    facts += asked
    if required_warning is not None:
        warnings.append(required_warning)
    facts.append(("our certificate", _verdict_text(result)))
    if warnings:
        return replace(warnings[0], facts=tuple(facts))
    return Check(
        Layer.TLS,
        Status.PASS,
        f"{result.version} with {target.host}; server verified, our certificate accepted",
        tuple(facts),
    )


def _verdict_text(result: tlsprobe.Handshake) -> str:
    if result.answer:
        return f"accepted (the server answered: {result.answer})"
    if _only_silent(result):
        return "no alert from the server (it did not answer a HEAD probe in time)"
    return "no alert from the server (it closed the connection without an answer)"


def _chain_text(result: tlsprobe.Handshake, flight: tlsprobe.ServerFlight | None) -> str:
    if result.chain_der:
        return " -> ".join(_der_cn(der) for der in result.chain_der) + " (verified)"
    if flight is not None and flight.chain_der:
        return " -> ".join(_der_cn(der) for der in flight.chain_der) + " (as sent, TLS 1.2)"
    return (
        "not available: the server speaks only TLS 1.3, which encrypts its chain, and "
        "Python before 3.13 shows only the server's own certificate"
    )


def _client_certificate_facts(
    target: Target,
    address: tuple[str, int],
    timeout: float,
    flight: tlsprobe.ServerFlight | None,
) -> tuple[list[tuple[str, str]], Check | None]:
    """Does the server ask for, and insist on, a client certificate; which CAs does it name?"""
    facts: list[tuple[str, str]] = []
    if flight is None:
        facts.append(
            (
                "accepted CA names",
                "not available: the server speaks only TLS 1.3, which encrypts its certificate "
                "request, and Python 3.11's ssl does not show it",
            )
        )
    elif flight.asks_for_certificate:
        names = "; ".join(flight.ca_names) or "none named (it accepts any CA it trusts)"
        facts.append(("accepted CA names", names))
    bare = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    bare.check_hostname = False
    bare.verify_mode = ssl.CERT_NONE  # only asking whether a certificate-less client gets in
    anonymous = tlsprobe.handshake(
        address, target.host, bare, timeout=timeout, probe_request=_head(target)
    )
    if anonymous.answer:
        facts.append(("client certificate", "NOT required: the server answered without one"))
        return facts, Check(
            Layer.TLS,
            Status.WARN,
            "the server lets clients in without a certificate",
            cause="SMSP requires mutual TLS (spec §5.8): this may not be the SMSP endpoint",
            next_step="check the endpoint URL with the provider",
        )
    alert = _alert_name(anonymous.error)
    if alert is not None:
        facts.append(("client certificate", f"required (without one the server says: {alert})"))
    else:
        reason = _os_reason(anonymous.error) if anonymous.error else "no answer"
        facts.append(("client certificate", f"not determined: without one, {reason}"))
    return facts, None


def _tls_failure(
    result: tlsprobe.Handshake,
    target: Target,
    address: tuple[str, int],
    timeout: float,
    ca_bundle: Path,
    client: x509.Certificate | None,
    flight: tlsprobe.ServerFlight | None,
) -> Check:
    error = result.error
    if isinstance(error, ssl.SSLCertVerificationError):
        leaf = _unverified_leaf(target, address, timeout, flight)
        return _untrusted_server(error, target, leaf, ca_bundle)
    alert = _alert_name(error)
    if alert is not None:
        return _alert_failure(alert, result.stage, client)
    if isinstance(error, ssl.SSLError) and _not_tls(error):
        return _not_tls_failure(address, timeout, error)
    if isinstance(error, TimeoutError):
        return _fail(
            Layer.TLS,
            f"no TLS answer from {_hostport(*address)} within {timeout:g} s",
            "the server accepted the TCP connection but never answered the TLS handshake: "
            "the port may not be TLS, or the server is stuck",
            "check the port in the endpoint; try again later, or raise --timeout",
        )
    return _fail(
        Layer.TLS,
        f"TLS handshake with {target.host} failed: {_os_reason(error)}",
        "the server closed the connection during the handshake"
        if isinstance(error, ConnectionError | ssl.SSLEOFError)
        else "the handshake could not complete",
        "the server may refuse this client or protocol; send the output of smsp doctor and "
        "smsp -v to the provider",
    )


def _untrusted_server(
    error: ssl.SSLCertVerificationError,
    target: Target,
    leaf: x509.Certificate | None,
    ca_bundle: Path,
) -> Check:
    facts: list[tuple[str, str]] = [("verification", str(error.verify_message))]
    if leaf is not None:
        facts += [
            ("server certificate", f"{_dn(leaf.subject)}, issued by {_dn(leaf.issuer)}"),
            ("server names", ", ".join(_san_names(leaf)) or "(none; CN only)"),
            (
                "server valid",
                f"{_day(leaf.not_valid_before_utc)} to {_day(leaf.not_valid_after_utc)}",
            ),
        ]
    code = error.verify_code
    if code in (62, 64):  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
        names = ", ".join(_san_names(leaf)) if leaf is not None else "other names"
        check = _fail(
            Layer.TLS,
            f"server certificate does not match host name {target.host}",
            f"the certificate names {names or 'no host'}, not {target.host}",
            "put a host name the certificate names in --endpoint, or ask the provider for a "
            "certificate that names this one",
        )
    elif code == 10:  # X509_V_ERR_CERT_HAS_EXPIRED
        check = _fail(
            Layer.TLS,
            "the server's certificate has expired",
            "the provider has not renewed its certificate",
            "tell the provider; do not turn verification off",
        )
    elif code == 9:  # X509_V_ERR_CERT_NOT_YET_VALID
        check = _fail(
            Layer.TLS,
            "the server's certificate is not yet valid",
            "this computer's clock is behind, or the provider installed it early",
            "check the clock (NTP), then tell the provider",
        )
    else:
        check = _fail(
            Layer.TLS,
            f"the server's certificate is not trusted: {error.verify_message}",
            _untrusted_cause(leaf, ca_bundle),
            "point --ca-bundle at the provider's CA certificates (for NHS endpoints, the sub-CA "
            "and root from your endpoint registration, or the environment's published CA)",
        )
    return replace(check, facts=tuple(facts))


def _untrusted_cause(leaf: x509.Certificate | None, ca_bundle: Path) -> str:
    bundle, _ = _ca_bundle(ca_bundle)
    held = "; ".join(_dn(c.subject) for c in bundle) or "nothing readable"
    issuer = _dn(leaf.issuer) if leaf is not None else "a CA"
    return (
        f"it was issued by {issuer}, which is not in the CA bundle {ca_bundle} (it holds: {held})"
    )


def _unverified_leaf(
    target: Target,
    address: tuple[str, int],
    timeout: float,
    flight: tlsprobe.ServerFlight | None,
) -> x509.Certificate | None:
    """The server's certificate without trusting it, to explain why it was not trusted."""
    from cryptography import x509

    der = flight.chain_der[0] if flight is not None and flight.chain_der else None
    if der is None:
        looking = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        looking.check_hostname = False
        looking.verify_mode = ssl.CERT_NONE  # only to read the certificate; nothing is sent
        der = tlsprobe.handshake(address, target.host, looking, timeout=timeout).peer_der
    if not der:
        return None
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        return None


# (cause, next step) for each TLS alert a server may send; the names are OpenSSL's.
_ALERTS: dict[str, tuple[str, str]] = {
    "unknown ca": (
        "the server does not trust the CA that issued your client certificate{issuer}",
        "use the client certificate issued for this environment (Opentest, PTL and live each "
        "have their own CA), or ask the provider to trust your CA",
    ),
    "bad certificate": (
        "the server rejected your client certificate as invalid",
        "check it was issued for this endpoint with clientAuth usage, and that its sub-CA is "
        "sent with it (use the PKCS#12 file)",
    ),
    "certificate unknown": (
        "the server could not accept your client certificate (often: not registered for this "
        "endpoint, or its chain is incomplete)",
        "check the endpoint registration with the provider; send the sub-CA with the certificate",
    ),
    "unsupported certificate": (
        "the server cannot use your client certificate's type or key usage",
        "ask the provider which certificate profile it needs",
    ),
    "certificate expired": (
        "the server says your client certificate (or a CA in its chain) has expired",
        "renew the endpoint certificate and configure the new one",
    ),
    "certificate revoked": (
        "the server says your client certificate has been revoked",
        "request a new endpoint certificate",
    ),
    "certificate required": (
        "the server requires a client certificate and none was sent",
        "configure --cert and --key (SMSP requires mutual TLS)",
    ),
    "handshake failure": (
        "no protocol or cipher in common, or the server refused the client certificate{none}",
        "check --cert and --key; the server must offer TLS 1.2 or later",
    ),
    "protocol version": (
        "the server does not accept the TLS versions we offer (TLS 1.2 or later)",
        "ask the provider; smsp does not go below TLS 1.2 (spec §5.8)",
    ),
    "access denied": (
        "the server refuses this client",
        "ask the provider whether your certificate is registered for this endpoint",
    ),
    "decrypt error": (
        "a handshake signature did not verify",
        "check that the key belongs to the certificate; send the output to the provider",
    ),
    "unrecognized name": (
        "the server does not serve the host name we asked for (SNI)",
        "check the host name in the endpoint",
    ),
    "internal error": (
        "the server failed during the handshake",
        "try again later; tell the provider if it persists",
    ),
}


def _alert_name(error: BaseException | None) -> str | None:
    """``certificate required`` from ``[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] ...``."""
    reason = getattr(error, "reason", None)
    if not isinstance(reason, str) or "ALERT_" not in reason:
        return None
    return reason.split("ALERT_", 1)[1].replace("_", " ").lower()


def _alert_failure(alert: str, stage: str, client: x509.Certificate | None) -> Check:
    cause, step = _ALERTS.get(
        alert,
        (f"the server ended the handshake with alert '{alert}'", "send the output to the provider"),
    )
    if client is None and alert in ("handshake failure", "bad certificate"):
        cause, step = _ALERTS["certificate required"]
    issuer = f" ({_dn(client.issuer)})" if client is not None else ""
    cause = cause.format(issuer=issuer, none="" if client is not None else " (none was sent)")
    when = "after the handshake, on our first request" if stage == "probe" else "in the handshake"
    return replace(
        _fail(Layer.TLS, f"the server sent TLS alert '{alert}'", cause, step),
        facts=(("alert", f"{alert} ({when})"),),
    )


def _not_tls(error: ssl.SSLError) -> bool:
    reason = (error.reason or "").upper()
    return reason in (
        "WRONG_VERSION_NUMBER",
        "RECORD_LAYER_FAILURE",
        "HTTP_REQUEST",
        "UNKNOWN_PROTOCOL",
    )


def _not_tls_failure(address: tuple[str, int], timeout: float, error: ssl.SSLError) -> Check:
    status = tlsprobe.plain_http_status(address, timeout=timeout)
    where = _hostport(*address)
    if status is not None:
        return replace(
            _fail(
                Layer.TLS,
                f"{where} speaks plain HTTP, not TLS",
                "the port serves unencrypted HTTP; SMSP needs HTTPS with mutual TLS",
                "use the provider's HTTPS port or URL in --endpoint",
            ),
            facts=(("plain HTTP answer", status), ("TLS error", str(error.reason))),
        )
    return _fail(
        Layer.TLS,
        f"{where} does not speak TLS ({error.reason})",
        "the server answered with something other than TLS",
        "check the port in the endpoint",
    )


# --- 6. HTTP -----------------------------------------------------------------------------


_HTTP_ADVICE: dict[int, tuple[str, str]] = {
    401: ("the server wants credentials SMSP does not use", "check the endpoint URL"),
    403: (
        "the server refused access: this client or address is not allowed",
        "ask the provider to register your certificate, ASID and source address",
    ),
    404: ("there is no SMSP service at this path", "check the path in --endpoint (e.g. /smsp/pds)"),
    405: (
        "this path does not take POST: it is not the SMSP service",
        "check the path in --endpoint (e.g. /smsp/pds)",
    ),
    502: ("a gateway in front of the provider got no good answer", "try later; tell the provider"),
    503: ("the provider is unavailable or busy", "try later; tell the provider if it persists"),
    504: ("a gateway in front of the provider timed out", "try later; tell the provider"),
}


def check_http(trace: Trace, error: SmspError | None) -> Check:
    """Did the POST get an HTTP answer, on a status the SOAP binding uses?"""
    if trace.status is None:
        message = error.message if error is not None else "no HTTP answer"
        return _fail(
            Layer.HTTP,
            message,
            "the connection worked, but the HTTP exchange did not",
            (error.hint if error is not None else None)
            or "run a lookup with -v and send it to the provider",
        )
    headers = {name.lower(): value for name, value in trace.response_headers}
    facts = (
        ("status", f"{trace.status} {trace.reason}".strip()),
        ("server", headers.get("server", "(not named)")),
        ("content type", headers.get("content-type", "(none)")),
    )
    summary = f"HTTP {trace.status} {trace.reason}".strip()
    if trace.status in (200, 500):  # 200 for replies, 500 for SOAP faults (spec §5.6, §5.7)
        return Check(Layer.HTTP, Status.PASS, f"{summary} from {facts[1][1]}", facts)
    status = trace.status
    if 300 <= status < 400:
        cause = f"the server redirects to {headers.get('location', '(no location)')}"
        step = "SMSP does not follow redirects: put the right URL in --endpoint"
    else:
        cause, step = _HTTP_ADVICE.get(
            status,
            (
                f"the server answered HTTP {status}, a status SOAP replies do not use",
                "check the endpoint URL; send smsp -v output to the provider",
            ),
        )
    return replace(_fail(Layer.HTTP, summary, cause, step), facts=facts)


# --- 7. SMSP -----------------------------------------------------------------------------


def check_smsp(trace: Trace, outcome: Outcome | None, error: SmspError | None) -> Check:
    """A business reply or a SOAP fault proves the SOAP layer works; anything else does not."""
    if outcome is not None:
        reply = outcome.reply
        return Check(
            Layer.SMSP,
            Status.PASS,
            f"{outcome.operation} answered {reply.response_code} ({outcome.response_text})",
            (("reply", f"{reply.response_code} {outcome.response_text}"),),
        )
    if error is not None and error.fault is not None:
        fault = error.fault
        code = fault.error_code or fault.faultcode
        return Check(
            Layer.SMSP,
            Status.WARN,
            f"SOAP fault {code}: {fault.error_text or fault.faultstring}",
            (("fault", f"{fault.faultcode} {code}"),)
            + ((("diagnostic", fault.diagnostic),) if fault.diagnostic else ()),
            cause="the SOAP layer works, but the provider refused this request",
            next_step=_FAULT_ADVICE.get(
                fault.error_code or "", "send smsp -v output (redacted) to the provider"
            ),
        )
    text = error.message if error is not None else "no reply"
    return _fail(
        Layer.SMSP,
        f"not a usable SMSP reply: {text}",
        "the server answered HTTP, but not with an SMSP SOAP reply: it may not be an SMSP "
        "PDS service",
        "check the endpoint URL; run a lookup with -v to see the reply",
    )


_FAULT_ADVICE = {
    "1000": "the envelope was refused: check the clock (layer 8), the username (layer 2) and "
    "the audit identity",
    "2100": "the provider had a temporary problem: try again later",
    "2200": "the provider failed: tell the provider",
    "3000": "access denied: check that your ASID and certificate are registered for this service",
}


# --- 8. clock ----------------------------------------------------------------------------


def check_clock(headers: list[tuple[str, str]], received_at: dt.datetime) -> Check:
    """Our clock against the server's Date header."""
    from email.utils import parsedate_to_datetime

    date = next((value for name, value in headers if name.lower() == "date"), None)
    if date is None:
        return Check(
            Layer.CLOCK,
            Status.WARN,
            "the server sent no Date header: clock not checked",
            cause="a clock more than a few minutes off makes every message expire or be refused",
            next_step="make sure NTP keeps this clock right (WS-DSC-03 asks for 250 ms)",
        )
    try:
        server = parsedate_to_datetime(date)
    except (TypeError, ValueError):
        return Check(Layer.CLOCK, Status.WARN, f"unreadable Date header {date!r}: not checked")
    if server.tzinfo is None:
        server = server.replace(tzinfo=dt.UTC)
    # Date is truncated to the second: the server's clock was, on average, half a second on.
    skew = received_at - (server + dt.timedelta(milliseconds=500))
    facts = (
        ("server Date", date),
        ("local clock", received_at.astimezone(dt.UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")),
        ("difference", _skew_text(skew)),
    )
    size = abs(skew)
    if size <= CLOCK_WARN:
        return Check(
            Layer.CLOCK, Status.PASS, f"in step with the server ({_skew_text(skew)})", facts
        )
    cause = (
        "wsu:Created lies in the server's future; hosts refuse it beyond a small allowance"
        if skew > dt.timedelta(0)
        else "messages reach the server already part-way through their 10-minute validity "
        "(spec §5.3), and expired once behind by 10 minutes"
    )
    step = "synchronise the clock with NTP (timedatectl set-ntp true; w32tm /resync)"
    status = Status.FAIL if size > CLOCK_FAIL else Status.WARN
    return Check(Layer.CLOCK, status, f"local clock is {_skew_text(skew)}", facts, cause, step)


def _skew_text(skew: dt.timedelta) -> str:
    seconds = skew.total_seconds()
    if abs(seconds) < 1:
        return "within 1 s of the server"
    direction = "ahead of" if seconds > 0 else "behind"
    size = abs(seconds)
    amount = f"{size / 60:.1f} min" if size >= 120 else f"{size:.0f} s"
    return f"{amount} {direction} the server"


# --- small helpers -----------------------------------------------------------------------


def _dn(name: x509.Name) -> str:
    return name.rfc4514_string() or "(empty name)"


def _cn(certificate: x509.Certificate) -> str:
    from cryptography.x509.oid import NameOID

    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = names[0].value if names else ""
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _der_cn(der: bytes) -> str:
    from cryptography import x509

    try:
        certificate = x509.load_der_x509_certificate(der)
    except ValueError:
        return "(unreadable certificate)"
    return _cn(certificate) or _dn(certificate.subject)


def _san_names(certificate: x509.Certificate) -> list[str]:
    from cryptography import x509

    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    shown = [f"DNS:{n}" for n in names.get_values_for_type(x509.DNSName)]
    shown += [f"IP:{n}" for n in names.get_values_for_type(x509.IPAddress)]
    return shown


def _key_kind(certificate: x509.Certificate) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    return type(key).__name__


def _expiry_text(end: dt.datetime, now: dt.datetime) -> str:
    return f"{_day(end)} ({(end - now).days} days left)"


def _day(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d")


def _moment(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _os_reason(error: BaseException | None) -> str:
    if error is None:
        return "unknown error"
    if isinstance(error, ssl.SSLError) and error.reason:
        return str(error.reason)
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__
