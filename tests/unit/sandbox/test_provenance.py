"""Only a certificate from the data directory's sandbox CA makes an answer the sandbox's."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from smsp_cli.sandbox import certs
from smsp_cli.sandbox.provenance import from_embedded_sandbox


def _der(issued: certs.IssuedCert) -> bytes:
    return issued.certificate.public_bytes(serialization.Encoding.DER)


@pytest.fixture
def sandbox_ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> certs.IssuedCert:
    """A sandbox set in this test's data directory; its CA key kept, to mint lookalikes."""
    monkeypatch.setenv("SMSP_DATA_DIR", str(tmp_path))
    directory = tmp_path / "sandbox"
    directory.mkdir()
    ca = certs.make_ca("smsp sandbox CA (throwaway)")
    (directory / "ca.pem").write_bytes(ca.cert_pem)
    server = certs.issue_cert(ca, "localhost", server=True, sans=("127.0.0.1",))
    (directory / "server.pem").write_bytes(server.cert_pem)
    return ca


def test_the_sandbox_server_certificate_is_the_sandbox(sandbox_ca: certs.IssuedCert,
                                                       tmp_path: Path) -> None:
    pem = (tmp_path / "sandbox" / "server.pem").read_bytes()
    from cryptography import x509

    assert from_embedded_sandbox(
        x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)) is True


def test_another_server_certificate_from_the_sandbox_ca_is_the_sandbox(
    sandbox_ca: certs.IssuedCert,
) -> None:
    # A `sandbox serve` whose certificate is not the one on disk, but from the same CA.
    other = certs.issue_cert(sandbox_ca, "localhost", server=True, sans=("localhost",))
    assert from_embedded_sandbox(_der(other)) is True


def test_the_sandbox_client_certificate_serves_no_one(sandbox_ca: certs.IssuedCert) -> None:
    client = certs.issue_cert(sandbox_ca, "smsp sandbox client", server=False)
    assert from_embedded_sandbox(_der(client)) is False


def test_a_lookalike_ca_of_the_same_name_is_not_the_sandbox(sandbox_ca: certs.IssuedCert) -> None:
    lookalike = certs.make_ca("smsp sandbox CA (throwaway)")
    server = certs.issue_cert(lookalike, "localhost", server=True, sans=("127.0.0.1",))
    assert from_embedded_sandbox(_der(server)) is False


def test_another_ca_s_certificate_or_none_is_not_the_sandbox(sandbox_ca: certs.IssuedCert) -> None:
    provider = certs.issue_cert(certs.make_ca("NHS Digital test CA"), "pds.example",
                                server=True, sans=("pds.example",))
    assert from_embedded_sandbox(_der(provider)) is False
    assert from_embedded_sandbox(None) is False
    assert from_embedded_sandbox(b"") is False
    assert from_embedded_sandbox(b"not DER smsp sandbox CA (throwaway)") is False


def test_without_a_sandbox_ca_in_the_data_directory_nothing_is_the_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SMSP_DATA_DIR", str(tmp_path))
    ca = certs.make_ca("smsp sandbox CA (throwaway)")
    server = certs.issue_cert(ca, "localhost", server=True, sans=("127.0.0.1",))
    assert from_embedded_sandbox(_der(server)) is False


def test_a_renewed_ca_is_read_again(sandbox_ca: certs.IssuedCert, tmp_path: Path) -> None:
    old_server = certs.issue_cert(sandbox_ca, "localhost", server=True, sans=("localhost",))
    assert from_embedded_sandbox(_der(old_server)) is True
    renewed = certs.make_ca("smsp sandbox CA (throwaway)")
    (tmp_path / "sandbox" / "ca.pem").write_bytes(renewed.cert_pem + b"\n")  # another size
    assert from_embedded_sandbox(_der(old_server)) is False


def test_a_renewed_server_certificate_from_the_same_ca_is_still_the_sandbox(
    sandbox_ca: certs.IssuedCert, tmp_path: Path,
) -> None:
    first = (tmp_path / "sandbox" / "server.pem").read_bytes()
    from cryptography import x509

    old = x509.load_pem_x509_certificate(first).public_bytes(serialization.Encoding.DER)
    assert from_embedded_sandbox(old) is True
    renewed = certs.issue_cert(sandbox_ca, "localhost", server=True, sans=("127.0.0.1",))
    (tmp_path / "sandbox" / "server.pem").write_bytes(renewed.cert_pem)
    assert from_embedded_sandbox(_der(renewed)) is True
    assert from_embedded_sandbox(old) is True  # still issued by the same CA


def test_a_moved_data_directory_is_seen_at_the_next_reply(
    sandbox_ca: certs.IssuedCert, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = certs.issue_cert(sandbox_ca, "localhost", server=True, sans=("localhost",))
    assert from_embedded_sandbox(_der(server)) is True
    monkeypatch.setenv("SMSP_DATA_DIR", str(tmp_path / "elsewhere"))
    assert from_embedded_sandbox(_der(server)) is False  # no sandbox CA there
    monkeypatch.setenv("SMSP_DATA_DIR", str(tmp_path))
    assert from_embedded_sandbox(_der(server)) is True


def test_a_removed_ca_is_seen_at_the_next_reply(sandbox_ca: certs.IssuedCert,
                                                tmp_path: Path) -> None:
    server = certs.issue_cert(sandbox_ca, "localhost", server=True, sans=("localhost",))
    assert from_embedded_sandbox(_der(server)) is True
    (tmp_path / "sandbox" / "ca.pem").unlink()
    assert from_embedded_sandbox(_der(server)) is False
