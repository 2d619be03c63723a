"""Throwaway certificates for the sandbox's mutual TLS, and the pieces to build broken ones.

The sandbox set is a private CA, a server certificate for the loopback names and a client
certificate, all EC P-256 (fast to make) and kept as PEM files in one 0700 directory. The CA's
private key is never written: once the set is issued nobody can mint another certificate it
would trust, and a set that needs renewing is simply replaced as a whole.

:func:`make_ca` and :func:`issue_cert` are public so that tests (and ``smsp doctor``) can build
deliberately wrong set-ups: an expired client certificate, one from another CA, a server
certificate for the wrong host name.

``cryptography`` is imported inside the functions, so importing this module stays cheap.

Written here rather than with ``trustme``, which does not fit the sandbox: every leaf trustme
issues is for clientAuth *and* serverAuth (and codeSigning), so the sandbox's client
certificate, whose key any lookup can read, would also pass as the sandbox's server, and the
sandbox label (:mod:`.provenance`) rests on only the server certificate being serverAuth; its
CA is named by O and OU with no CN, while provenance recognises the CA by its CN without
loading cryptography; and a CA's dates are fixed (2000 to 3000), while doctor and the tests
build expired and not-yet-valid CAs with :func:`make_ca`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

# Where the set's names live; named here too, where the set is made.
from smsp_cli.fastclasses import dataclass
from smsp_cli.sandbox.paths import CA_CERT_FILE as CA_CERT_FILE
from smsp_cli.sandbox.paths import CA_CN as CA_CN
from smsp_cli.sandbox.paths import SERVER_CERT_FILE as SERVER_CERT_FILE

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

SERVER_CN = "localhost"
CLIENT_CN = "smsp sandbox client"
# Spec §5.8 (WS-SEC-01): the server's names must match what the client dials; the sandbox only
# ever listens on loopback, reached as localhost, 127.0.0.1 or ::1.
SERVER_SANS = ("localhost", "127.0.0.1", "::1")

VALIDITY = dt.timedelta(days=365)
# A set closer than this to expiry is replaced, so a long-running sandbox never dies mid-session.
RENEW_BEFORE = dt.timedelta(days=30)
# Backdate a little so a client whose clock is slightly behind still accepts a fresh set.
BACKDATE = dt.timedelta(minutes=5)

SERVER_KEY_FILE = "server-key.pem"
CLIENT_CERT_FILE = "client.pem"
CLIENT_KEY_FILE = "client-key.pem"
_LOCK_FILE = ".lock"

_PRIVATE_FILE_MODE = 0o600
_PUBLIC_FILE_MODE = 0o644
_PRIVATE_DIR_MODE = 0o700


@dataclass(frozen=True)
class SandboxCredentials:
    """Paths of the sandbox's PEM files and the client certificate's Subject CN."""

    directory: Path
    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    client_cn: str  # what wsse:Username must carry (ITK-WS WS-SEC-02)


@dataclass(frozen=True)
class IssuedCert:
    """A certificate and its private key, in memory until written."""

    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey

    @property
    def cert_pem(self) -> bytes:
        """The certificate as PEM."""
        from cryptography.hazmat.primitives import serialization

        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM (write it with mode 0600)."""
        from cryptography.hazmat.primitives import serialization

        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def common_name(self) -> str:
        """The Subject CN."""
        return subject_cn(self.certificate)

    def write(self, cert_path: Path, key_path: Path) -> None:
        """Write the certificate (0644) and the key (0600), each atomically."""
        write_atomically(cert_path, self.cert_pem, private=False)
        write_atomically(key_path, self.key_pem, private=True)


def make_ca(
    cn: str, *, not_before: dt.datetime | None = None, not_after: dt.datetime | None = None
) -> IssuedCert:
    """A self-signed CA certificate that may sign leaf certificates only (path length 0)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    key = _new_key()
    name = _name(cn)
    start, end = _validity(not_before, not_after)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signs_certificates=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return IssuedCert(certificate, key)


def issue_cert(
    ca: IssuedCert,
    cn: str,
    *,
    server: bool,
    sans: Sequence[str] = (),
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> IssuedCert:
    """A leaf certificate signed by ``ca``: serverAuth if ``server``, else clientAuth.

    Each entry of ``sans`` that parses as an IP address becomes an IP SAN, any other a DNS SAN.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID

    key = _new_key()
    start, end = _validity(not_before, not_after)
    purpose = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signs_certificates=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([purpose]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.private_key.public_key()),
            critical=False,
        )
    )
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_general_name(san) for san in sans]), critical=False
        )
    return IssuedCert(builder.sign(ca.private_key, hashes.SHA256()), key)


def subject_cn(certificate: x509.Certificate) -> str:
    """The first Subject CN of a certificate ("" when it has none)."""
    from cryptography.x509.oid import NameOID

    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = names[0].value if names else ""
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def ensure_credentials(directory: Path | None = None) -> SandboxCredentials:
    """The sandbox's CA, server and client certificates, reused if sound, else made afresh.

    A set is reused only when every file parses, each key matches its certificate, both leaves
    are signed by that CA, the server names are right, and nothing expires within
    :data:`RENEW_BEFORE`. Anything less and the whole set is replaced. A lock file serialises
    two processes starting at once, so they never mix files from two different sets.
    """
    if directory is None:
        from smsp_cli.sandbox.paths import sandbox_dir

        directory = sandbox_dir()
    _make_private_dir(directory)
    with _exclusive_lock(directory / _LOCK_FILE):
        now = dt.datetime.now(dt.UTC)
        return _reusable(directory, now) or _generate(directory)


