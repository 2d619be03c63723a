"""The CN shortcut agrees with cryptography or steps aside; plain PEM goes straight to OpenSSL,
and only the configured CA bundle is trusted."""

from __future__ import annotations

import base64
import datetime as dt
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from smsp_cli.domain import notices
from smsp_cli.domain.errors import ConfigError
from smsp_cli.settings import clientcert
from smsp_cli.settings.certname import pem_common_name
from smsp_cli.transport import http as transport

if TYPE_CHECKING:
    from smsp_cli.sandbox.certs import SandboxCredentials

_KEY = ec.generate_private_key(ec.SECP256R1())


def certificate(*attributes: x509.NameAttribute[Any]) -> bytes:
    """A self-signed PEM certificate whose subject is ``attributes``, in that order."""
    name = x509.Name(list(attributes))
    now = dt.datetime.now(dt.UTC)
    built = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer")]))
        .public_key(_KEY.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(_KEY, hashes.SHA256())
    )
    return built.public_bytes(serialization.Encoding.PEM)


def cryptography_cn(pem: bytes) -> str | None:
    names = x509.load_pem_x509_certificate(pem).subject.get_attributes_for_oid(
        NameOID.COMMON_NAME
    )
    return str(names[0].value) if names else None


def cn(value: str, kind: _ASN1Type = _ASN1Type.UTF8String) -> x509.NameAttribute[Any]:
    return x509.NameAttribute(NameOID.COMMON_NAME, value, _type=kind)


@pytest.mark.parametrize(
    "subject",
    [
        (cn("smsp client"),),
        (cn("Dr Zoë Ñoño 医院"),),
        (cn("PRINTABLE 123", _ASN1Type.PrintableString),),
        (cn("ia5@example.org", _ASN1Type.IA5String),),
        (x509.NameAttribute(NameOID.ORGANIZATION_NAME, "NHS"), cn("after the O")),
        (cn("first"), cn("second")),
    ],
    ids=["utf8", "non-ascii", "printable", "ia5", "not-first-rdn", "two-cns"],
)
def test_the_shortcut_reads_what_cryptography_reads(subject: tuple[Any, ...]) -> None:
    pem = certificate(*subject)
    assert pem_common_name(pem) == cryptography_cn(pem)
    assert pem_common_name(pem) is not None


def test_the_sandbox_client_certificate(credentials: SandboxCredentials) -> None:
    pem = credentials.client_cert.read_bytes()
    assert pem_common_name(pem) == credentials.client_cn


def test_the_leaf_is_read_when_a_chain_follows(credentials: SandboxCredentials) -> None:
    pem = credentials.client_cert.read_bytes() + credentials.ca_cert.read_bytes()
    assert pem_common_name(pem) == credentials.client_cn


@pytest.mark.parametrize(
    "pem",
    [
        certificate(cn("wide", _ASN1Type.BMPString)),  # decoded by cryptography, not here
        certificate(x509.NameAttribute(NameOID.ORGANIZATION_NAME, "no CN at all")),
        b"-----BEGIN CERTIFICATE-----\nnot base64 !!\n-----END CERTIFICATE-----\n",
        b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",  # truncated DER
        b"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
        b"",
    ],
    ids=["bmpstring", "no-cn", "not-base64", "truncated", "no-certificate", "empty"],
)
def test_anything_unusual_is_left_to_cryptography(pem: bytes) -> None:
    assert pem_common_name(pem) is None


def test_a_cn_the_shortcut_leaves_is_still_found(tmp_path: Path) -> None:
    path = tmp_path / "wide.pem"
    path.write_bytes(certificate(cn("wide name", _ASN1Type.BMPString)))
    assert clientcert.common_name(path) == "wide name"


def test_a_certificate_without_cn_still_says_so(tmp_path: Path) -> None:
    path = tmp_path / "nocn.pem"
    path.write_bytes(certificate(x509.NameAttribute(NameOID.ORGANIZATION_NAME, "NHS")))
    with pytest.raises(ConfigError, match="has no Subject CN"):
        clientcert.common_name(path)


_SAMPLE = certificate(cn("sample"))


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=len(_SAMPLE) - 1), st.binary(min_size=1, max_size=3))
def test_damaged_certificates_never_raise_or_disagree(at: int, junk: bytes) -> None:
    damaged = _SAMPLE[:at] + junk + _SAMPLE[at + len(junk) :]
    name = pem_common_name(damaged)
    if name is None:
        return
    try:
        expected = cryptography_cn(damaged)
    except (ValueError, x509.InvalidVersion):
        return  # cryptography refuses the whole certificate; TLS will too
    assert name == expected


def test_plain_pem_is_handed_to_openssl(credentials: SandboxCredentials) -> None:
    client = clientcert.for_tls(credentials.client_cert, credentials.client_key)
    assert isinstance(client, clientcert.PemFiles)
    assert client.common_name == credentials.client_cn
    context = transport.ssl_context(
        credentials.ca_cert, credentials.client_cert, credentials.client_key, client=client
    )
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert "PRIVATE" not in repr(client)


