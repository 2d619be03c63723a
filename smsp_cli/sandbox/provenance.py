"""Was an answer given by the embedded sandbox? Decided by the certificate, never by the reply.

The embedded sandbox (in-process, or ``smsp sandbox serve``) presents a server certificate
issued by the throwaway CA that smsp created in its data directory (:mod:`.certs`); that CA's
private key was never written, so no other server can hold a certificate it signed (the TLS
handshake proved the server holds the key of the certificate it presented). An answer is the
sandbox's, and its data synthetic, only when that certificate, from the answer's own
connection, is a serverAuth certificate whose signature verifies against that CA. A
``Server`` header, a body or a host name can say anything and decides nothing.

Fast, and without cryptography's import (about 75 ms) on the common paths:

* the certificate is the data directory's own ``server.pem`` byte for byte: the sandbox's
  (smsp writes the set only whole, each leaf checked against its CA);
* its DER does not hold the sandbox CA's name, which its issuer must be: not the sandbox's
  (every real provider);
* anything else (a sandbox still serving a set since replaced, a lookalike) is verified with
  ``cryptography``.

Each file is read once per process (again if it changes), each certificate judged once.
"""

from __future__ import annotations

import functools
import ssl
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smsp_cli.sandbox.paths import CA_CERT_FILE, CA_CN, SERVER_CERT_FILE, sandbox_dir

if TYPE_CHECKING:
    from cryptography import x509

_FileId = tuple[int, int, int]  # inode, mtime in ns, size: a changed file is read again
_lock = threading.Lock()
_read: dict[Path, tuple[_FileId, bytes]] = {}
_judged: dict[tuple[_FileId, bytes], bool] = {}
_MAX_JUDGED = 64  # distinct server certificates remembered (a pool has a handful)
_CA_NAME = CA_CN.encode("utf-8")  # as an issuer's CN (UTF8String) carries it


def from_embedded_sandbox(server_certificate: bytes | None) -> bool:
    """True when ``server_certificate`` (DER) was issued by the data directory's sandbox CA."""
    if not server_certificate:
        return False
    directory = sandbox_dir()
    ca = _file(directory / CA_CERT_FILE)
    if ca is None:
        return False  # no sandbox CA: nothing can be this smsp's sandbox
    ca_id, ca_pem = ca
    server = _file(directory / SERVER_CERT_FILE)
    if server is not None and _der(server[1]) == server_certificate:
        return True
    if _CA_NAME not in server_certificate:
        return False
    with _lock:
        known = _judged.get((ca_id, server_certificate))
    if known is not None:
        return known
    verdict = _issued_by(server_certificate, ca_pem)
    with _lock:
        if len(_judged) >= _MAX_JUDGED:
            _judged.clear()
        _judged[(ca_id, server_certificate)] = verdict
    return verdict


def _file(path: Path) -> tuple[_FileId, bytes] | None:
    try:
        found = path.stat()
    except OSError:
        return None
    identity = (found.st_ino, found.st_mtime_ns, found.st_size)
    with _lock:
        cached = _read.get(path)
    if cached is not None and cached[0] == identity:
        return cached
    try:
        data = path.read_bytes()
    except OSError:
        return None
    with _lock:
        _read[path] = (identity, data)
    return identity, data


@functools.lru_cache(maxsize=4)  # the same server.pem for every reply of a batch
def _der(pem: bytes) -> bytes | None:
    try:
        return ssl.PEM_cert_to_DER_cert(pem.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return None


def _issued_by(der: bytes, ca_pem: bytes) -> bool:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.x509.oid import ExtendedKeyUsageOID

    try:
        ca: x509.Certificate = x509.load_pem_x509_certificate(ca_pem)
        leaf = x509.load_der_x509_certificate(der)
        leaf.verify_directly_issued_by(ca)
        # The sandbox's client certificate is issued by the same CA: it serves no one.
        purposes: Any = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    return ExtendedKeyUsageOID.SERVER_AUTH in purposes
