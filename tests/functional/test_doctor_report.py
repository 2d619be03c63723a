"""What smsp doctor says about its own settings, and how it words what servers say."""

from __future__ import annotations

import pytest

from smsp_cli.sandbox.certs import SandboxCredentials
from tests.lib.canned import canned, soap_fault
from tests.lib.cli import smsp
from tests.lib.ports import closed_url


def test_the_header_shows_an_endpoint_given_as_a_flag_even_when_settings_are_missing() -> None:
    url = closed_url()
    run = smsp("doctor", "--endpoint", url)
    assert run.exit_code == 10
    assert run.stdout.splitlines()[0] == f"smsp doctor: {url} (from --endpoint)"
    assert "no endpoint configured" not in run.stdout
    report = smsp("doctor", "--endpoint", url, "--json").json()
    assert report["endpoint"] == url
    assert report["layers"][0]["facts"]["endpoint"] == url
    assert report["layers"][0]["fact_sources"]["endpoint"] == "--endpoint"


def test_every_missing_setting_is_named_at_once() -> None:
    report = smsp("doctor", "--endpoint", closed_url(), "--json").json()
    config = report["layers"][0]
    assert config["status"] == "fail"
    assert config["summary"] == "no client certificate, CA bundle or audit identity configured"
    assert "--cert, --ca-bundle and --audit-id" in config["next_step"]
    assert config["facts"]["cert"] == "(not set)"
    assert "cert" not in config["fact_sources"]


@pytest.mark.usefixtures("sandbox_env")
def test_json_facts_hold_values_alone_and_fact_sources_say_where_each_came_from() -> None:
    run = smsp("doctor", "--json")
    assert run.exit_code == 0, run.stdout + run.stderr
    config = run.json()["layers"][0]
    assert config["facts"]["endpoint"].startswith("https://127.0.0.1:")
    assert all("(from " not in value for value in config["facts"].values())
    assert config["fact_sources"]["endpoint"] == "SMSP_ENDPOINT"
    assert config["fact_sources"]["audit id"] == "SMSP_AUDIT_ID"
    assert "username" not in config["fact_sources"]  # not set: the CN is used
    assert run.json()["layers"][1]["fact_sources"] == {}


def test_the_checklist_shows_where_each_setting_came_from() -> None:
    run = smsp("doctor", "--profile", "sandbox")
    assert run.exit_code == 0, run.stdout
    assert run.stdout.splitlines()[0].startswith("smsp doctor: https://127.0.0.1:")
    assert "profile sandbox (from --profile)" in " ".join(run.stdout.split())
    assert "(from profile sandbox (built in))" in " ".join(run.stdout.split())


def test_a_passing_tls_check_explains_its_probe_and_why_405_is_right() -> None:
    run = smsp("doctor", "--profile", "sandbox", "--json")
    assert run.exit_code == 0, run.stdout
    verdict = run.json()["layers"][4]["facts"]["our certificate"]
    assert verdict == (
        "accepted: sent HEAD /smsp/pds to hear the server's verdict; HTTP/1.1 405 Method Not "
        "Allowed is the expected answer from a SOAP endpoint that accepts only POST"
    )


@pytest.mark.usefixtures("sandbox_env")
def test_a_fault_echoing_a_patient_is_masked_in_doctor(credentials: SandboxCredentials) -> None:
    fault = soap_fault("1000", "denied for 999 100 0003 born 1984-03-14\u202e", "dob 19840314")
    with canned(credentials, fault, status=500) as url:
        run = smsp("doctor", "--endpoint", url, "--json")
        shown = smsp("doctor", "--endpoint", url)
    smsp_layer = run.json()["layers"][6]
    assert smsp_layer["status"] == "warn"
    assert smsp_layer["summary"] == (
        "SOAP fault 1000: denied for *** *** 0003 born ****-**-**\\u202e"
    )
    assert smsp_layer["facts"]["diagnostic"] == "dob ****-**-**"
    for leak in ("999 100 0003", "1984-03-14", "19840314", "\u202e"):
        assert leak not in run.stdout + shown.stdout + shown.stderr


def test_the_checklist_and_waterfall_fit_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    run = smsp("doctor", "--profile", "sandbox")
    assert run.exit_code == 0, run.stdout
    assert max(len(line.rstrip()) for line in run.stdout.splitlines()) <= 80
    for words in ("2 certificate and key", "5 TLS handshake", "POST first byte",
                  "client certificate:", "accepted CA names:", "All layers passed."):
        assert words in run.stdout
    # Between the header and the timings, only a check's own line starts at its icon: what
    # wraps (a long summary, a long fact) stays indented under its column.
    checklist = run.stdout.split("\n\n")[1]
    assert [line for line in checklist.splitlines() if not line.startswith(" ")] == []
    headlines = [line for line in checklist.splitlines() if line.startswith(" ✔ ")]
    assert len(headlines) == 8
