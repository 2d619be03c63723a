"""How certificates appear in a check's facts: names, key type, dates (cryptography is lazy)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from smsp_cli.untrusted.sanitize import provider_text

if TYPE_CHECKING:
    import datetime as dt

    from cryptography import x509

CERT_WARN_DAYS = 30


def dn(name: x509.Name) -> str:
    """A distinguished name, RFC 4514 style: written by whoever made the certificate, so shown
    with identifiers masked and made visible, like any provider text."""
    return provider_text(name.rfc4514_string()) or "(empty name)"


def cn(certificate: x509.Certificate) -> str:
    """The Subject CN, or "" when there is none."""
    from smsp_cli.settings.clientcert import first_common_name

    return first_common_name(certificate) or ""


def der_cn(der: bytes) -> str:
    """The CN (else the subject) of a DER certificate."""
    from cryptography import x509

    try:
        certificate = x509.load_der_x509_certificate(der)
    except ValueError:
        return "(unreadable certificate)"
    return provider_text(cn(certificate)) or dn(certificate.subject)


def san_names(certificate: x509.Certificate) -> list[str]:
    """The DNS names and IP addresses the certificate is for."""
    from cryptography import x509

    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    shown = [f"DNS:{provider_text(n)}" for n in names.get_values_for_type(x509.DNSName)]
    shown += [f"IP:{n}" for n in names.get_values_for_type(x509.IPAddress)]
    return shown


def server_certificate_facts(server: x509.Certificate) -> list[tuple[str, str]]:
    """Whose certificate the server showed, and for which names."""
    return [
        ("server certificate", f"{dn(server.subject)}, issued by {dn(server.issuer)}"),
        ("server names", ", ".join(san_names(server)) or "(none; CN only)"),
    ]


def key_kind(certificate: x509.Certificate) -> str:
    """``RSA 2048``, ``EC secp256r1``."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    return type(key).__name__


def validity_text(certificate: x509.Certificate) -> str:
    """``2026-01-01 to 2027-01-01``."""
    return f"{day(certificate.not_valid_before_utc)} to {day(certificate.not_valid_after_utc)}"


def expiry_text(end: dt.datetime, now: dt.datetime) -> str:
    """``2027-01-01 (364 days left)``."""
    return f"{day(end)} ({(end - now).days} days left)"


def day(when: dt.datetime) -> str:
    """``2027-01-01``."""
    return when.strftime("%Y-%m-%d")


