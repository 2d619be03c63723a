"""`smsp doctor` for PDS FHIR against the FHIR sandbox over real HTTPS: every layer's failure."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.lib.cli import smsp

if TYPE_CHECKING:
    from smsp_cli.sandbox.fhir_server import FhirSandboxServer


def doctor() -> tuple[int, dict[str, Any]]:
    run = smsp("doctor", "--json")
    return run.exit_code, run.json()


def layer(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(item for item in report["layers"] if item["name"] == name)


@pytest.mark.usefixtures("fhir_env")
def test_every_fhir_layer_passes_in_its_order() -> None:
    code, report = doctor()
    assert code == 0, report
    assert [item["name"] for item in report["layers"]] == [
        "config", "signing_key", "dns", "tcp", "tls", "token", "fhir", "clock"]
    assert layer(report, "token")["facts"]["token"] == "[redacted]"
    assert layer(report, "fhir")["facts"]["response"] == "SMSP-0000 Success"


@pytest.mark.usefixtures("fhir_env")
@pytest.mark.parametrize(
    ("variable", "value", "cause"),
    [
        ("SMSP_SIGNING_KEY_ID", "unknown-kid", "no public key is registered under this "
         "signing key id"),
        ("SMSP_API_KEY", "someone-else", "the API key (the JWT's iss and sub) is not a known"),
        ("SMSP_API_KEY", "smsp-sandbox-no-public-key", "no public key is registered for this "
         "application"),
    ],
)
def test_each_token_refusal_fails_the_token_layer_exit_18(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, cause: str
) -> None:
    monkeypatch.setenv(variable, value)
    code, report = doctor()
    assert code == 18
    token = layer(report, "token")
    assert token["status"] == "fail"
    assert cause in token["summary"]
    assert token["next_step"]
    assert layer(report, "fhir")["status"] == "skipped"


def test_a_wrong_token_url_fails_the_token_layer(
    fhir_env: dict[str, str], fhir_sandbox: FhirSandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMSP_TOKEN_URL", fhir_sandbox.base_url + "/oauth2/token2")
    code, report = doctor()
    assert code == 18
    assert "the token URL has no token service" in layer(report, "token")["cause"]


def test_an_untrusted_server_fails_tls_exit_14(fhir_env: dict[str, str], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from smsp_cli.sandbox.certs import make_ca

    other = tmp_path / "other-ca.pem"
    other.write_bytes(make_ca("another CA").cert_pem)
    monkeypatch.setenv("SMSP_CA_BUNDLE", str(other))
    code, report = doctor()
    assert code == 14
    assert "is not trusted" in layer(report, "tls")["summary"]
    assert layer(report, "token")["status"] == "skipped"


def test_a_clock_three_minutes_behind_fails_the_clock_layer_exit_17(
    fhir_env: dict[str, str], fhir_sandbox: FhirSandboxServer
) -> None:
    fhir_sandbox.clock_offset = 180.0  # the server is three minutes ahead of us
    try:
        code, report = doctor()
    finally:
        fhir_sandbox.clock_offset = 0.0
    assert code == 17, report
    clock = layer(report, "clock")
    assert clock["summary"] == "local clock is 3.0 min behind the server"
    assert "exp" in clock["cause"]


def test_a_clock_far_ahead_is_refused_at_sign_in_with_the_clock_as_cause(
    fhir_env: dict[str, str], fhir_sandbox: FhirSandboxServer
) -> None:
    fhir_sandbox.clock_offset = -600.0  # we are ten minutes ahead: exp is too far ahead
    try:
        code, report = doctor()
    finally:
        fhir_sandbox.clock_offset = 0.0
    assert code == 18
    assert "more than 5 minutes ahead" in layer(report, "token")["summary"]
    assert "clock" in layer(report, "token")["next_step"]
