"""Layers 1 and 2, checked without the network: the settings, and our certificate and key."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from smsp_cli.diagnose.certtext import CERT_WARN_DAYS, cn, day, dn, key_kind, validity_text
from smsp_cli.diagnose.report import Check, Layer, Status, fail
from smsp_cli.domain.errors import SmspError
from smsp_cli.settings.certvalidity import out_of_date

if TYPE_CHECKING:
    import datetime as dt
    from pathlib import Path

    from cryptography import x509

    from smsp_cli.settings.clientcert import ClientCredentials
    from smsp_cli.settings.connection import ConnectionSettings


# --- 1. configuration --------------------------------------------------------------------


# The settings layer 1 shows, in order, with what stands for a value that is not set.
SHOWN_SETTINGS = (
    ("endpoint", "(not set)"),
    ("cert", "(not set)"),
    ("key", "(inside the certificate file)"),
    ("ca_bundle", "(not set)"),
    ("audit_id", "(not set)"),
    ("username", "(the client certificate's CN)"),
    ("profile", "(none)"),
    ("kind", "live"),
)


def check_config(settings: ConnectionSettings) -> Check:
    """The resolved settings and where each came from."""
    values = {
        "endpoint": settings.endpoint,
        "cert": str(settings.cert),
        "key": str(settings.key) if settings.key else None,
        "ca_bundle": str(settings.ca_bundle),
        "audit_id": settings.audit_id,
        "username": settings.username,
        "profile": settings.profile,
        "kind": settings.kind,
    }
    facts, sources = setting_facts(values, settings.sources)
    facts += (
        (
            "timeouts",
            f"connect {settings.connect_timeout:g} s, read {settings.read_timeout:g} s",
        ),
    )
    where = f"profile {settings.profile}" if settings.profile else "flags and environment"
    return Check(
        Layer.CONFIG, Status.PASS, f"settings complete ({where})", facts, sources=sources
    )


def setting_facts(
    values: Mapping[str, str | None], sources: Mapping[str, str]
) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """Layer 1's facts (``ca bundle``: value) and, apart, where each value came from."""
    facts = []
    origins = []
    for key, stand_in in SHOWN_SETTINGS:
        name = key.replace("_", " ")
        value = values.get(key)
        if value is None and key == "key" and values.get("cert") is None:
            stand_in = "(not set)"
        facts.append((name, value if value is not None else stand_in))
        if value is not None and sources.get(key):
            origins.append((name, sources[key]))
    return tuple(facts), tuple(origins)


# --- 2. certificate and key --------------------------------------------------------------


def check_certificate(
    settings: ConnectionSettings, now: dt.datetime
) -> tuple[Check, ClientCredentials | None]:
    """Our certificate and key: readable, matching, in date; the chain; CN against username."""
    from smsp_cli.audit.events import rejections_recorded
    from smsp_cli.settings import clientcert
    from smsp_cli.settings.credentials import PassphraseSource

    try:
        with rejections_recorded():  # a wrong passphrase is a failed login (spec §7.2)
            client = clientcert.load(
                settings.cert, settings.key, PassphraseSource.for_settings(settings)
            )
    except SmspError as error:
        return _certificate_unusable(error), None
    bundle, bundle_problem = read_ca_bundle(settings.ca_bundle)
    if bundle_problem is not None:
        return fail(
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
        ("subject", dn(leaf.subject)),
        ("issuer", dn(leaf.issuer)),
        ("valid", validity_text(leaf)),
        ("key", f"{key_kind(leaf)}, matches the certificate"),
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
    summary = f"{cn(leaf) or dn(leaf.subject)}, valid for {days} more days"
    return Check(Layer.CERTIFICATE, Status.PASS, summary, tuple(facts)), client


def read_ca_bundle(path: Path) -> tuple[list[x509.Certificate], str | None]:
    """The CA bundle's certificates, or why there are none."""
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
    return fail(Layer.CERTIFICATE, text, cause, step)


def _validity(leaf: x509.Certificate, now: dt.datetime) -> Check:
    start, end = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    # The rule every lookup applies before sending, in the same words.
    problem = out_of_date(start, end, now)
    if problem is not None:
        return fail(Layer.CERTIFICATE, problem.summary, problem.cause, problem.next_step)
    days = (end - now).days
    if days < CERT_WARN_DAYS:
        return Check(
            Layer.CERTIFICATE,
            Status.WARN,
            f"client certificate expires in {days} days ({day(end)})",
            cause="once expired, every connection will fail",
            next_step="renew the endpoint certificate now",
        )
    return Check(Layer.CERTIFICATE, Status.PASS, "in date")


def _chain(
    leaf: x509.Certificate, sent: Iterable[x509.Certificate], bundle: list[x509.Certificate]
) -> Check:
    """Can our certificate's chain be completed from what we send and what we trust?"""
    pool = [*sent, *bundle]
    names = [cn(leaf) or dn(leaf.subject)]
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
                f"chain incomplete: issuer {dn(current.issuer)} is in neither the certificate "
                "file nor the CA bundle",
                (("chain", " -> ".join([*names, f"{dn(current.issuer)} (missing)"])),),
                cause="unless the server already holds that CA, it cannot verify your certificate",
                next_step="add the sub-CA and root from your endpoint registration to the "
                "certificate file (a PKCS#12 file carries them)",
            )
        names.append(cn(issuer) or dn(issuer.subject))
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
    common = cn(leaf)
    if not common and not username:
        return fail(
            Layer.CERTIFICATE,
            "client certificate has no Subject CN, and no username is configured",
            "wsse:Username must carry the certificate's CN (ITK-WS WS-SEC-02)",
            "pass --username, or use the endpoint certificate",
        )
    if username is None or username == common:
        return Check(
            Layer.CERTIFICATE,
            Status.PASS,
            "username ok",
            (("wsse:Username", f"{common} (the CN)"),),
        )
    return Check(
        Layer.CERTIFICATE,
        Status.WARN,
        f"wsse:Username {username!r} is not the certificate's CN {common!r}",
        (("wsse:Username", f"{username} (configured; the CN is {common})"),),
        cause="ITK-WS WS-SEC-02 requires the CN; hosts that check it (WS-SEC-07) refuse the "
        "message with fault 3000",
        next_step="remove --username / SMSP_USERNAME, or set it to the CN",
    )