def test_one_file_holding_both_is_handed_to_openssl(
    credentials: SandboxCredentials, tmp_path: Path
) -> None:
    both = tmp_path / "both.pem"
    both.write_bytes(credentials.client_cert.read_bytes() + credentials.client_key.read_bytes())
    client = clientcert.for_tls(both)
    assert isinstance(client, clientcert.PemFiles)
    client.load_into(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))


def test_encrypted_keys_and_pkcs12_take_the_full_way(
    credentials: SandboxCredentials, tmp_path: Path
) -> None:
    from tests.unit.settings.test_clientcert import Asked, encrypted_pem, pkcs12_file

    key = encrypted_pem(credentials, tmp_path / "key.pem")
    assert isinstance(
        clientcert.for_tls(credentials.client_cert, key, Asked()), clientcert.ClientCredentials
    )
    p12 = pkcs12_file(credentials, tmp_path / "c.p12")
    assert isinstance(clientcert.for_tls(p12, None, Asked()), clientcert.ClientCredentials)


def test_a_key_that_does_not_match_is_named_as_before(
    credentials: SandboxCredentials, tmp_path: Path
) -> None:
    from smsp_cli.sandbox.certs import make_ca

    make_ca("stray").write(tmp_path / "stray.pem", tmp_path / "stray-key.pem")
    client = clientcert.for_tls(credentials.client_cert, tmp_path / "stray-key.pem")
    with pytest.raises(ConfigError) as caught:
        client.load_into(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    assert caught.value.one_line() == (
        f"client key {tmp_path / 'stray-key.pem'} does not match certificate "
        f"{credentials.client_cert}"
    )


def test_a_key_given_as_the_certificate_is_named_as_before(
    credentials: SandboxCredentials,
) -> None:
    client = clientcert.for_tls(credentials.client_key, credentials.client_key)
    with pytest.raises(ConfigError, match="not readable PEM or PKCS#12"):
        client.load_into(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))


def test_a_plain_key_readable_by_others_is_still_warned_about(
    credentials: SandboxCredentials, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "open-key.pem"
    key.write_bytes(credentials.client_key.read_bytes())
    key.chmod(0o644)
    with notices.collected() as found:
        client = clientcert.for_tls(credentials.client_cert, key)
    assert isinstance(client, clientcert.PemFiles)
    assert found == [notices.Notice(
        f"warning: client key {key} is readable by group or others (mode 0644); "
        f"run `chmod 600 {key}`"
    )]
    assert capsys.readouterr().err == ""  # reported, not written: the command line shows it


def test_only_the_configured_ca_bundle_is_trusted(credentials: SandboxCredentials) -> None:
    client = clientcert.for_tls(credentials.client_cert, credentials.client_key)
    context = transport.ssl_context(
        credentials.ca_cert, credentials.client_cert, credentials.client_key, client=client
    )
    trusted = context.get_ca_certs()
    # Not the system store's hundred-odd CAs (spec §5.8): one CA, the sandbox's.
    assert len(trusted) == 1
    subject = dict(pair[0] for pair in trusted[0]["subject"])  # type: ignore[misc]
    assert subject["commonName"] == "smsp sandbox CA (throwaway)"


def test_a_certificate_of_an_unknown_version_is_left_to_cryptography(tmp_path: Path) -> None:
    der = bytearray(_der(_SAMPLE))
    at = der.index(bytes((0xA0, 0x03, 0x02, 0x01, 0x02)))  # [0] { INTEGER 2 }: v3
    der[at + 4] = 0x3F  # version 63
    pem = _pem(bytes(der))
    assert pem_common_name(pem) is None
    path = tmp_path / "v63.pem"
    path.write_bytes(pem)
    with pytest.raises(ConfigError, match="is not readable PEM or PKCS#12"):
        clientcert.common_name(path)


def _der(pem: bytes) -> bytes:
    body = pem.split(b"-----")[2]
    return base64.b64decode(b"".join(body.split()))


def _pem(der: bytes) -> bytes:
    encoded = base64.encodebytes(der).replace(b"\n", b"")
    lines = [encoded[i : i + 64] for i in range(0, len(encoded), 64)]
    return b"-----BEGIN CERTIFICATE-----\n" + b"\n".join(lines) + b"\n-----END CERTIFICATE-----\n"


@pytest.mark.parametrize(("start", "end"), [
    # UTCTime (before 2050), its 1950-1999 half, and GeneralizedTime (2050 on: RFC 5280 4.1.2.5)
    (dt.datetime(2025, 1, 1, 8, 30, 5, tzinfo=dt.UTC), dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)),
    (dt.datetime(1999, 12, 31, 23, 59, 59, tzinfo=dt.UTC),
     dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=dt.UTC)),
    (dt.datetime(2030, 6, 1, tzinfo=dt.UTC), dt.datetime(2099, 1, 1, tzinfo=dt.UTC)),
])
def test_the_validity_is_read_without_cryptography(start: dt.datetime, end: dt.datetime) -> None:
    from smsp_cli.sandbox.certs import issue_cert, make_ca
    from smsp_cli.settings.certname import pem_validity

    issued = issue_cert(make_ca("a CA"), "a client", server=False, not_before=start,
                        not_after=end)
    assert pem_validity(issued.cert_pem) == (start, end)
    assert pem_validity(b"no certificate here") is None
