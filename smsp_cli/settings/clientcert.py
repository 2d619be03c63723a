"""The client certificate and key for mutual TLS (spec §5.8): PEM, encrypted PEM or PKCS#12.

NHS Digital issues endpoint credentials as a PKCS#12 file holding the endpoint certificate, the
sub-CA and the root CA; smsp reads it directly with ``cryptography`` instead of asking people to
convert it with ``openssl pkcs12 -nodes``, which leaves the key in the clear on disk. PEM works
too: a certificate file (with any chain after it) and a key file, plain or encrypted, or one
file holding both.

``ssl.SSLContext.load_cert_chain`` only reads files, so the key is handed to it re-encrypted
with a random one-time password, through an anonymous memory file (Linux ``memfd``) or, where
there is none, a 0600 file in a 0700 directory deleted straight after loading. The private key
is never written to disk unencrypted, and its one-time password never leaves this process.

A lookup with a plain PEM certificate and an unencrypted PEM key needs none of that, and
importing ``cryptography`` would cost it more than the rest of its start-up: :func:`for_tls`
lets OpenSSL read both files itself (it checks that they match) and reads the CN without
``cryptography`` (:mod:`smsp_cli.settings.certname`). Should OpenSSL refuse the files, they are
loaded the full way, whose errors name the problem. Nothing new is written to disk.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from smsp_cli.domain.errors import ConfigError, PassphraseRejected
from smsp_cli.domain.notices import Notice, report
from smsp_cli.fastclasses import dataclass

if TYPE_CHECKING:
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

    from smsp_cli.settings.credentials import Secret

# Asked for a passphrase only when a file turns out to be encrypted; the argument says what
# needs unlocking (e.g. "client key /x/key.pem"), for the prompt and for errors.
PassphraseGetter = Callable[[str], "Secret"]

_PEM_MARKER = b"-----BEGIN"


@dataclass(frozen=True)
class ClientCredentials:
    """A loaded client certificate, the chain sent after it, and its private key."""

    cert_path: Path
    key_path: Path | None  # None: the key came from the certificate file itself
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    private_key: PrivateKeyTypes

    def __repr__(self) -> str:
        # Never let a debugger or a log line print the key object's contents.
        return f"ClientCredentials(cert={self.cert_path}, key={self.key_path})"

    @functools.cached_property
    def common_name(self) -> str:
        """The Subject CN: the default wsse:Username (ITK-WS WS-SEC-02, spec §5.3)."""
        return subject_common_name(self.certificate, self.cert_path)

    def load_into(self, context: ssl.SSLContext) -> None:
        """Give ``context`` this certificate, chain and key, never writing the key in clear."""
        import secrets
        import ssl

        from cryptography.hazmat.primitives import serialization

        password = secrets.token_urlsafe(32).encode("ascii")
        key_pem = self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(password),
        )
        chain_pem = b"".join(
            certificate.public_bytes(serialization.Encoding.PEM)
            for certificate in (self.certificate, *self.chain)
        )
        try:
            with _private_files(chain_pem, key_pem) as (cert_file, key_file):
                context.load_cert_chain(cert_file, key_file, password=password)
        except ssl.SSLError as exc:
            raise ConfigError(
                f"client certificate {self.cert_path} could not be used for TLS: "
                f"{exc.reason or type(exc).__name__}"
            ) from None
        except OSError as exc:
            raise ConfigError(f"cannot hand the client key to TLS: {exc.strerror}") from None


class PemFiles:
    """A plain PEM certificate (chain may follow) and unencrypted PEM key, for OpenSSL to read."""

    __slots__ = ("_common_name", "cert_path", "key_path", "pem")

    def __init__(self, cert_path: Path, key_path: Path | None, pem: bytes) -> None:
        self.cert_path = cert_path
        self.key_path = key_path  # None: the key is in the certificate file
        self.pem = pem  # the certificate file's contents, for the CN
        self._common_name: str | None = None  # read once, on first use

    def __repr__(self) -> str:
        return f"PemFiles(cert={self.cert_path}, key={self.key_path})"

    @property
    def common_name(self) -> str:
        """The Subject CN: the default wsse:Username (ITK-WS WS-SEC-02, spec §5.3)."""
        if self._common_name is None:
            self._common_name = _pem_common_name(self.cert_path, self.pem)
        return self._common_name

    def load_into(self, context: ssl.SSLContext) -> None:
        """Give ``context`` the certificate, chain and key straight from their files."""
        import ssl

        key = str(self.key_path) if self.key_path is not None else None
        try:
            context.load_cert_chain(str(self.cert_path), key)
        except (ssl.SSLError, OSError):
            # Not readable, or not a pair: the full load explains which (and raises).
            load(self.cert_path, self.key_path).load_into(context)


TlsClient = PemFiles | ClientCredentials


def refuse_out_of_date(client: TlsClient, now: dt.datetime | None = None) -> None:
    """ConfigError (exit 6) when the client certificate has expired or is not yet valid.

    Checked before anything is sent: a server would refuse it (doctor's rule, in its words). A
    plain PEM certificate's dates are read without ``cryptography``, as its CN is.
    """
    from smsp_cli.settings.certvalidity import refuse_out_of_date as refuse

    if isinstance(client, PemFiles):
        from smsp_cli.settings.certname import pem_validity

        dates = pem_validity(client.pem)
        if dates is None:  # an unusual encoding: cryptography reads it or says why not
            leaf = _pem_certificates(client.cert_path, client.pem)[0]
            dates = leaf.not_valid_before_utc, leaf.not_valid_after_utc
        path = client.cert_path
    else:
        dates = client.certificate.not_valid_before_utc, client.certificate.not_valid_after_utc
        path = client.cert_path
    refuse(*dates, what=f"client certificate {path}", now=now)


def for_tls(
    cert: Path, key: Path | None = None, passphrase: PassphraseGetter | None = None
) -> TlsClient:
    """The client credentials as TLS needs them; plain PEM files are left for OpenSSL to read.

    Anything encrypted, PKCS#12 or unusual goes through :func:`load`, with its checks,
    passphrase and errors. A key readable by others is warned about either way.
    """
    data = _read(cert, "client certificate")
    if _PEM_MARKER in data:
        key_file = key if key is not None else cert  # None: one file holding both
        key_data = _read(key, "client key") if key is not None else data
        if b"PRIVATE KEY-----" in key_data and b"ENCRYPTED" not in key_data:
            warn_if_readable_by_others(key_file, "client key")
            return PemFiles(cert, key, data)
    return load(cert, key, passphrase)


def is_pkcs12(path: Path) -> bool:
    """True for a .p12 or .pfx file name (the content decides when reading)."""
    return path.suffix.lower() in (".p12", ".pfx")


def load(
    cert: Path, key: Path | None = None, passphrase: PassphraseGetter | None = None
) -> ClientCredentials:
    """Read the client certificate and key; ask ``passphrase`` only if something is encrypted.

    Raises ConfigError (exit 6) naming the file for anything missing, unreadable, locked or
    mismatched, and never with the passphrase in its text.
    """
    data = _read(cert, "client certificate")
    if _PEM_MARKER in data:
        certificates = _pem_certificates(cert, data)
        leaf, chain = certificates[0], tuple(certificates[1:])
        if key is not None:
            private_key = _pem_key(key, _read_key(key, "client key"), passphrase)
        elif b"PRIVATE KEY-----" in data:
            warn_if_readable_by_others(cert, "client key")
            private_key = _pem_key(cert, data, passphrase)  # one file holding both
        else:
            raise ConfigError(
                f"no client private key configured: client certificate {cert} holds no key",
                hint="pass --key, set SMSP_KEY, or use a PKCS#12 file",
            )
    else:
        warn_if_readable_by_others(cert, "PKCS#12 file")
        bundled_key, leaf, chain = _pkcs12(cert, data, passphrase)
        if bundled_key is not None:
            private_key = bundled_key
        elif key is not None:
            private_key = _pem_key(key, _read_key(key, "client key"), passphrase)
        else:
            raise ConfigError(f"PKCS#12 file {cert} holds no private key", hint="pass --key")
    _check_pair(leaf, private_key, cert, key)
    return ClientCredentials(cert, key, leaf, chain, private_key)


def common_name(
    cert: Path, key: Path | None = None, passphrase: PassphraseGetter | None = None
) -> str:
    """The client certificate's Subject CN; a PEM certificate is read without its key."""
    data = _read(cert, "client certificate")
    if _PEM_MARKER in data:
        return _pem_common_name(cert, data)
    return load(cert, key, passphrase).common_name


def common_name_unlocked(cert: Path, key: Path | None = None) -> str | None:
    """The client certificate's Subject CN, or None when reading it needs a passphrase."""
    try:
        return common_name(cert, key, _refuse)
    except _Locked:
        return None


def needs_passphrase(cert: Path, key: Path | None = None) -> bool:
    """True when loading these files will ask for a passphrase (nothing is asked here)."""
    try:
        load(cert, key, _refuse)
    except _Locked:
        return True
    except ConfigError:
        return False
    return False


def subject_common_name(certificate: x509.Certificate, path: Path) -> str:
    """The first Subject CN of ``certificate`` (read from ``path``)."""
    name = first_common_name(certificate)
    if name is None:
        raise ConfigError(f"client certificate {path} has no Subject CN", hint="pass --username")
    return name


def first_common_name(certificate: x509.Certificate) -> str | None:
    """The first Subject CN of ``certificate``, or None when its subject has none."""
    from cryptography.x509.oid import NameOID

    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names:
        return None
    value = names[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _pem_common_name(path: Path, data: bytes) -> str:
    from smsp_cli.settings.certname import pem_common_name

    name = pem_common_name(data)
    if name is not None:
        return name
    # Unusual encodings, no CN or not a certificate: cryptography reads it or explains why not.
    return subject_common_name(_pem_certificates(path, data)[0], path)


class _Locked(Exception):
    """A passphrase was asked for where none may be."""


def _refuse(what: str) -> Secret:
    raise _Locked


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist or is not a file") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} {path} does not exist or is not a file") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None


def _read_key(path: Path, what: str) -> bytes:
    data = _read(path, what)
    warn_if_readable_by_others(path, what)
    return data


_warned: set[Path] = set()


def warn_if_readable_by_others(path: Path, what: str) -> None:
    """A warning notice, once per file and run, when a private key's file is not 0600-tight.

    The lookup goes on: the key is the user's to protect, but they should know.
    """
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return
    if os.name != "posix" or not mode & (stat.S_IRGRP | stat.S_IROTH):
        return
    resolved = path.resolve()
    if resolved in _warned:
        return
    _warned.add(resolved)
    report(Notice(
        f"warning: {what} {path} is readable by group or others (mode {mode:04o}); "
        f"run `chmod 600 {path}`"
    ))


def _pem_certificates(path: Path, data: bytes) -> list[x509.Certificate]:
    from cryptography import x509

    try:
        certificates = x509.load_pem_x509_certificates(data)
    except (ValueError, x509.InvalidVersion):
        certificates = []
    if not certificates:
        raise ConfigError(f"client certificate {path} is not readable PEM or PKCS#12")
    return certificates


def _pem_key(path: Path, data: bytes, passphrase: PassphraseGetter | None) -> PrivateKeyTypes:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    try:
        return serialization.load_pem_private_key(data, None)
    except TypeError:
        pass  # encrypted: needs the passphrase
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigError(f"client key {path} is not readable PEM") from None
    what = f"client key {path}"
    secret = _passphrase(passphrase, what)
    try:
        return serialization.load_pem_private_key(data, secret.reveal().encode("utf-8"))
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise _rejected(f"the passphrase from {secret.source} does not unlock {what}", what,
                        secret) from None


def _pkcs12(
    path: Path, data: bytes, passphrase: PassphraseGetter | None
) -> tuple[PrivateKeyTypes | None, x509.Certificate, tuple[x509.Certificate, ...]]:
    from cryptography.hazmat.primitives.serialization import pkcs12

    what = f"PKCS#12 file {path}"
    loaded = None
    # Some issuers protect a PKCS#12 with an empty password rather than none.
    for empty in (None, b""):
        try:
            loaded = pkcs12.load_key_and_certificates(data, empty)
            break
        except ValueError as exc:
            if "deserialize" in str(exc).lower():
                raise ConfigError(
                    f"client certificate {path} is not readable PEM or PKCS#12"
                ) from None
    if loaded is None:
        secret = _passphrase(passphrase, what)
        try:
            loaded = pkcs12.load_key_and_certificates(data, secret.reveal().encode("utf-8"))
        except ValueError:
            raise _rejected(f"the passphrase from {secret.source} does not open {what}", what,
                            secret) from None
    key, certificate, extra = loaded
    if certificate is None:
        raise ConfigError(f"{what} holds no certificate")
    # Spec §5.8: the NHS PKCS#12 carries the sub-CA and root CA too; they are sent as the chain.
    return key, certificate, tuple(extra)


def _rejected(message: str, what: str, secret: Secret) -> PassphraseRejected:
    """A wrong passphrase is a failed login: the caller records it (spec §7.2)."""
    return PassphraseRejected(
        message, what=what, source=secret.source, profile=secret.profile, hint=secret.hint
    )


def _passphrase(passphrase: PassphraseGetter | None, what: str) -> Secret:
    if passphrase is None:
        raise ConfigError(
            f"{what} is encrypted and no passphrase source was given",
            hint="pass --passphrase-file FILE",
        )
    return passphrase(what)


def _check_pair(
    certificate: x509.Certificate, key: PrivateKeyTypes, cert_path: Path, key_path: Path | None
) -> None:
    from cryptography.hazmat.primitives import serialization

    def spki(public: object) -> bytes:
        return public.public_bytes(  # type: ignore[attr-defined, no-any-return]
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    if spki(certificate.public_key()) != spki(key.public_key()):
        raise ConfigError(
            f"client key {key_path or cert_path} does not match certificate {cert_path}"
        )


@contextlib.contextmanager
def _private_files(cert_pem: bytes, key_pem: bytes) -> Iterator[tuple[str, str]]:
    """Two paths OpenSSL can open, holding ``cert_pem`` and the (encrypted) ``key_pem``."""
    from smsp_cli.system.safefiles import files

    with files().private_copies([cert_pem, key_pem]) as paths:
        yield paths[0], paths[1]
