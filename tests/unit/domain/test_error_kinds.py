"""Failures every request would share are told apart by type and status, not by message text."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from smsp_cli import service
from smsp_cli.domain import operations
from smsp_cli.domain.errors import ProviderFailed, ProviderRejected, Unreachable, UntrustedServer
from smsp_cli.domain.models import build_query
from smsp_cli.sandbox.certs import SandboxCredentials, make_ca
from smsp_cli.sandbox.embedded import settings_for
from smsp_cli.sandbox.server import SandboxServer
from smsp_cli.settings.connection import ConnectionSettings, gather, resolve
from tests.lib.ports import closed_port

QUERY = build_query(operations.GET, nhs_number="9991000003", dob="1984-03-14")


def _settings(credentials: SandboxCredentials, url: str, **changes: str) -> ConnectionSettings:
    return resolve(gather({}, {}, {**settings_for(url, credentials), **changes}))


def _status(status: int) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(status, content=b""))


@pytest.mark.parametrize(
    ("status", "kind"), [(401, ProviderRejected), (403, ProviderRejected), (503, ProviderFailed)]
)
def test_http_error_without_a_fault_carries_its_status(
    credentials: SandboxCredentials, status: int, kind: type[Exception]
) -> None:
    settings = _settings(credentials, "https://provider.test/smsp/pds", max_attempts="1")
    with pytest.raises(kind) as caught:
        service.call(QUERY, settings, transport=_status(status))
    assert isinstance(caught.value, ProviderRejected | ProviderFailed)
    assert caught.value.http_status == status


def test_a_fault_or_a_network_failure_carries_no_status(
    credentials: SandboxCredentials, sandbox: SandboxServer
) -> None:
    settings = _settings(credentials, sandbox.url)
    denied = build_query(operations.GET, nhs_number="9991000186", dob="1970-01-26")
    with pytest.raises(ProviderRejected) as caught:
        service.call(denied, settings)
    assert caught.value.fault is not None
    assert caught.value.fault.error_code == "3000"
    assert caught.value.http_status is None


def test_server_certificate_failing_verification_is_untrusted_server(
    credentials: SandboxCredentials, sandbox: SandboxServer, tmp_path: Path
) -> None:
    other = make_ca("some other CA")
    other.write(tmp_path / "other-ca.pem", tmp_path / "other-ca.key")
    settings = _settings(credentials, sandbox.url, ca_bundle=str(tmp_path / "other-ca.pem"))
    with pytest.raises(UntrustedServer, match="failed verification") as caught:
        service.call(QUERY, settings)
    assert caught.value.exit_code == 5


def test_connection_refused_is_unreachable_but_not_untrusted(
    credentials: SandboxCredentials,
) -> None:

    port = closed_port()
    settings = _settings(credentials, f"https://127.0.0.1:{port}/smsp/pds", max_attempts="1")
    with pytest.raises(Unreachable) as caught:
        service.call(QUERY, settings)
    assert not isinstance(caught.value, UntrustedServer)
