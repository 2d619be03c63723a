"""The sandbox's throwaway certificates: made once, kept private, reused only while sound."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import stat
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from smsp_cli.sandbox import certs, paths
from smsp_cli.sandbox.certs import IssuedCert, SandboxCredentials

posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def all_bytes(credentials: SandboxCredentials) -> dict[str, bytes]:
    files = ("ca_cert", "server_cert", "server_key", "client_cert", "client_key")
    return {name: getattr(credentials, name).read_bytes() for name in files}


def write_set(directory: Path, ca: IssuedCert, server: IssuedCert, client: IssuedCert) -> None:
    """Put a hand-made set where ensure_credentials looks."""
    layout = certs.credential_paths(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    certs.write_atomically(layout.ca_cert, ca.cert_pem, private=False)
    server.write(layout.server_cert, layout.server_key)
    client.write(layout.client_cert, layout.client_key)


def sound_set(
    *, client_not_after: dt.datetime | None = None
) -> tuple[IssuedCert, IssuedCert, IssuedCert]:
    ca = certs.make_ca(certs.CA_CN)
    server = certs.issue_cert(ca, certs.SERVER_CN, server=True, sans=certs.SERVER_SANS)
    client = certs.issue_cert(ca, certs.CLIENT_CN, server=False, not_after=client_not_after)
    return ca, server, client


@pytest.fixture
def fresh(tmp_path: Path) -> SandboxCredentials:
    return certs.ensure_credentials(tmp_path / "sandbox")


def test_a_fresh_directory_gets_a_ca_a_server_and_a_client_pair(
    fresh: SandboxCredentials,
) -> None:
    for path in (fresh.ca_cert, fresh.server_cert, fresh.server_key, fresh.client_cert,
                 fresh.client_key):
        assert path.is_file()
        assert path.parent == fresh.directory
    assert fresh.client_cn == "smsp sandbox client"


@posix_only
def test_keys_are_0600_and_the_directory_0700(fresh: SandboxCredentials) -> None:
    assert mode(fresh.directory) == 0o700
    assert mode(fresh.server_key) == 0o600
    assert mode(fresh.client_key) == 0o600
    assert mode(fresh.ca_cert) == 0o644


def test_the_ca_private_key_is_never_written(fresh: SandboxCredentials) -> None:
    pem_keys = [p for p in fresh.directory.iterdir() if b"PRIVATE KEY" in p.read_bytes()]
    assert sorted(pem_keys) == sorted([fresh.server_key, fresh.client_key])


def test_a_second_call_reuses_the_same_files(fresh: SandboxCredentials) -> None:
    again = certs.ensure_credentials(fresh.directory)
    assert again == fresh
    assert all_bytes(again) == all_bytes(fresh)


def test_both_leaves_are_signed_by_the_ca(fresh: SandboxCredentials) -> None:
    ca = load(fresh.ca_cert)
    for leaf in (load(fresh.server_cert), load(fresh.client_cert)):
        leaf.verify_directly_issued_by(ca)  # raises if not
        assert leaf.issuer == ca.subject
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_the_server_certificate_names_every_loopback_address(fresh: SandboxCredentials) -> None:
    server = load(fresh.server_cert)
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert set(sans.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")}
    usage = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_the_client_certificate_is_for_client_authentication(fresh: SandboxCredentials) -> None:
    client = load(fresh.client_cert)
    usage = client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert certs.subject_cn(client) == fresh.client_cn


def test_a_hand_made_sound_set_is_reused(tmp_path: Path) -> None:
    directory = tmp_path / "sandbox"
    write_set(directory, *sound_set())
    before = all_bytes(certs.credential_paths(directory))
    assert all_bytes(certs.ensure_credentials(directory)) == before


def test_a_set_expiring_within_30_days_is_replaced(tmp_path: Path) -> None:
    directory = tmp_path / "sandbox"
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=29)
    write_set(directory, *sound_set(client_not_after=soon))
    old_ca = (directory / certs.CA_CERT_FILE).read_bytes()
    renewed = certs.ensure_credentials(directory)
    assert renewed.ca_cert.read_bytes() != old_ca  # the whole set, CA included, is new
    assert load(renewed.client_cert).not_valid_after_utc > soon


def test_an_expired_set_is_replaced(tmp_path: Path) -> None:
    directory = tmp_path / "sandbox"
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
    ca = certs.make_ca(certs.CA_CN, not_before=long_ago)
    server = certs.issue_cert(ca, "localhost", server=True, sans=certs.SERVER_SANS,
                              not_before=long_ago)
    client = certs.issue_cert(ca, certs.CLIENT_CN, server=False, not_before=long_ago)
    write_set(directory, ca, server, client)
    renewed = certs.ensure_credentials(directory)
    assert load(renewed.ca_cert).not_valid_after_utc > dt.datetime.now(dt.UTC)


def test_a_client_certificate_from_another_ca_makes_a_new_set(tmp_path: Path) -> None:
    directory = tmp_path / "sandbox"
    ca, server, _ = sound_set()
    stranger = certs.issue_cert(certs.make_ca("another CA"), certs.CLIENT_CN, server=False)
    write_set(directory, ca, server, stranger)
    renewed = certs.ensure_credentials(directory)
    load(renewed.client_cert).verify_directly_issued_by(load(renewed.ca_cert))
    assert renewed.ca_cert.read_bytes() != ca.cert_pem


def test_a_key_that_does_not_match_its_certificate_makes_a_new_set(
    fresh: SandboxCredentials,
) -> None:
    other = certs.issue_cert(certs.make_ca("x"), "x", server=False)
    certs.write_atomically(fresh.client_key, other.key_pem, private=True)
    before = fresh.ca_cert.read_bytes()
    assert certs.ensure_credentials(fresh.directory).ca_cert.read_bytes() != before


def test_a_missing_file_makes_a_new_set(fresh: SandboxCredentials) -> None:
    fresh.server_key.unlink()
    renewed = certs.ensure_credentials(fresh.directory)
    assert renewed.server_key.is_file()


def test_a_corrupt_certificate_makes_a_new_set(fresh: SandboxCredentials) -> None:
    before = all_bytes(fresh)
    fresh.ca_cert.write_bytes(b"-----BEGIN CERTIFICATE-----\nnonsense\n")
    renewed = certs.ensure_credentials(fresh.directory)
    # The whole set is replaced, not only the corrupt file: every file is new...
    after = all_bytes(renewed)
    assert [name for name in before if after[name] == before[name]] == []
    # ...a CA that parses, with both new leaves signed by it...
    ca = load(renewed.ca_cert)
    assert ca.subject.rfc4514_string() == "CN=smsp sandbox CA (throwaway)"
    for leaf in (load(renewed.server_cert), load(renewed.client_cert)):
        leaf.verify_directly_issued_by(ca)
    # ...and the next call finds it sound and keeps it.
    assert all_bytes(certs.ensure_credentials(fresh.directory)) == after


@posix_only
def test_a_key_left_readable_by_others_makes_a_new_private_set(
    fresh: SandboxCredentials,
) -> None:
    os.chmod(fresh.client_key, 0o644)
    before = fresh.client_key.read_bytes()
    renewed = certs.ensure_credentials(fresh.directory)
    assert renewed.client_key.read_bytes() != before
    assert mode(renewed.client_key) == 0o600


@posix_only
def test_an_existing_loose_directory_is_tightened(tmp_path: Path) -> None:
    directory = tmp_path / "sandbox"
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)
    certs.ensure_credentials(directory)
    assert mode(directory) == 0o700


def test_processes_starting_together_end_with_one_consistent_set(tmp_path: Path) -> None:
    directory = tmp_path / "sandbox"
    results: list[SandboxCredentials] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            results.append(certs.ensure_credentials(directory))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    on_disk = all_bytes(certs.credential_paths(directory))
    ca = x509.load_pem_x509_certificate(on_disk["ca_cert"])
    for leaf in ("server_cert", "client_cert"):
        x509.load_pem_x509_certificate(on_disk[leaf]).verify_directly_issued_by(ca)
    # A mixed set would be replaced now; one consistent set is reused as it is.
    final = certs.ensure_credentials(directory)
    assert all_bytes(final) == on_disk
    assert all(result == final for result in results)
    assert not [p for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_write_atomically_creates_private_files_with_their_final_mode(tmp_path: Path) -> None:
    target = tmp_path / "secret.pem"
    certs.write_atomically(target, b"data", private=True)
    assert target.read_bytes() == b"data"
    if os.name == "posix":
        assert mode(target) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret.pem"]


def test_issued_cert_write_puts_cert_and_key_in_their_files(tmp_path: Path) -> None:
    issued = certs.issue_cert(certs.make_ca("test CA"), "wrong.example", server=True,
                              sans=("wrong.example",))
    issued.write(tmp_path / "c.pem", tmp_path / "k.pem")
    assert load(tmp_path / "c.pem") == issued.certificate
    assert (tmp_path / "k.pem").read_bytes() == issued.key_pem
    assert issued.common_name == "wrong.example"


def test_building_blocks_make_deliberately_expired_certificates() -> None:
    ca = certs.make_ca("test CA")
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    expired = certs.issue_cert(ca, "old client", server=False,
                               not_before=past - dt.timedelta(days=1), not_after=past)
    assert expired.certificate.not_valid_after_utc < dt.datetime.now(dt.UTC)
    expired.certificate.verify_directly_issued_by(ca.certificate)


def test_sandbox_dir_follows_smsp_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SMSP_DATA_DIR", str(tmp_path))
    assert paths.sandbox_dir() == tmp_path / "sandbox"


def test_sandbox_dir_defaults_to_the_platform_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    monkeypatch.delenv("SMSP_DATA_DIR", raising=False)
    assert paths.sandbox_dir() == Path(platformdirs.user_data_dir("smsp")) / "sandbox"


def test_ensure_credentials_without_a_directory_uses_sandbox_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SMSP_DATA_DIR", str(tmp_path))
    assert certs.ensure_credentials().directory == tmp_path / "sandbox"
