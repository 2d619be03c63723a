"""Client credentials: PEM, encrypted PEM, combined PEM and PKCS#12, loaded without a clear key."""

from __future__ import annotations

import os
import ssl
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from smsp_cli.domain.errors import ConfigError, ExitCode
from smsp_cli.settings import clientcert
from smsp_cli.settings.credentials import Secret
from smsp_cli.transport import http as transport

if TYPE_CHECKING:
    from smsp_cli.sandbox.certs import SandboxCredentials

PASSPHRASE = "p12 passphrase: Ünïcode & spaces"


class Asked:
    """A passphrase getter that counts its calls."""

    def __init__(self, value: str = PASSPHRASE) -> None:
        self.value = value
        self.what: list[str] = []

    def __call__(self, what: str) -> Secret:
        self.what.append(what)
        return Secret(self.value, "the test", "try again")


def _key(credentials: SandboxCredentials) -> Any:
    return serialization.load_pem_private_key(credentials.client_key.read_bytes(), None)


def encrypted_pem(
    credentials: SandboxCredentials, path: Path, passphrase: str = PASSPHRASE
) -> Path:
    path.write_bytes(_key(credentials).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode()),
    ))
    path.chmod(0o600)  # as a key should be: a looser file draws a warning
    return path


def pkcs12_file(
    credentials: SandboxCredentials, path: Path, passphrase: str | None = PASSPHRASE
) -> Path:
    """The sandbox client certificate, key and CA as NHS issues them: one PKCS#12 file."""
    from cryptography import x509

    certificate = x509.load_pem_x509_certificate(credentials.client_cert.read_bytes())
    ca = x509.load_pem_x509_certificate(credentials.ca_cert.read_bytes())
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase else serialization.NoEncryption()
    )
    path.write_bytes(pkcs12.serialize_key_and_certificates(
        b"smsp client", _key(credentials), certificate, [ca], encryption
    ))
    path.chmod(0o600)  # as a key should be: a looser file draws a warning
    return path


def test_plain_pem_needs_no_passphrase(credentials: SandboxCredentials) -> None:
    asked = Asked()
    loaded = clientcert.load(credentials.client_cert, credentials.client_key, asked)
    assert loaded.common_name == credentials.client_cn
    assert asked.what == []
    assert not clientcert.needs_passphrase(credentials.client_cert, credentials.client_key)


def test_encrypted_pem_asks_once_naming_the_key(
    credentials: SandboxCredentials, tmp_path: Path
) -> None:
    key = encrypted_pem(credentials, tmp_path / "key.pem")
    asked = Asked()
    loaded = clientcert.load(credentials.client_cert, key, asked)
    assert asked.what == [f"client key {key}"]
    assert loaded.common_name == credentials.client_cn
    assert clientcert.needs_passphrase(credentials.client_cert, key)


def test_wrong_passphrase_names_the_file_and_source_not_the_passphrase(
    credentials: SandboxCredentials, tmp_path: Path
) -> None:
    key = encrypted_pem(credentials, tmp_path / "key.pem")
    with pytest.raises(ConfigError) as caught:
        clientcert.load(credentials.client_cert, key, Asked("wrong guess"))
    line = caught.value.one_line()
    assert line.startswith(f"the passphrase from the test does not unlock client key {key}")
    assert "wrong guess" not in line
    assert caught.value.exit_code == ExitCode.CONFIG


def test_encrypted_key_without_any_source_is_a_config_error(
    credentials: SandboxCredentials, tmp_path: Path
) -> None:
    key = encrypted_pem(credentials, tmp_path / "key.pem")
    with pytest.raises(ConfigError, match="is encrypted"):
        clientcert.load(credentials.client_cert, key)


def test_one_pem_file_holding_certificate_and_key(
    credentials: SandboxCredentials, tmp_path: Path
) -> None:
    both = tmp_path / "both.pem"  # what `openssl pkcs12 -nodes` produces (spec §5.8)
    both.write_bytes(credentials.client_cert.read_bytes() + credentials.client_key.read_bytes())
    assert clientcert.load(both).common_name == credentials.client_cn


def test_certificate_without_key_says_which_flag(credentials: SandboxCredentials) -> None:
    with pytest.raises(ConfigError, match="holds no key") as caught:
        clientcert.load(credentials.client_cert)
    assert "--key" in caught.value.one_line()


@pytest.mark.parametrize("suffix", [".p12", ".pfx"])
def test_pkcs12_with_a_passphrase(
    credentials: SandboxCredentials, tmp_path: Path, suffix: str
) -> None:
    path = pkcs12_file(credentials, tmp_path / f"client{suffix}")
    asked = Asked()
    loaded = clientcert.load(path, None, asked)
    assert asked.what == [f"PKCS#12 file {path}"]
    assert loaded.common_name == credentials.client_cn
    assert len(loaded.chain) == 1  # the CA came along, sent after the leaf (spec §5.8)
    assert clientcert.common_name(path, None, Asked()) == credentials.client_cn


