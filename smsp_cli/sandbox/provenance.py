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

Each file is read once per process (again if it changes), each certificate judged once; a
reply from the server that answered the last costs one stat of ``ca.pem``, so a renewed CA
is seen at the next reply.
"""

from __future__ import annotations

import functools
import os
import ssl
import threading
from typing import TYPE_CHECKING, Any

from smsp_cli.sandbox.paths import CA_CERT_FILE, CA_CN, SERVER_CERT_FILE, sandbox_dir
from smsp_cli.system.files import DATA_DIR_VARIABLE

if TYPE_CHECKING:
    from cryptography import x509

_FileId = tuple[int, int, int]  # inode, mtime in ns, size: a changed file is read again
_lock = threading.Lock()
_read: dict[str, tuple[_FileId, bytes]] = {}
_judged: dict[tuple[_FileId, bytes], bool] = {}
_MAX_JUDGED = 64  # distinct server certificates remembered (a pool has a handful)
_CA_NAME = CA_CN.encode("utf-8")  # as an issuer's CN (UTF8String) carries it

# The last verdict and what it was given: the CA file's identity (a renewed CA is never judged
# from what it held before) and the certificate. A batch's replies all come from the same
# server, so each but the first costs one stat. server.pem need not be looked at again: smsp
# writes a leaf only once checked against the CA beside it, so a certificate that was
# server.pem is the CA's whether or not server.pem has been renewed since, and a verdict of
# False never came from server.pem.
_Key = tuple[str, _FileId, bytes]
_last: tuple[_Key, bool] | None = None


def from_embedded_sandbox(server_certificate: bytes | None) -> bool:
    """True when ``server_certificate`` (DER) was issued by the data directory's sandbox CA."""
    global _last
    if not server_certificate:
        return False
    ca_path, server_path = _paths(_placing())
    ca_id = _identity(ca_path)
    if ca_id is None:
        return False  # no sandbox CA: nothing can be this smsp's sandbox
    key = (ca_path, ca_id, server_certificate)
    last = _last
    if last is not None and last[0] == key:
        return last[1]
    verdict = _judge(ca_path, ca_id, server_path, server_certificate)
    _last = (key, verdict)
    return verdict


def _placing() -> tuple[str | None, ...]:
    """What places the data directory: $SMSP_DATA_DIR, else the variables the platform's user
    data directory follows."""
    override = os.environ.get(DATA_DIR_VARIABLE)
    if override and override.strip():
        return (override,)
    return (override, os.environ.get("HOME"), os.environ.get("XDG_DATA_HOME"))


@functools.lru_cache(maxsize=8)
def _paths(_placed_by: tuple[str | None, ...]) -> tuple[str, str]:
    """ca.pem and server.pem of sandbox/ (what places the folder keys the cache: a test that
    moves the data directory is seen at once)."""
    directory = sandbox_dir()
    return str(directory / CA_CERT_FILE), str(directory / SERVER_CERT_FILE)


def _identity(path: str) -> _FileId | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_ino, found.st_mtime_ns, found.st_size


def _judge(ca_path: str, ca_id: _FileId, server_path: str, server_certificate: bytes) -> bool:
    ca_pem = _file(ca_path, ca_id)
    if ca_pem is None:
        return False
    server_id = _identity(server_path)
    server_pem = None if server_id is None else _file(server_path, server_id)
    if server_pem is not None and _der(server_pem) == server_certificate:
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


def _file(path: str, identity: _FileId) -> bytes | None:
    """The file's bytes, read again only when its identity has changed since last read."""
    with _lock:
        cached = _read.get(path)
    if cached is not None and cached[0] == identity:
        return cached[1]
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError:
        return None
    with _lock:
        _read[path] = (identity, data)
    return data


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
