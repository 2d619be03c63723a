"""PDS FHIR end to end: the real CLI against the embedded FHIR sandbox over real HTTPS."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.lib.cli import smsp

if TYPE_CHECKING:
    from smsp_cli.sandbox.certs import SandboxCredentials
    from smsp_cli.sandbox.fhir_server import FhirSandboxServer

FOUND = ("9991000003", "1984-03-14")


@pytest.mark.usefixtures("fhir_env")
@pytest.mark.parametrize(
    ("args", "exit_code", "code", "number"),
    [
        (("get", *FOUND), 0, "SMSP-0000", "9991000003"),
        (("get", "9991000054", "1967-05-21"), 0, "DEMOG-0017", "9991000062"),
        (("get", "9991000070", "1995-09-09"), 1, "DEMOG-0022", None),
        (("get", "9991000100", "1958-04-17"), 1, "DEMOG-0040", None),
        (("get", "9434765919", "1970-01-26"), 1, "DEMOG-0001", None),
        (("get", "9991000011", "1979-11-02"), 0, "SMSP-0000", "9991000011"),
        (("get", "9991000046", "1931-07-02"), 0, "SMSP-0000", "9991000046"),
        (("get", "9991000151", "1963-03-03"), 0, "SMSP-0000", "9991000151"),  # a 429 first
    ],
)
def test_get_answers_each_sandbox_outcome(args: tuple[str, ...], exit_code: int, code: str,
                                          number: str | None) -> None:
    command, nhs, dob = args
    run = smsp(command, nhs, "--dob", dob, "--json")
    assert run.exit_code == exit_code, run.stderr
    result = run.json()
    assert result["api"] == "fhir"
    assert result["response_code"] == code
    patient = result["patient"]
    assert (patient["nhs_number"] if patient else None) == number
    assert result["fhir"]["request_id"] == result["message_id"]
    assert result["superseded_nhs_number"] == ("9991000054" if code == "DEMOG-0017" else None)


@pytest.mark.usefixtures("fhir_env")
def test_restricted_and_deceased_records_carry_their_warnings() -> None:
    restricted = smsp("get", "9991000011", "--dob", "1979-11-02", "--json").json()
    assert restricted["patient"]["restricted"] is True
    assert restricted["patient"]["addresses"] == []
    assert restricted["patient"]["gp_practice"] is None
    assert restricted["warning_codes"] == ["restricted"]
    deceased = smsp("get", "9991000046", "--dob", "1931-07-02", "--json").json()
    assert deceased["patient"]["death_date"] == "2019-11-23"
    assert deceased["warning_codes"] == ["deceased"]
    assert deceased["patient"]["restricted"] is False


@pytest.mark.usefixtures("fhir_env")
@pytest.mark.parametrize(
    ("args", "exit_code", "code", "verified"),
    [
        (("verify", FOUND[0], "--dob", FOUND[1]), 0, "SMSP-0000", True),
        (("verify", FOUND[0], "--dob", "1984-03-15"), 1, "DEMOG-0040", False),
        (("verify", FOUND[0], "--dob", "1984-03-15", "--family", "Fairweather", "--given",
          "Ellie"), 0, "SMSP-0000", True),  # 2 of 3 date parts, surname and initial
        (("search", "--family", "Twyford", "--dob", "1990-01-01", "--gender", "male"), 1,
         "DEMOG-0007", None),
        (("search", "--family", "Nobody", "--dob", "1990-01-01", "--gender", "male"), 1,
         "DEMOG-0001", None),
        (("trace", "--family", "Fairweather", "--dob", "1984", "--gender", "f"), 0,
         "SMSP-0000", None),
        (("details", "--dob", FOUND[1], "--nhs-number", FOUND[0]), 0, "SMSP-0000", None),
    ],
)
def test_verify_search_trace_and_details(args: tuple[str, ...], exit_code: int, code: str,
                                         verified: bool | None) -> None:
    run = smsp(*args, "--json")
    assert run.exit_code == exit_code, run.stderr
    result = run.json()
    assert result["response_code"] == code
    assert result.get("verified") == verified


@pytest.mark.usefixtures("fhir_env")
def test_search_reads_the_match_so_it_shows_what_get_shows() -> None:
    searched = smsp("search", "--family", "Fairweather", "--dob", FOUND[1], "--gender", "f",
                    "--local-id", "MRN-7", "--json").json()
    got = smsp("get", *FOUND[:1], "--dob", FOUND[1], "--json").json()
    assert searched["patient"]["local_identifier"] == "MRN-7"
    assert searched["patient"]["telecoms"] == got["patient"]["telecoms"]  # not the reduced one
    assert len(searched["patient"]["addresses"]) == 3


@pytest.mark.usefixtures("fhir_env")
@pytest.mark.parametrize(
    ("nhs", "dob", "exit_code", "status"),
    [("9991000186", "1970-01-26", 3, 403), ("9991000127", "1988-02-29", 4, 503),
     ("9991000135", "1945-10-10", 4, 500), ("9991000224", "1950-05-05", 3, 400)],
)
def test_http_errors_exit_with_their_class(nhs: str, dob: str, exit_code: int,
                                           status: int) -> None:
    run = smsp("get", nhs, "--dob", dob, "--json")
    assert run.exit_code == exit_code
    assert run.json()["api"] == "fhir"
    assert f"HTTP {status}" in run.json()["error"]["message"]
    assert run.stderr.count("\n") == 1


def test_one_token_serves_many_processes_and_is_cached_0600(
    fhir_env: dict[str, str], fhir_sandbox: FhirSandboxServer, tmp_path: Path
) -> None:
    from smsp_cli.adapters.fhir import tokencache

    before = sum(1 for kind, _ in fhir_sandbox.calls if kind == "token")
    assert smsp("get", *FOUND[:1], "--dob", FOUND[1], "--json").exit_code == 0
    tokencache.forget_process_tokens()  # as a new process would start
    assert smsp("verify", *FOUND[:1], "--dob", FOUND[1], "--json").exit_code == 0
    assert sum(1 for kind, _ in fhir_sandbox.calls if kind == "token") - before == 1
    [cached] = (tmp_path / "data" / "fhir-tokens").iterdir()
    assert stat.S_IMODE(cached.stat().st_mode) == 0o600
    if os.name == "posix":
        assert stat.S_IMODE(cached.parent.stat().st_mode) == 0o700


def test_an_expired_token_is_replaced_and_the_call_sent_again(
    fhir_env: dict[str, str], fhir_sandbox: FhirSandboxServer
) -> None:
    assert smsp("get", *FOUND[:1], "--dob", FOUND[1], "--json").exit_code == 0
    fhir_sandbox.expire_tokens()  # the cached token is no longer accepted: 401
    run = smsp("get", *FOUND[:1], "--dob", FOUND[1], "--json")
    assert run.exit_code == 0, run.stderr
    assert fhir_sandbox.calls[-3:] == [("patient", 401), ("token", 200), ("patient", 200)]


@pytest.mark.usefixtures("fhir_env")
@pytest.mark.parametrize(
    ("variable", "value", "cause"),
    [
        ("SMSP_SIGNING_KEY_ID", "another-kid", "no public key is registered under this "
         "signing key id"),
        ("SMSP_API_KEY", "not-our-app", "the API key (the JWT's iss and sub) is not a known"),
        ("SMSP_API_KEY", "smsp-sandbox-no-public-key", "no public key is registered for this "
         "application"),
    ],
)
def test_token_refusals_exit_6_with_cause_and_next_step(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, cause: str
) -> None:
    monkeypatch.setenv(variable, value)
    run = smsp("get", *FOUND[:1], "--dob", FOUND[1])
    assert run.exit_code == 6
    assert cause in run.stderr
    assert run.stderr.count("\n") == 1
    assert "Bearer" not in run.stderr
    assert "eyJ" not in run.stderr


def test_wrong_token_url_is_refused_by_audience(
    fhir_env: dict[str, str], fhir_sandbox: FhirSandboxServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SMSP_TOKEN_URL", fhir_sandbox.token_url + "?x=1")
    run = smsp("get", *FOUND[:1], "--dob", FOUND[1])
    assert run.exit_code == 6
    assert "audience is not this token URL" in run.stderr


@pytest.mark.usefixtures("fhir_env")
def test_xml_output_is_a_usage_error_for_fhir() -> None:
    run = smsp("get", *FOUND[:1], "--dob", FOUND[1], "-o", "xml")
    assert run.exit_code == 2
    assert "-o xml has no meaning for PDS FHIR" in run.stderr


def test_audit_trail_records_fhir_calls_and_token_events_never_the_token(
    fhir_env: dict[str, str], tmp_path: Path
) -> None:
    import json

    assert smsp("get", *FOUND[:1], "--dob", FOUND[1], "--json").exit_code == 0
    lines = [json.loads(line) for path in sorted((tmp_path / "data").rglob("*.jsonl"))
             for line in path.read_text().splitlines()]
    events = [record["event"] for record in lines]
    assert events[-3:] == ["token", "sent", "received"]
    token, sent, received = lines[-3:]
    assert token["outcome"] == "issued"
    assert token["token_url"].endswith("/oauth2/token")
    assert sent["api"] == received["api"] == "fhir"
    assert received["http_status"] == 200
    assert received["nhs_numbers"] == ["9991000003"]
    cached = next((tmp_path / "data" / "fhir-tokens").iterdir()).read_text()
    secret = json.loads(cached)["access_token"]
    assert all(secret not in json.dumps(record) for record in lines)


def test_embedded_profile_sandbox_api_fhir_works_without_settings() -> None:
    run = smsp("get", *FOUND[:1], "--dob", FOUND[1], "--profile", "sandbox", "--api", "fhir",
               "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["api"] == "fhir"
    assert run.json()["synthetic"] is True


def test_config_init_api_fhir_then_auth_status_and_logout(
    fhir_sandbox: FhirSandboxServer, credentials: SandboxCredentials,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    from smsp_cli.adapters.fhir import tokencache
    from smsp_cli.sandbox.fhir_server import API_KEY, KEY_ID, SIGNING_KEY_FILE

    tokencache.forget_process_tokens()
    monkeypatch.setenv("SMSP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SMSP_API_KEY", API_KEY)  # no flag: kept out of argv
    init = smsp("config", "init", "--profile", "pds", "--api", "fhir", "--kind", "test",
                "--endpoint", fhir_sandbox.url, "--token-url", fhir_sandbox.token_url,
                "--signing-key", str(credentials.directory / SIGNING_KEY_FILE),
                "--signing-key-id", KEY_ID, "--ca-bundle", str(credentials.ca_cert),
                "--no-input")
    assert init.exit_code == 0, init.stderr
    monkeypatch.delenv("SMSP_API_KEY")
    shown = smsp("config", "show", "--profile", "pds", "--sources")
    rows = {line.split()[0]: line.split()[1:] for line in shown.stdout.splitlines()}
    assert rows["api_key"][:5] == ["(set;", "not", "shown)", "[profile", "pds"]
    assert rows["api"][:3] == ["fhir", "[profile", "pds"]
    before = smsp("auth", "status", "--profile", "pds")
    assert "token       none cached" in before.stdout
    run = smsp("get", *FOUND[:1], "--dob", FOUND[1], "--profile", "pds", "--json")
    assert run.exit_code == 0, run.stderr
    after = smsp("auth", "status", "--profile", "pds")
    assert "token       cached until " in after.stdout
    assert "token URL   " + fhir_sandbox.token_url in after.stdout
    logout = smsp("auth", "logout", "--profile", "pds")
    assert logout.exit_code == 0
    assert "removed the cached token for profile pds" in logout.stderr
    assert "none cached" in smsp("auth", "status", "--profile", "pds").stdout


@pytest.mark.usefixtures("fhir_env")
def test_dry_run_prints_the_http_requests_and_asks_for_no_token(
    fhir_sandbox: FhirSandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMSP_SIGNING_KEY", "/nonexistent/key.pem")  # never read
    before = len(fhir_sandbox.calls)
    run = smsp("search", "--family", "Fairweather", "--dob", FOUND[1], "--gender", "f",
               "--dry-run")
    assert run.exit_code == 0, run.stderr
    first, second = run.stdout.strip().split("\n\n")
    assert first.splitlines()[0] == (
        f"GET {fhir_sandbox.url}/Patient?family=Fairweather&gender=female&"
        "birthdate=eq1984-03-14&_max-results=1&_exact-match=true")
    assert "Authorization: Bearer [not requested]" in first
    assert second.splitlines()[0] == f"GET {fhir_sandbox.url}/Patient/{{id of the match}}"
    assert len(fhir_sandbox.calls) == before  # nothing sent


def test_a_lookup_with_a_cached_token_loads_no_jwt_or_crypto_code(
    fhir_env: dict[str, str], tmp_path: Path
) -> None:
    from tests.unit.cli.test_startup import loaded_after, present

    assert smsp("get", *FOUND[:1], "--dob", FOUND[1], "--json").exit_code == 0  # signs in
    code, modules = loaded_after(tmp_path, "get", *FOUND[:1], "--dob", FOUND[1], "--json")
    assert code == 0
    assert "smsp_cli.adapters.fhir.adapter" in modules
    assert present(modules, ("jwt", "cryptography", "truststore", "lxml")) == []
