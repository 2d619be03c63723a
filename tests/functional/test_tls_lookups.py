"""A lookup's own TLS checks, end to end: the server's host name and the lowest TLS version.

doctor reports both; these prove a lookup enforces them, before any HTTP request is sent.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from smsp_cli.sandbox.certs import SandboxCredentials, issue_cert, make_ca, write_atomically
from smsp_cli.sandbox.embedded import SANDBOX_AUDIT_ID
from smsp_cli.sandbox.server import SandboxServer
from tests.lib.cli import Run, smsp

GET = ("get", "9991000003", "--dob", "1984-03-14")


@dataclass(frozen=True)
class Servers:
    ca: Path
    client: tuple[Path, Path]
    right_name: SandboxCredentials  # a server certificate for 127.0.0.1
    wrong_name: SandboxCredentials  # a server certificate for provider.example only


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Servers:
    directory = tmp_path_factory.mktemp("tls-lookups")
    ca = make_ca("lookup test CA")
    write_atomically(directory / "ca.pem", ca.cert_pem, private=False)
    client = issue_cert(ca, "lookup client", server=False)
    client.write(directory / "client.pem", directory / "client-key.pem")

    def server_set(name: str, cn: str, sans: tuple[str, ...]) -> SandboxCredentials:
        folder = directory / name
        folder.mkdir(mode=0o700)
        issued = issue_cert(ca, cn, server=True, sans=sans)
        issued.write(folder / "server.pem", folder / "server-key.pem")
        return SandboxCredentials(
            folder, directory / "ca.pem", folder / "server.pem", folder / "server-key.pem",
            directory / "client.pem", directory / "client-key.pem", client.common_name,
        )

    return Servers(
        ca=directory / "ca.pem",
        client=(directory / "client.pem", directory / "client-key.pem"),
        right_name=server_set("right", "localhost", ("localhost", "127.0.0.1")),
        wrong_name=server_set("wrong", "provider.example", ("provider.example",)),
    )


def _lookup(servers: Servers, url: str, *extra: str) -> Run:
    cert, key = servers.client
    return smsp(*GET, "--endpoint", url, "--ca-bundle", str(servers.ca), "--cert", str(cert),
                "--key", str(key), "--audit-id", SANDBOX_AUDIT_ID, "--max-attempts", "1",
                "--timeout", "5", *extra)


def _error_line(run: Run) -> str:
    lines = [line for line in run.stderr.splitlines() if line.startswith("smsp: error: ")]
    assert len(lines) == 1, run.stderr
    return lines[0]


def test_a_server_certificate_for_another_host_fails_the_lookup_before_any_request(
    servers: Servers,
) -> None:
    with SandboxServer(servers.wrong_name) as server:
        run = _lookup(servers, server.url)
        received = server.requests
    assert run.exit_code == 5, run.stderr
    assert run.stdout == ""
    line = _error_line(run)
    assert "server certificate of 127.0.0.1:" in line
    assert "failed verification: IP address mismatch, certificate is not valid for " \
        "'127.0.0.1'" in line
    assert received == []  # the handshake failed: no HTTP request reached the server


def test_the_same_lookup_against_the_right_name_succeeds(servers: Servers) -> None:
    # The control for the test above: the same CA, client and request, the right name.
    with SandboxServer(servers.right_name) as server:
        run = _lookup(servers, server.url)
        received = server.requests
    assert run.exit_code == 0, run.stderr
    assert len(received) == 1


@pytest.fixture(scope="module")
def tls12_only(servers: Servers) -> Iterator[SandboxServer]:
    """A provider that speaks TLS 1.2 at the most."""
    server = SandboxServer(servers.right_name)
    server.ssl_context.maximum_version = ssl.TLSVersion.TLSv1_2
    with server:
        yield server


@pytest.mark.parametrize("how", ["flag", "variable"])
def test_min_tls_version_1_3_refuses_a_tls_1_2_only_server(
    servers: Servers, tls12_only: SandboxServer, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = len(tls12_only.requests)
    if how == "flag":
        run = _lookup(servers, tls12_only.url, "--min-tls-version", "1.3")
    else:
        monkeypatch.setenv("SMSP_MIN_TLS_VERSION", "1.3")
        run = _lookup(servers, tls12_only.url)
    assert run.exit_code == 5, run.stderr
    assert run.stdout == ""
    assert _error_line(run).startswith("smsp: error: TLS handshake with 127.0.0.1:")
    assert len(tls12_only.requests) == before  # nothing sent


@pytest.mark.parametrize("version", ["1.2", None])
def test_min_tls_version_1_2_or_the_default_reaches_a_tls_1_2_only_server(
    servers: Servers, tls12_only: SandboxServer, version: str | None
) -> None:
    before = len(tls12_only.requests)
    extra = ("--min-tls-version", version) if version else ()
    run = _lookup(servers, tls12_only.url, *extra, "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["response_code"] == "SMSP-0000"
    assert len(tls12_only.requests) == before + 1