def test_pkcs12_without_a_passphrase(credentials: SandboxCredentials, tmp_path: Path) -> None:
    path = pkcs12_file(credentials, tmp_path / "open.p12", passphrase=None)
    asked = Asked()
    clientcert.load(path, None, asked)
    assert asked.what == []


def test_pkcs12_with_the_wrong_passphrase(credentials: SandboxCredentials, tmp_path: Path) -> None:
    path = pkcs12_file(credentials, tmp_path / "client.p12")
    with pytest.raises(ConfigError) as caught:
        clientcert.load(path, None, Asked("nope"))
    assert f"does not open PKCS#12 file {path}" in caught.value.one_line()


def test_junk_is_neither_pem_nor_pkcs12_and_no_passphrase_is_asked(tmp_path: Path) -> None:
    junk = tmp_path / "junk.p12"
    junk.write_bytes(b"\x00\x01 not a certificate")
    asked = Asked()
    with pytest.raises(ConfigError, match="not readable PEM or PKCS#12"):
        clientcert.load(junk, None, asked)
    assert asked.what == []


def test_missing_files_are_named(credentials: SandboxCredentials, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"client certificate .*absent.pem does not exist"):
        clientcert.load(tmp_path / "absent.pem", credentials.client_key)
    with pytest.raises(ConfigError, match=r"client key .*absent-key.pem does not exist"):
        clientcert.load(credentials.client_cert, tmp_path / "absent-key.pem")


def test_mismatched_key_names_both_files(credentials: SandboxCredentials, tmp_path: Path) -> None:
    from smsp_cli.sandbox.certs import make_ca

    make_ca("stray").write(tmp_path / "stray.pem", tmp_path / "stray-key.pem")
    with pytest.raises(ConfigError) as caught:
        clientcert.load(credentials.client_cert, tmp_path / "stray-key.pem")
    assert caught.value.one_line() == (
        f"client key {tmp_path / 'stray-key.pem'} does not match certificate "
        f"{credentials.client_cert}"
    )


class _Recorder:
    """Stands in for SSLContext.load_cert_chain and keeps what OpenSSL would have read."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.paths: list[str] = []
        self.password: Any = None

    def load_cert_chain(self, certfile: str, keyfile: str, password: Any) -> None:
        self.paths = [certfile, keyfile]
        self.files = {"cert": Path(certfile).read_bytes(), "key": Path(keyfile).read_bytes()}
        self.password = password


def test_the_key_reaches_openssl_encrypted_and_in_memory(
    credentials: SandboxCredentials, tmp_path: Path
) -> None:
    loaded = clientcert.load(pkcs12_file(credentials, tmp_path / "c.p12"), None, Asked())
    recorder = _Recorder()
    loaded.load_into(recorder)  # type: ignore[arg-type]
    assert b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in recorder.files["key"]
    assert b"-----BEGIN PRIVATE KEY-----" not in recorder.files["key"]
    assert recorder.files["cert"].count(b"BEGIN CERTIFICATE") == 2  # leaf and CA
    assert PASSPHRASE.encode() != recorder.password  # a one-time password, not the user's
    if hasattr(os, "memfd_create"):
        assert all(path.startswith("/proc/self/fd/") for path in recorder.paths)
        for path in recorder.paths:  # closed: the number may be reused, but not by our memfd
            assert not Path(path).exists() or "smsp-client" not in os.readlink(path)


def test_without_memfd_a_private_temporary_directory_is_used_and_removed(
    credentials: SandboxCredentials, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delattr(os, "memfd_create", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    loaded = clientcert.load(credentials.client_cert, credentials.client_key)
    seen: dict[str, int] = {}

    class Checking(_Recorder):
        def load_cert_chain(self, certfile: str, keyfile: str, password: Any) -> None:
            super().load_cert_chain(certfile, keyfile, password)
            seen["dir"] = os.stat(Path(keyfile).parent).st_mode & 0o777
            seen["key"] = os.stat(keyfile).st_mode & 0o777

    recorder = Checking()
    loaded.load_into(recorder)  # type: ignore[arg-type]
    assert seen == {"dir": 0o700, "key": 0o600}
    assert b"ENCRYPTED PRIVATE KEY" in recorder.files["key"]
    assert not list(tmp_path.glob("smsp-tls-*"))  # deleted straight after loading


def test_a_real_context_accepts_the_loaded_chain(
    credentials: SandboxCredentials, tmp_path: Path
) -> None:
    key = encrypted_pem(credentials, tmp_path / "key.pem")
    loaded = clientcert.load(credentials.client_cert, key, Asked())
    context = transport.ssl_context(
        credentials.ca_cert, credentials.client_cert, key, client=loaded, min_tls_version="1.3"
    )
    assert context.minimum_version == ssl.TLSVersion.TLSv1_3
    assert context.verify_mode == ssl.CERT_REQUIRED


def test_repr_never_shows_the_key(credentials: SandboxCredentials) -> None:
    loaded = clientcert.load(credentials.client_cert, credentials.client_key)
    assert "PRIVATE" not in repr(loaded)
    assert "Key" not in repr(loaded).replace("key=", "")
