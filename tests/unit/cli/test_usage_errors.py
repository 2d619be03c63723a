"""Every usage error, Typer's own included, is one `smsp: error:` line, a help line and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from smsp_cli.domain.models import build_query
from smsp_cli.domain.operations import DETAILS, SEARCH
from tests.lib.cli import smsp

CASES = [
    (("get", "9991000003"), "missing --dob", "smsp get"),
    (("search", "--family", "Fairweather"), "missing --dob and --gender", "smsp search"),
    (("get",), "missing NHS_NUMBER and --dob", "smsp get"),
    (("get", "9991000003", "--dob", "1984-03-14", "--bogus"), "no such option: --bogus",
     "smsp get"),
    (("gte",), "no such command 'gte'", "smsp"),
    (("get", "9991000003", "extra", "--dob", "1984-03-14"), "unexpected extra argument",
     "smsp get"),
    (("get", "9991000003", "--dob", "1984-03-14", "-o", "yaml"), "'yaml' is not one of",
     "smsp get"),
    (("config", "sett"), "no such command 'sett'", "smsp config"),
    (("sandbox", "serve", "--port", "70000"), "invalid value for '--port'", "smsp sandbox serve"),
    (("get", "9991000004", "--dob", "1984-03-14"), "NHS number: 9991000004 fails the modulus 11",
     "smsp get"),
]


@pytest.mark.parametrize(("args", "message", "command"), CASES)
def test_usage_errors_are_one_line_and_where_help_is(
    args: tuple[str, ...], message: str, command: str
) -> None:
    run = smsp(*args)
    assert run.exit_code == 2
    assert run.stdout == ""
    error, help_line = run.stderr.splitlines()
    assert error.startswith("smsp: error: ")
    assert message in error
    assert help_line == f"Try '{command} -h' for help."
    assert not any(mark in run.stderr for mark in "╭╰│")


# `sandbox serve` has no --json: it prints settings, not results.
@pytest.mark.parametrize(("args", "message", "command"), [c for c in CASES if "serve" not in c[0]])
def test_with_json_a_usage_error_is_also_an_error_object_on_stdout(
    args: tuple[str, ...], message: str, command: str
) -> None:
    run = smsp(*args, "--json")
    assert run.exit_code == 2
    assert run.json() == {
        "api": "smsp",
        "exit_code": 2,
        "error": {
            "type": "usage",
            "message": run.stderr.splitlines()[0].removeprefix("smsp: error: "),
            "response_code": None,
            "fault_code": None,
            "fields": run.json()["error"]["fields"],
        },
    }
    assert message in run.json()["error"]["message"]


@pytest.mark.parametrize("flags", [("-o", "json"), ("--output=json",), ("-ojson",),
                                   ("--output", "JSON")])
def test_every_way_of_asking_for_json_gets_the_error_object(flags: tuple[str, ...]) -> None:
    run = smsp("get", "9991000003", *flags)
    assert run.exit_code == 2
    assert run.json()["error"]["message"] == "missing --dob"


def test_a_real_process_reports_typers_own_errors_the_same_way() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "smsp_cli", "get", "9991000003", "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 2
    assert json.loads(done.stdout)["error"]["message"] == "missing --dob"
    assert done.stderr == "smsp: error: missing --dob\nTry 'smsp get -h' for help.\n"


def test_help_still_needs_nothing_else() -> None:
    run = smsp("search", "-h")
    assert run.exit_code == 0
    assert run.stdout.startswith("Usage: smsp search [OPTIONS]")


def test_smsp_alone_prints_its_help_as_a_usage_error() -> None:
    run = smsp()
    assert run.exit_code == 2
    assert "Commands:" in run.stderr
    assert run.stdout == ""


# --- every missing field at once ----------------------------------------------------------------


def test_details_without_a_number_names_every_missing_field() -> None:
    run = smsp("details", "--dob", "1984-03-14")
    assert run.exit_code == 2
    assert run.stderr.splitlines()[0] == (
        "smsp: error: family name, given name and gender: are required for details without "
        "an NHS number"
    )


def test_several_bad_fields_are_reported_together() -> None:
    from smsp_cli.domain.errors import ValidationError

    with pytest.raises(ValidationError) as raised:
        build_query(DETAILS, dob="1984-02-30", gender="x", postcode="zz")
    message = raised.value.message
    assert message.startswith("date of birth: '1984-02-30' is impossible")
    assert "; gender: 'x' is not one of" in message
    assert "; postcode: 'zz' is not a UK postcode (e.g. LS17 7TR or LS177TR)" in message
    assert message.endswith(
        "; family name and given name: are required for details without an NHS number"
    )
    with pytest.raises(ValidationError) as one:
        build_query(SEARCH, dob="1984-03-14", family="Fair", gender="q")
    assert one.value.message.startswith("gender: 'q' is not one of")
    assert ";" not in one.value.message


def test_lookups_name_every_missing_setting_at_once() -> None:
    run = smsp("get", "9991000003", "--dob", "1984-03-14", "--endpoint", "https://x.test/")
    assert run.exit_code == 6
    assert run.stderr == (
        "smsp: error: no client certificate, CA bundle or audit identity configured (pass "
        "--cert, --ca-bundle and --audit-id, set SMSP_CERT, SMSP_CA_BUNDLE and SMSP_AUDIT_ID, "
        "run 'smsp config init' to create a profile, or try --profile sandbox)\n"
    )


def test_a_connection_failure_points_at_smsp_doctor() -> None:
    from tests.lib.ports import closed_port

    port = closed_port()
    run = smsp("get", "9991000003", "--dob", "1984-03-14", "--profile", "sandbox",
               "--endpoint", f"https://127.0.0.1:{port}/smsp/pds", "--max-attempts", "1")
    assert run.exit_code == 5
    assert "(run 'smsp doctor')" in run.stderr


def test_doctor_and_sandbox_patients_print_the_error_object_with_json() -> None:
    doctor = smsp("doctor", "--nhs-number", "9991000003", "--json")
    assert doctor.exit_code == 2
    assert doctor.json()["error"] == {
        "type": "usage",
        "message": "--nhs-number and --dob go together (give both, or neither for the default)",
        "response_code": None,
        "fault_code": None,
        "fields": [],
    }
    listing = smsp("sandbox", "patients", "--patients", "/nonexistent/patients.csv", "--json")
    assert listing.exit_code == 6
    assert listing.json()["error"]["type"] == "config"
    assert listing.stderr == f"smsp: error: {listing.json()['error']['message']}\n"


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("search", "--family", "Twyford", "--given", "Daniel", "--given", "Lee",
          "--dob", "1990-01-01", "--gender", "m"), "--given"),
        (("get", "9991000003", "--dob=1984-03-14", "--dob", "1984-03-14"), "--dob"),
        (("get", "9991000003", "--dob", "1984-03-14", "-otable", "--output", "xml"),
         "--output"),
    ],
)
def test_a_repeated_single_value_option_is_a_usage_error_naming_it(
    args: tuple[str, ...], named: str
) -> None:
    run = smsp(*args)
    assert run.exit_code == 2
    assert run.stdout == ""
    assert run.stderr.splitlines()[0] == (
        f"smsp: error: {named} may be given only once (each takes one value)"
    )


@pytest.mark.parametrize("how", ["flag", "flag=", "variable"])
def test_a_usage_error_before_settings_load_names_the_api_asked_for(
    how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    flags = {"flag": ("--api", "fhir"), "flag=": ("--api=FHIR",), "variable": ()}[how]
    if how == "variable":
        monkeypatch.setenv("SMSP_API", "fhir")
    # A bad NHS number (found by smsp) and an unknown flag (found while parsing).
    for words in (("get", "9991000004", "--dob", "1984-03-14"),
                  ("get", "9991000003", "--dob", "1984-03-14", "--bogus")):
        run = smsp(*words, *flags, "--json")
        assert run.exit_code == 2
        assert json.loads(run.stdout)["api"] == "fhir"


def test_a_usage_error_without_an_api_named_says_smsp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SMSP_API", raising=False)
    run = smsp("get", "9991000004", "--dob", "1984-03-14", "--json")
    assert run.exit_code == 2
    assert json.loads(run.stdout)["api"] == "smsp"