def credential_paths(directory: Path, client_cn: str = CLIENT_CN) -> SandboxCredentials:
    """Where the sandbox set lives in ``directory`` (nothing is read or checked)."""
    return SandboxCredentials(
        directory=directory,
        ca_cert=directory / CA_CERT_FILE,
        server_cert=directory / SERVER_CERT_FILE,
        server_key=directory / SERVER_KEY_FILE,
        client_cert=directory / CLIENT_CERT_FILE,
        client_key=directory / CLIENT_KEY_FILE,
        client_cn=client_cn,
    )


def write_atomically(path: Path, data: bytes, *, private: bool) -> None:
    """Write ``data`` to a new file beside ``path`` and rename it into place.

    The file is created with its final mode (0600 when ``private``) by ``os.open``, so a key is
    never readable by others, not even for a moment. Readers see the old file or the new one,
    never half of one.
    """
    from smsp_cli.system.safefiles import files

    files().write_atomically(path, data, mode=_PRIVATE_FILE_MODE if private else _PUBLIC_FILE_MODE)


def _new_key() -> ec.EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _name(cn: str) -> x509.Name:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _validity(
    not_before: dt.datetime | None, not_after: dt.datetime | None
) -> tuple[dt.datetime, dt.datetime]:
    start = not_before or dt.datetime.now(dt.UTC) - BACKDATE
    return start, not_after or start + VALIDITY


def _key_usage(*, signs_certificates: bool) -> x509.KeyUsage:
    from cryptography import x509

    return x509.KeyUsage(
        # An ECDSA leaf signs the TLS handshake; a CA signs certificates (and CRLs) only.
        digital_signature=not signs_certificates,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=signs_certificates,
        crl_sign=signs_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def _general_name(san: str) -> x509.GeneralName:
    from cryptography import x509

    try:
        return x509.IPAddress(ipaddress.ip_address(san))
    except ValueError:
        return x509.DNSName(san)


def _make_private_dir(directory: Path) -> Path:
    from smsp_cli.system.safefiles import files

    # The folder holds private keys: never a link, ours, and tightened to 0700 if looser.
    layer = files()
    return layer.directory(layer.base_directory(directory.parent) / directory.name)


@contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    from smsp_cli.system.safefiles import files

    layer = files()
    descriptor = layer.open_file(path, os.O_RDWR)
    try:
        layer.lock(descriptor)
        yield
    finally:
        os.close(descriptor)  # closing the descriptor releases the lock


def _generate(directory: Path) -> SandboxCredentials:
    paths = credential_paths(directory)
    ca = make_ca(CA_CN)
    server = issue_cert(ca, SERVER_CN, server=True, sans=SERVER_SANS)
    client = issue_cert(ca, CLIENT_CN, server=False)
    write_atomically(paths.ca_cert, ca.cert_pem, private=False)
    server.write(paths.server_cert, paths.server_key)
    client.write(paths.client_cert, paths.client_key)
    return paths


def _reusable(directory: Path, now: dt.datetime) -> SandboxCredentials | None:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature

    paths = credential_paths(directory)
    try:
        ca = _load_cert(paths.ca_cert)
        server = _load_pair(paths.server_cert, paths.server_key)
        client = _load_pair(paths.client_cert, paths.client_key)
        sound = _is_ca(ca) and all(
            _issued_by(leaf, ca) and _fresh(leaf, now) for leaf in (server, client)
        ) and _fresh(ca, now) and _serves_loopback(server)
    except (OSError, ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return None
    return credential_paths(directory, subject_cn(client)) if sound else None


def _load_cert(path: Path) -> x509.Certificate:
    from cryptography import x509

    return x509.load_pem_x509_certificate(path.read_bytes())


def _load_pair(cert_path: Path, key_path: Path) -> x509.Certificate:
    """Load a certificate; raise ValueError unless its key file is private and matches it."""
    from cryptography.hazmat.primitives import serialization

    if os.name == "posix" and stat.S_IMODE(key_path.stat().st_mode) & 0o077:
        raise ValueError(f"{key_path} is readable by others")
    certificate = _load_cert(cert_path)
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    raw = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*raw) != certificate.public_key().public_bytes(*raw):
        raise ValueError(f"{key_path} does not belong to {cert_path}")
    return certificate


def _is_ca(certificate: x509.Certificate) -> bool:
    from cryptography import x509

    constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    return constraints.value.ca


def _issued_by(leaf: x509.Certificate, ca: x509.Certificate) -> bool:
    leaf.verify_directly_issued_by(ca)  # raises ValueError or InvalidSignature when not
    return True


def _fresh(certificate: x509.Certificate, now: dt.datetime) -> bool:
    return (
        certificate.not_valid_before_utc <= now
        and certificate.not_valid_after_utc - now >= RENEW_BEFORE
    )


def _serves_loopback(server: x509.Certificate) -> bool:
    from cryptography import x509

    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    present = {str(name.value) for name in names if isinstance(name, x509.DNSName | x509.IPAddress)}
    return set(SERVER_SANS) <= present
