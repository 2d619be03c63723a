"""--dry-run needs nothing secret: no certificate, key, CA bundle, passphrase or endpoint."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from lxml import etree

from smsp_cli.adapters.smsp.dryrun import (
    AUDIT_ID_PLACEHOLDER,
    ENDPOINT_PLACEHOLDER,
    USERNAME_PLACEHOLDER,
)
from smsp_cli.adapters.smsp.xmlsafe import NS
from tests.lib.cli import smsp
from tests.unit.settings.test_clientcert import PASSPHRASE, pkcs12_file

if TYPE_CHECKING:
    from smsp_cli.sandbox.certs import SandboxCredentials
    from tests.lib.hostile import HostileProvider

COMMANDS = {
    "verify": ("verify", "9991000003", "--dob", "1984-03-14"),
    "get": ("get", "9991000003", "--dob", "1984-03-14"),
    "search": ("search", "--family", "Fairweather", "--dob", "1984-03-14", "--gender", "f"),
    "trace": ("trace", "--family", "Fairweather", "--dob", "1984", "--gender", "f"),
    "details": ("details", "--dob", "1984-03-14", "--nhs-number", "9991000003"),
}
USERNAME = "soap:Header/wsse:Security/wsse:UsernameToken/wsse:Username"


def _envelope(stdout: str) -> etree._Element:
    return etree.fromstring(stdout.encode("utf-8"))  # well-formed, or this raises


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_dry_run_with_nothing_configured_shows_placeholders(command: str) -> None:
    run = smsp(*COMMANDS[command], "--dry-run")
    assert run.exit_code == 0, run.stderr
    root = _envelope(run.stdout)
    assert root.findtext("soap:Header/wsa:To", namespaces=NS) == ENDPOINT_PLACEHOLDER
    assert root.findtext(USERNAME, namespaces=NS) == USERNAME_PLACEHOLDER
    audit = root.find(
        "soap:Body/itk:DistributionEnvelope/itk:header/itk:auditIdentity/itk:id", NS
    )
    assert audit is not None
    assert audit.get("uri") == AUDIT_ID_PLACEHOLDER
    assert run.stderr.startswith(f"dry run: nothing sent to {ENDPOINT_PLACEHOLDER} ")


def test_dry_run_never_asks_for_a_passphrase_the_cn_would_need(
    credentials: SandboxCredentials, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smsp_cli.settings import credentials as passphrases

    locked = pkcs12_file(credentials, tmp_path / "nhs-endpoint.p12", PASSPHRASE)
    monkeypatch.setenv("SMSP_CERT", str(locked))
    monkeypatch.setenv("SMSP_ENDPOINT", "https://provider.example/smsp/pds")
    monkeypatch.setenv("SMSP_AUDIT_ID", "868000003114")

    def no_prompt(prompt: str) -> str:
        raise AssertionError(f"a dry run asked: {prompt}")

    monkeypatch.setattr(passphrases, "stdin_is_terminal", lambda: True)
    monkeypatch.setattr(passphrases, "prompt_hidden", no_prompt)
    run = smsp(*COMMANDS["get"], "--dry-run")
    assert run.exit_code == 0, run.stderr
    root = _envelope(run.stdout)
    assert root.findtext(USERNAME, namespaces=NS) == USERNAME_PLACEHOLDER
    assert root.findtext("soap:Header/wsa:To", namespaces=NS) == (
        "https://provider.example/smsp/pds"
    )
    assert "Passphrase" not in run.stderr


@pytest.mark.usefixtures("sandbox_env")
def test_dry_run_with_settings_uses_them_and_the_cn() -> None:
    run = smsp(*COMMANDS["get"], "--dry-run")
    assert run.exit_code == 0, run.stderr
    root = _envelope(run.stdout)
    assert root.findtext(USERNAME, namespaces=NS) == "smsp sandbox client"
    assert root.findtext("soap:Header/wsa:To", namespaces=NS).startswith("https://127.0.0.1:")


def test_dry_run_opens_no_connection(hostile: HostileProvider) -> None:
    for command in COMMANDS.values():
        assert smsp(*command, "--dry-run").exit_code == 0
    assert hostile.connections == 0
    assert smsp(*COMMANDS["get"]).exit_code == 0  # the provider was there all along
    assert hostile.connections == 1
