"""A private key or PKCS#12 file that group or others can read is called out; lookups go on."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.lib.cli import smsp
from tests.unit.settings.test_clientcert import pkcs12_file

if TYPE_CHECKING:
    from smsp_cli.sandbox.certs import SandboxCredentials

GET = ("get", "9991000003", "--dob", "1984-03-14", "--json")


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("smsp: warning: ")]


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
@pytest.mark.usefixtures("sandbox_env")
def test_a_loose_pem_key_gets_one_warning_and_the_lookup_goes_on(
    credentials: SandboxCredentials, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: int
) -> None:
    key = tmp_path / "client-key.pem"
    shutil.copy(credentials.client_key, key)
    key.chmod(mode)
    monkeypatch.setenv("SMSP_KEY", str(key))
    run = smsp(*GET)
    assert run.exit_code == 0, run.stderr
    assert run.json()["patient"]["family_name"] == "Fairweather"
    assert _warnings(run.stderr) == [
        f"smsp: warning: client key {key} is readable by group or others (mode {mode:04o}); "
        f"run `chmod 600 {key}`"
    ]


@pytest.mark.usefixtures("sandbox_env")
def test_a_loose_pkcs12_file_gets_one_warning(
    credentials: SandboxCredentials, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = pkcs12_file(credentials, tmp_path / "client.p12", passphrase=None)
    bundle.chmod(0o644)
    monkeypatch.setenv("SMSP_CERT", str(bundle))
    monkeypatch.delenv("SMSP_KEY")
    run = smsp(*GET)
    assert run.exit_code == 0, run.stderr
    assert _warnings(run.stderr) == [
        f"smsp: warning: PKCS#12 file {bundle} is readable by group or others (mode 0644); "
        f"run `chmod 600 {bundle}`"
    ]


@pytest.mark.usefixtures("sandbox_env")
def test_the_sandbox_keys_are_0600_and_draw_no_warning(credentials: SandboxCredentials) -> None:
    assert stat.S_IMODE(credentials.client_key.stat().st_mode) == 0o600
    run = smsp(*GET)
    assert run.exit_code == 0, run.stderr
    assert _warnings(run.stderr) == []


def test_the_built_in_sandbox_profile_draws_no_warning() -> None:
    run = smsp(*GET, "--profile", "sandbox")
    assert run.exit_code == 0, run.stderr
    assert _warnings(run.stderr) == []
