"""Facts about a local client certificate, read with cryptography (imported lazily)."""

from __future__ import annotations

from pathlib import Path

from smsp_cli.errors import ConfigError


def common_name(cert_path: Path) -> str:
    """The Subject CN of the first certificate in a PEM file (the default wsse:Username)."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        data = cert_path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read client certificate {cert_path}: {exc.strerror}") from None
    try:
        certificate = x509.load_pem_x509_certificate(data)
    except ValueError:
        raise ConfigError(f"client certificate {cert_path} is not a PEM certificate") from None
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names:
        raise ConfigError(
            f"client certificate {cert_path} has no Subject CN", hint="pass --username"
        )
    value = names[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")
