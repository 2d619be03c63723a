"""Every command that prints data takes -o json and --json, with the shape the README documents.

A script that learnt `-o json` on `smsp get` must not be refused by `smsp doctor` or
`smsp sandbox patients`, and `config show`, `config profiles` and `auth status` have JSON too;
the passphrase and the PDS FHIR API key never appear in any of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from smsp_cli.settings import config
from tests.lib.cli import smsp
from tests.unit.settings.test_clientcert import encrypted_pem

if TYPE_CHECKING:
    from smsp_cli.sandbox.certs import SandboxCredentials

SECRET_PASSPHRASE = "horse-battery-staple-4471"
SECRET_API_KEY = "Zq8sandboxKEYnever2show"


def test_sandbox_patients_takes_dash_o_json_and_keeps_json() -> None:
    by_output = smsp("sandbox", "patients", "-o", "json")
    by_flag = smsp("sandbox", "patients", "--json")
    assert by_output.exit_code == by_flag.exit_code == 0, by_output.stderr
    assert by_output.stdout == by_flag.stdout
    rows = by_output.json()
    assert len(rows) == 22
    first = rows[0]
    assert first["nhs_number"] == "9991000003"
    assert first["family_name"] == "Fairweather"
    assert first["given_names"] == ["Eleanor", "Mary"]
    assert first["birth_date"] == "1984-03-14"
    assert first["postcode"] == "BO1 4QX"
    assert first["scenario"] == "found"


def test_a_data_command_refuses_an_output_it_does_not_have() -> None:
    run = smsp("sandbox", "patients", "-o", "xml")
    assert run.exit_code == 2
    assert "'xml' is not one of 'table', 'json'" in run.stderr


@pytest.mark.usefixtures("sandbox_env")
def test_doctor_takes_dash_o_json_with_the_report_json_gives() -> None:
    run = smsp("doctor", "-o", "json")
    assert run.exit_code == 0, run.stdout + run.stderr
    report = run.json()
    assert report["schema"] == 1
    assert report["ok"] is True
    assert report["failed_layer"] is None
    assert [layer["status"] for layer in report["layers"]] == ["pass"] * 8


@pytest.fixture
def live_profile(credentials: SandboxCredentials, tmp_path: Path) -> Path:
    """Profile 'live' (the default) with an encrypted key whose passphrase is in a file."""
    key = encrypted_pem(credentials, tmp_path / "locked.pem", SECRET_PASSPHRASE)
    secret = tmp_path / "passphrase"
    secret.write_text(SECRET_PASSPHRASE + "\n", encoding="utf-8")
    secret.chmod(0o600)
    values: dict[str, config.Value] = {
        "kind": "test",
        "endpoint": "https://provider.example/smsp/pds",
        "cert": str(credentials.client_cert),
        "key": str(key),
        "ca_bundle": str(credentials.ca_cert),
        "audit_id": "868000003114",
        "passphrase_file": str(secret),
    }
    config.save(config.Config(config.config_path(), "live", {"live": values}))
    return secret


def test_config_profiles_json(live_profile: Path) -> None:
    run = smsp("config", "profiles", "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json() == {
        "schema": 1,
        "config_file": str(config.config_path()),
        "default": "live",
        "profiles": [
            {"name": "live", "kind": "test", "endpoint": "https://provider.example/smsp/pds",
             "default": True, "built_in": False},
            {"name": "sandbox", "kind": "sandbox", "endpoint": None, "default": False,
             "built_in": True},
        ],
    }
    assert smsp("config", "profiles", "-o", "json").stdout == run.stdout


def test_config_show_json_says_where_each_value_came_from(
    live_profile: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMSP_TIMEOUT", "7")
    run = smsp("config", "show", "-o", "json")
    assert run.exit_code == 0, run.stderr
    shown = run.json()
    assert set(shown) == {"schema", "config_file", "profile", "settings", "passphrase"}
    assert shown["profile"] == "live"
    where = f"profile live ({config.config_path()})"
    assert shown["settings"]["endpoint"] == {
        "value": "https://provider.example/smsp/pds", "set": True, "source": where}
    assert shown["settings"]["timeout"] == {"value": "7", "set": True, "source": "SMSP_TIMEOUT"}
    assert shown["settings"]["username"] == {"value": None, "set": False, "source": "default"}
    assert shown["settings"]["ods_code"] == {"value": None, "set": False, "source": None}
    assert shown["passphrase"] == {"from": "file", "file": str(live_profile), "detail": where}


def test_no_secret_appears_in_any_data_commands_output(
    live_profile: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMSP_API_KEY", SECRET_API_KEY)
    runs = [
        smsp("config", "show", "--sources"),
        smsp("config", "show", "-o", "json"),
        smsp("config", "show", "--json", "--api", "fhir"),
        smsp("config", "profiles", "--json"),
        smsp("auth", "status", "--json"),
        smsp("auth", "status"),
    ]
    for run in runs:
        assert SECRET_PASSPHRASE not in run.stdout + run.stderr
        assert SECRET_API_KEY not in run.stdout + run.stderr
    assert runs[1].json()["settings"]["api_key"] == {
        "value": None, "set": True, "source": "SMSP_API_KEY"}
    assert "api_key             (set; not shown)  [SMSP_API_KEY]" in runs[0].stdout


def test_auth_status_json_is_one_object_even_when_it_fails(live_profile: Path) -> None:
    run = smsp("auth", "status", "--json")
    assert run.exit_code == 6
    shown = run.json()  # one object: the status keys, then the failure's
    assert set(shown) == {"schema", "profile", "api", "keyring", "keyring_unavailable",
                          "passphrase_stored", "key", "token", "exit_code", "error"}
    assert shown["profile"] == "live"
    assert shown["api"] == "smsp"
    assert shown["key"] == "encrypted"  # the test keyring holds no passphrase
    assert shown["token"] is None
    assert shown["error"]["message"] == "profile live: no passphrase stored (run `smsp auth " \
        "set --profile live`, or pass --passphrase-file FILE)"
    assert run.stderr.count("smsp: error: profile live: no passphrase stored") == 1


def test_the_path_commands_print_json() -> None:
    assert smsp("config", "path", "-o", "json").json() == {"path": str(config.config_path())}
    audit = smsp("audit", "path", "--json").json()
    assert audit["path"].endswith("audit.jsonl")
    assert audit["legacy_access_record"] is None
