"""The installed console script as a user runs it: separate processes, real sockets, real TLS."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.lib.measure import SMSP


def _env() -> dict[str, str]:
    # Only the settings given, but never the user's config (the test's own folder).
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SMSP_") or k == "SMSP_CONFIG_DIR"}
    env["SMSP_DATA_DIR"] = os.environ["SMSP_DATA_DIR"]
    env["NO_COLOR"] = "1"
    return env


def _run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SMSP, *args], capture_output=True, text=True, env=_env(), timeout=timeout, check=False
    )


def test_readme_lookup_with_the_sandbox_profile() -> None:
    done = _run("get", "9991000003", "--dob", "1984-03-14", "--profile", "sandbox", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["patient"]["family_name"] == "Fairweather"
    assert "synthetic" in done.stderr


def test_sandbox_profile_from_the_environment_variable() -> None:
    env = _env() | {"SMSP_PROFILE": "sandbox"}
    done = subprocess.run(
        [SMSP, "verify", "9991000003", "--dob", "1984-03-14"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "999 100 0003" in done.stdout


def test_python_dash_m_runs_the_same_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "smsp_cli", "--version"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.startswith("smsp ")


def test_sandbox_serve_prints_settings_a_script_can_use() -> None:
    server = subprocess.Popen(
        [SMSP, "sandbox", "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert server.stdout is not None
        settings: dict[str, str] = {}
        while len(settings) < 6:
            line = server.stdout.readline()
            assert line, "sandbox serve ended before printing its settings"
            name, _, value = line.rstrip("\n").partition("=")
            settings[name] = value
        assert set(settings) == {
            "SMSP_ENDPOINT",
            "SMSP_CERT",
            "SMSP_KEY",
            "SMSP_CA_BUNDLE",
            "SMSP_AUDIT_ID",
            "SMSP_KIND",
        }
        assert settings["SMSP_ENDPOINT"].startswith("https://127.0.0.1:")
        done = subprocess.run(
            [SMSP, "trace", "--family", "Fairweather", "--dob", "1984", "--gender", "f", "--json"],
            capture_output=True,
            text=True,
            # Even a profile that calls it live: the server's certificate, from the sandbox CA
            # in smsp's data directory, is what makes its data synthetic.
            env=_env() | settings | {"SMSP_KIND": "live"},
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["nhs_number"] == "9991000003"
        assert (json.loads(done.stdout)["synthetic"], json.loads(done.stdout)["environment"]) == (
            True, "sandbox")
        assert "synthetic" in done.stderr
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_sandbox_serve_dash_o_json_prints_one_json_line_of_settings() -> None:
    server = subprocess.Popen([SMSP, "sandbox", "serve", "-o", "json"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=_env())
    try:
        assert server.stdout is not None
        shown = json.loads(server.stdout.readline())
        assert set(shown) == {"api", "url", "variables"}
        assert shown["api"] == "smsp"
        assert shown["url"].startswith("https://127.0.0.1:")
        assert shown["variables"]["SMSP_ENDPOINT"] == shown["url"]
        assert set(shown["variables"]) == {"SMSP_ENDPOINT", "SMSP_CERT", "SMSP_KEY",
                                           "SMSP_CA_BUNDLE", "SMSP_AUDIT_ID", "SMSP_KIND"}
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_fhir_sandbox_serve_prints_settings_a_script_can_use() -> None:
    server = subprocess.Popen([SMSP, "sandbox", "serve", "--api", "fhir"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=_env())
    try:
        assert server.stdout is not None
        settings: dict[str, str] = {}
        while len(settings) < 8:
            line = server.stdout.readline()
            assert line, "sandbox serve --api fhir ended before printing its settings"
            name, _, value = line.rstrip("\n").partition("=")
            settings[name] = value
        assert set(settings) == {"SMSP_API", "SMSP_ENDPOINT", "SMSP_TOKEN_URL", "SMSP_API_KEY",
                                 "SMSP_SIGNING_KEY", "SMSP_SIGNING_KEY_ID", "SMSP_CA_BUNDLE",
                                 "SMSP_KIND"}
        done = subprocess.run(
            [SMSP, "trace", "--family", "Fairweather", "--dob", "1984", "--gender", "f", "--json"],
            capture_output=True, text=True, env=_env() | settings, timeout=60, check=False,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["nhs_number"] == "9991000003"
        assert json.loads(done.stdout)["api"] == "fhir"
        assert (json.loads(done.stdout)["synthetic"], json.loads(done.stdout)["environment"]) == (
            True, "sandbox")
        assert "synthetic" in done.stderr
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_sandbox_patients_json_lists_every_scenario() -> None:
    done = _run("sandbox", "patients", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    scenarios = {row["scenario"] for row in rows}
    assert {
        "found",
        "sensitive",
        "minimal",
        "deceased",
        "superseded",
        "invalidated",
        "multiple-match",
        "not-verified",
        "cached",
        "spine-down",
        "provider-error",
        "spine-error",
        "retryable-fault",
    } <= scenarios
    for row in rows:
        assert {
            "nhs_number",
            "birth_date",
            "family_name",
            "given_names",
            "gender",
            "postcode",
            "scenario",
        } <= set(row)


@pytest.mark.parametrize("args", [("--help",), ("get", "--help"), ("sandbox", "--help")])
def test_help_is_available(args: tuple[str, ...]) -> None:
    done = _run(*args)
    assert done.returncode == 0
    assert "Usage" in done.stdout


def test_bad_input_in_a_real_process_is_one_error_line_and_exit_2() -> None:
    done = _run("get", "123", "--dob", "1984-03-14", "--profile", "sandbox")
    assert done.returncode == 2
    assert done.stdout == ""
    error, help_line = done.stderr.splitlines()
    assert error.startswith("smsp: error: NHS number: ")
    assert help_line == "Try 'smsp get -h' for help."


def _serve_and_look_up(*serve_flags: str) -> tuple[subprocess.CompletedProcess[str], str]:
    """One lookup whose wsse:Username is not the certificate's CN, against ``sandbox serve``;
    the lookup and the server's log."""
    server = subprocess.Popen([SMSP, "sandbox", "serve", "-o", "json", *serve_flags],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=_env())
    try:
        assert server.stdout is not None
        variables = json.loads(server.stdout.readline())["variables"]
        done = subprocess.run(
            [SMSP, "get", "9991000003", "--dob", "1984-03-14", "--username", "another system",
             "--max-attempts", "1"],
            capture_output=True, text=True, env=_env() | variables, timeout=60, check=False)
    finally:
        server.terminate()
        _, log = server.communicate(timeout=10)
    return done, log


def test_sandbox_serve_is_strict_and_its_log_names_the_rule_a_request_broke() -> None:
    done, log = _serve_and_look_up()
    assert done.returncode == 3, done.stderr  # fault 3000, Access Denied
    line = next(line for line in log.splitlines() if line.startswith("POST /smsp/pds 500"))
    assert " 3000 " in line
    assert line.endswith("refused: wsse:Username 'another system' is not the client "
                         "certificate's CN 'smsp sandbox client' [ITK-WS WS-SEC-02/07]")


def test_sandbox_serve_lenient_accepts_the_username_with_a_warning_line() -> None:
    done, log = _serve_and_look_up("--lenient")
    assert done.returncode == 0, done.stderr
    lines = log.splitlines()
    request = next(i for i, line in enumerate(lines) if line.startswith("POST /smsp/pds 200"))
    assert lines[request + 1] == (
        "  warning: accepted (lenient): wsse:Username 'another system' is not the client "
        "certificate's CN 'smsp sandbox client' (ITK-WS WS-SEC-02/07)")
