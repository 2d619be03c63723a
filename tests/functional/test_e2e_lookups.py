"""End to end: the real CLI against the real sandbox provider over mutual TLS on 127.0.0.1.

Every command, every response code and every exit code, as a user or a script sees them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from smsp_cli.sandbox.server import SandboxServer
from tests.lib.cli import Run, smsp
from tests.lib.ports import closed_port

pytestmark = pytest.mark.usefixtures("sandbox_env")

FOUND = ("9991000003", "1984-03-14")


def _sent(sandbox: SandboxServer) -> int:
    return len(sandbox.requests)


# --- every command, happy path --------------------------------------------------------------


def test_get_returns_the_full_record_as_json() -> None:
    run = smsp("get", "999 100 0003", "--dob", "1984-03-14", "--json")
    assert run.exit_code == 0, run.stderr
    result = run.json()
    assert result["operation"] == "getPatientDetailsByNHSNumber"
    assert (result["response_code"], result["response_text"]) == ("SMSP-0000", "Success")
    assert result["warnings"] == []
    assert result["synthetic"] is True
    assert result["environment"] == "sandbox"
    patient = result["patient"]
    assert patient["nhs_number"] == "9991000003"
    assert patient["given_names"] == ["Eleanor", "Mary"]
    assert patient["family_name"] == "Fairweather"
    assert patient["gender"] == "female"
    assert patient["birth_date"] == "1984-03-14"
    assert [a["use"] for a in patient["addresses"]] == ["home", "temporary", "correspondence"]
    assert patient["addresses"][0]["postcode"] == "BO1 4QX"
    assert any(t["value"].startswith("mailto:") for t in patient["telecoms"])
    assert patient["gp_practice"]["code"] == "Y12345"
    assert len(result["message_id"]) == 36
    assert result["message_id"] == result["message_id"].upper()


def test_json_key_set_is_stable_for_each_command() -> None:
    common = {
        "api",
        "warning_codes",
        "superseded_nhs_number",
        "operation",
        "response_code",
        "response_text",
        "message_id",
        "warnings",
        "synthetic",
        "environment",
    }
    verify = smsp("verify", *FOUND[:1], "--dob", FOUND[1], "--json").json()
    assert set(verify) == common | {"verified", "nhs_number"}
    trace = smsp(
        "trace", "--family", "FAIRWEATHER", "--dob", "1984", "--gender", "f", "--json"
    ).json()
    assert set(trace) == common | {"nhs_number", "local_identifier"}
    for args in (
        ("get", FOUND[0], "--dob", FOUND[1]),
        ("search", "--family", "Fairweather", "--dob", "1984-03-14", "--gender", "2"),
        ("details", "--dob", FOUND[1], "--nhs-number", FOUND[0]),
    ):
        result = smsp(*args, "--json").json()
        assert set(result) == common | {"patient"}
        assert set(result["patient"]) == {
            "nhs_number",
            "local_identifier",
            "title",
            "given_names",
            "family_name",
            "gender",
            "birth_date",
            "death_date",
            "addresses",
            "telecoms",
            "gp_practice",
            "restricted",
        }


def test_verify_true_for_matching_details() -> None:
    run = smsp(
        "verify",
        "943-476-5919".replace("943-476-5919", "999-100-0003"),
        "--dob",
        "19840314",
        "--family",
        "Fairweather",
        "--given",
        "E",
        "--json",
    )
    assert run.exit_code == 0, run.stderr
    assert run.json()["verified"] is True
    assert run.json()["nhs_number"] == "9991000003"


def test_verify_false_for_a_wrong_date_of_birth_exits_1() -> None:
    run = smsp("verify", FOUND[0], "--dob", "1990-07-01", "--json")
    assert run.exit_code == 1
    assert run.json()["verified"] is False
    assert run.json()["response_code"] == "DEMOG-0040"
    assert "not verified" in run.stderr


def test_trace_finds_the_number_with_a_partial_date_and_echoes_the_local_id() -> None:
    run = smsp(
        "trace",
        "--family",
        "fairweather",
        "--dob",
        "1984-03",
        "--gender",
        "female",
        "--postcode",
        "bo1 4qx",
        "--local-id",
        "MRN-77",
        "--json",
    )
    assert run.exit_code == 0, run.stderr
    assert run.json()["nhs_number"] == "9991000003"
    assert run.json()["local_identifier"] == "MRN-77"


def test_search_with_wildcards() -> None:
    run = smsp(
        "search",
        "--family",
        "FAIR*",
        "--given",
        "EL*",
        "--dob",
        "1984-03-14",
        "--gender",
        "f",
        "--json",
    )
    assert run.exit_code == 0, run.stderr
    assert run.json()["patient"]["nhs_number"] == "9991000003"


def test_details_by_demographics_and_by_number() -> None:
    by_search = smsp(
        "details",
        "--dob",
        "1984-03-14",
        "--family",
        "Fairweather",
        "--given",
        "Eleanor",
        "--gender",
        "f",
        "--json",
    )
    assert by_search.exit_code == 0, by_search.stderr
    by_number = smsp("details", "--dob", "1984-03-14", "--nhs-number", "9991000003", "--json")
    assert by_number.exit_code == 0, by_number.stderr
    assert by_search.json()["patient"] == by_number.json()["patient"]


def test_sensitive_record_has_no_address_or_telecoms() -> None:
    patient = smsp("get", "9991000011", "--dob", "1979-11-02", "--json").json()["patient"]
    assert patient["addresses"] == []
    assert patient["telecoms"] == []


def test_deceased_record_has_a_death_date() -> None:
    patient = smsp("get", "9991000046", "--dob", "1931-07-02", "--json").json()["patient"]
    assert patient["death_date"] == "2019-11-23"


# --- response codes and exit codes ----------------------------------------------------------


# Each code's text as the spec's table of response codes words it (§6.1, "Superceding" too).
@pytest.mark.parametrize(
    ("nhs_number", "dob", "code", "exit_code", "text", "warning"),
    [
        ("9991000054", "1967-05-21", "DEMOG-0017", 0,
         "Superceding NHS number returned", "superseded"),
        ("9991000119", "1972-12-05", "SMSP-0003", 0,
         "Data returned from local store, Spine unavailable", "stale"),
        ("9991000070", "1995-09-09", "DEMOG-0022", 1,
         "NHS Number of response record has been invalidated", "invalidated"),
        ("9991000100", "1958-04-17", "DEMOG-0040", 1,
         "NHS number not verified", "not verified"),
        ("9991000216", "1928-02-14", "DEMOG-0042", 1,
         "NHS Number is not a new style number", None),
        ("9991000240", "1980-01-01", "DEMOG-0001", 1,
         "No Match", "no patient matched"),
        ("9991000224", "1950-05-05", "SMSP-0001", 3,
         "Input message validation error", None),
        ("9991000194", "1999-12-31", "SMSP-0002", 3,
         "Response message validation error", "cannot be retrieved"),
        ("9991000208", "1992-06-15", "SMSP-0005", 3,
         "Author Credentials Error", "audit"),
        ("9991000127", "1988-02-29", "SMSP-0004", 4,
         "Could not connect to Spine", "could not reach Spine"),
        ("9991000135", "1945-10-10", "SMSP-9999", 4,
         "Generic Spine Mini Service Provider software failure", None),
        ("9991000143", "1939-08-21", "DEMOG-9999", 4,
         "Generic Spine Service Error", None),
    ],
)
def test_each_response_code_has_its_text_exit_code_and_warning(
    nhs_number: str, dob: str, code: str, exit_code: int, text: str, warning: str | None
) -> None:
    run = smsp("get", nhs_number, "--dob", dob, "--json")
    assert run.exit_code == exit_code, run.stderr
    result = run.json()
    assert (result["response_code"], result["response_text"]) == (code, text)
    if warning:
        assert any(warning in text for text in result["warnings"]), result["warnings"]
        assert warning in run.stderr


def test_superseded_warning_names_the_new_number_in_json_but_never_on_stderr() -> None:
    run = smsp("get", "9991000054", "--dob", "1967-05-21", "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["patient"]["nhs_number"] == "9991000062"
    assert any("999 100 0062" in text for text in run.json()["warnings"])
    assert "superseded" in run.stderr
    assert "0062" not in run.stderr
    assert "9991000054" not in run.stderr


@pytest.mark.parametrize("command", ["get", "verify"])
def test_superseded_number_shows_the_old_one_then_the_new(command: str) -> None:
    run = smsp(command, "9991000054", "--dob", "1967-05-21")
    assert run.exit_code == 0, run.stderr
    row = next(line for line in run.stdout.splitlines() if line.startswith("│ NHS number"))
    assert "999 100 0054 → 999 100 0062" in row
    assert "superseded" in run.stderr
    assert "0054" not in run.stderr
    assert "0062" not in run.stderr


@pytest.mark.parametrize("command", ["get", "verify"])
def test_superseded_number_on_an_ascii_terminal_has_an_ascii_arrow(command: str) -> None:
    from typer.testing import CliRunner

    from smsp_cli.cli.main import app

    # stdout's encoding is what the terminal's would be: ASCII cannot carry the arrow.
    result = CliRunner(charset="ascii").invoke(
        app, [command, "9991000054", "--dob", "1967-05-21"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    # ASCII box lines too, not a crash on "│"
    row = next(line for line in result.stdout.splitlines() if line.startswith("| NHS number"))
    assert "999 100 0054 -> 999 100 0062" in row
    assert "0062" not in result.stderr


def test_multiple_matches_exit_1_and_ask_to_refine() -> None:
    run = smsp("search", "--family", "Twyford", "--dob", "1990-01-01", "--gender", "m", "--json")
    assert run.exit_code == 1
    assert run.json()["response_code"] == "DEMOG-0007"
    assert run.json()["patient"] is None
    assert "refine" in run.stderr


@pytest.mark.parametrize(
    ("nhs_number", "dob", "fault", "exit_code"),
    [
        ("9991000232", "1977-07-07", "1000", 3),
        ("9991000186", "1970-01-26", "3000", 3),
        ("9991000151", "1963-03-03", "2100", 4),
        ("9991000178", "1981-07-19", "2200", 4),
    ],
)
def test_soap_faults_exit_with_their_class_and_name_the_code(
    nhs_number: str, dob: str, fault: str, exit_code: int
) -> None:
    run = smsp("get", nhs_number, "--dob", dob, "--json")
    assert run.exit_code == exit_code
    sent = run.json()["message_ids"]
    assert len(sent) == (3 if fault == "2100" else 1)  # 2100 is retried, as a new message
    assert len(set(sent)) == len(sent)
    assert run.stderr.endswith(f" (MessageID {sent[-1]})\n")
    assert run.json() == {
        "api": "smsp",
        "exit_code": exit_code,
        "message_id": sent[-1],
        "message_ids": sent,
        "error": {
            "type": {3: "rejected", 4: "provider_failed"}[exit_code],
            "message": run.stderr.removeprefix("smsp: error: ").rstrip("\n"),
            "response_code": None,
            "fault_code": fault,
            "fields": [],
        },
    }
    assert f"fault {fault}" in run.stderr
    assert run.stderr.count("\n") == 1
    assert "Traceback" not in run.stderr


def test_username_other_than_the_certificate_cn_is_access_denied(sandbox: SandboxServer) -> None:
    run = smsp("get", *FOUND[:1], "--dob", FOUND[1], "--username", "someone else")
    assert run.exit_code == 3
    assert "fault 3000" in run.stderr
    assert sandbox.requests[-1].username == "someone else"


def test_http_404_from_a_wrong_path_exits_3(sandbox: SandboxServer) -> None:
    run = smsp(
        "get",
        *FOUND[:1],
        "--dob",
        FOUND[1],
        "--endpoint",
        sandbox.url.replace("/smsp/pds", "/wrong"),
    )
    assert run.exit_code == 3
    assert "404" in run.stderr


# --- nothing sent on bad input --------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("get", "9991000004", "--dob", "1984-03-14"), "NHS number"),
        (("get", "99910000", "--dob", "1984-03-14"), "NHS number"),
        (("get", "9991000003", "--dob", "1984-02-30"), "date of birth"),
        (("get", "9991000003", "--dob", "2999-01-01"), "date of birth"),
        (("get", "9991000003", "--dob", "1984"), "date of birth"),
        (("verify", "9991000003", "--dob", "14.03.1984"), "date of birth"),
        (("search", "--family", "F*", "--dob", "1984-03-14", "--gender", "f"), "family name"),
        (("search", "--family", "Fair", "--dob", "1984-03-14", "--gender", "x"), "gender"),
        (
            (
                "search",
                "--family",
                "Fair",
                "--dob",
                "1984-03-14",
                "--gender",
                "f",
                "--postcode",
                "BO1 4Q",
            ),
            "postcode",
        ),
        (
            (
                "search",
                "--family",
                "Fair",
                "--dob",
                "1984-03-14",
                "--gender",
                "f",
                "--postcode",
                "BO1 4QXXX",
            ),
            "postcode",
        ),
        (("get", "9991000003", "--dob", "1984-03-14", "--family", "FAIR*"), "family name"),
        (
            ("details", "--dob", "1984-03-14", "--family", "Fairweather", "--gender", "f"),
            "given name",
        ),
        (
            ("trace", "--dob", "1984", "--family", "Fairweather", "--gender", "9", "--given", "*"),
            "given name",
        ),
    ],
)
def test_bad_input_exits_2_naming_the_field_and_sends_nothing(
    sandbox: SandboxServer, args: tuple[str, ...], field: str
) -> None:
    before = _sent(sandbox)
    run = smsp(*args)
    assert run.exit_code == 2
    assert run.stdout == ""
    error, help_line = run.stderr.splitlines()
    assert error.startswith("smsp: error: ")
    assert field in error
    assert help_line == f"Try 'smsp {args[0]} -h' for help."
    assert _sent(sandbox) == before


def test_missing_required_option_is_a_usage_error(sandbox: SandboxServer) -> None:
    before = _sent(sandbox)
    run = smsp("search", "--family", "Fairweather", "--dob", "1984-03-14")
    assert run.exit_code == 2
    assert "--gender" in run.stderr
    assert _sent(sandbox) == before


def test_dry_run_prints_the_envelope_and_sends_nothing(sandbox: SandboxServer) -> None:
    before = _sent(sandbox)
    run = smsp("get", *FOUND[:1], "--dob", FOUND[1], "--dry-run")
    assert run.exit_code == 0, run.stderr
    assert "<soap:Envelope" in run.stdout
    assert "urn:nhs-itk:services:201005:getPatientDetailsByNHSNumber-v1-0" in run.stdout
    assert 'extension="9991000003"' in run.stdout
    assert "nothing sent" in run.stderr
    assert _sent(sandbox) == before


# --- could not reach / local configuration ----------------------------------------------------


def test_connection_refused_exits_5() -> None:
    run = smsp(
        "get",
        *FOUND[:1],
        "--dob",
        FOUND[1],
        "--endpoint",
        f"https://127.0.0.1:{closed_port()}/smsp/pds",
    )
    assert run.exit_code == 5
    assert "refused" in run.stderr


def test_server_certificate_from_an_untrusted_ca_exits_5(tmp_path: Path) -> None:
    from smsp_cli.sandbox.certs import make_ca

    other = make_ca("some other CA")
    other.write(tmp_path / "other-ca.pem", tmp_path / "other-ca.key")
    run = smsp("get", *FOUND[:1], "--dob", FOUND[1], "--ca-bundle", str(tmp_path / "other-ca.pem"))
    assert run.exit_code == 5
    assert "verification" in run.stderr


def test_missing_client_certificate_file_exits_6(tmp_path: Path) -> None:
    run = smsp("get", *FOUND[:1], "--dob", FOUND[1], "--cert", str(tmp_path / "absent.pem"))
    assert run.exit_code == 6
    assert "absent.pem" in run.stderr


def test_key_not_matching_the_certificate_exits_6(tmp_path: Path) -> None:
    from smsp_cli.sandbox.certs import make_ca

    stray = make_ca("stray")
    stray.write(tmp_path / "stray.pem", tmp_path / "stray.key")
    run = smsp("get", *FOUND[:1], "--dob", FOUND[1], "--key", str(tmp_path / "stray.key"))
    assert run.exit_code == 6
    assert "does not match" in run.stderr


def test_no_endpoint_at_all_exits_6_and_suggests_the_sandbox(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SMSP_ENDPOINT")
    run = smsp("get", *FOUND[:1], "--dob", FOUND[1])
    assert run.exit_code == 6
    assert "--profile sandbox" in run.stderr


# --- how results look ------------------------------------------------------------------------


def test_table_shows_3_3_4_numbers_the_confidentiality_label_and_synthetic_note() -> None:
    run = smsp("get", *FOUND[:1], "--dob", FOUND[1])
    assert run.exit_code == 0, run.stderr
    assert "999 100 0003" in run.stdout
    assert "9991000003" not in run.stdout
    assert "NHS Confidential: personal data about a patient" in run.stdout
    assert "Fairweather" in run.stdout
    assert "synthetic" in run.stderr


def test_xml_output_is_the_reply_payload() -> None:
    from lxml import etree

    run = smsp("get", *FOUND[:1], "--dob", FOUND[1], "-o", "xml")
    assert run.exit_code == 0, run.stderr
    root = etree.fromstring(run.stdout.encode())
    assert etree.QName(root).localname == "getPatientDetailsResponse-v1-0"
    assert root.find("{urn:hl7-org:v3}value").get("code") == "SMSP-0000"  # type: ignore[union-attr]


def test_errors_in_json_mode_print_only_the_error_object_on_stdout() -> None:
    run: Run = smsp("get", "9991000151", "--dob", "1963-03-03", "--json")
    assert run.exit_code == 4
    assert set(run.json()) == {"api", "exit_code", "error", "message_id", "message_ids"}
    assert run.stderr.startswith("smsp: error:")


def test_warnings_without_a_new_number_are_not_about_supersession() -> None:
    run = smsp("search", "--family", "Twyford", "--dob", "1990-01-01", "--gender", "m", "--json")
    assert run.json()["warnings"] == [
        "more than one patient matched; refine the search (add a given name or a postcode)"
    ]


def test_a_clerk_s_date_and_an_unspaced_postcode_are_taken() -> None:
    run = smsp("search", "--family", "Fairweather", "--dob", "14/03/1984", "--gender", "f",
               "--postcode", "bo14qx", "--dry-run")
    assert run.exit_code == 0
    assert "<postalCode>BO1 4QX</postalCode>" in run.stdout
    assert 'value="19840314"' in run.stdout


def test_the_in_process_sandbox_is_strict_unless_told_to_be_lenient(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("SMSP_ENDPOINT", "SMSP_CERT", "SMSP_KEY", "SMSP_CA_BUNDLE", "SMSP_AUDIT_ID"):
        monkeypatch.delenv(name, raising=False)
    args = ("get", "9991000003", "--dob", "1984-03-14", "--profile", "sandbox",
            "--username", "another system", "--json")
    strict = smsp(*args)
    assert strict.exit_code == 3, strict.stderr
    assert strict.json()["error"]["fault_code"] == "3000"
    monkeypatch.setenv("SMSP_SANDBOX_LENIENT", "1")
    lenient = smsp(*args)
    assert lenient.exit_code == 0, lenient.stderr
    assert lenient.json()["patient"]["nhs_number"] == "9991000003"
    assert ("smsp: sandbox: warning: accepted (lenient): wsse:Username 'another system' is not "
            "the client certificate's CN 'smsp sandbox client' (ITK-WS WS-SEC-02/07)\n"
            ) in lenient.stderr
    monkeypatch.setenv("SMSP_SANDBOX_LENIENT", "maybe")
    wrong = smsp(*args)
    assert wrong.exit_code == 6, wrong.stderr
    assert "SMSP_SANDBOX_LENIENT must be 1 (lenient) or 0 (strict)" in wrong.stderr


@pytest.mark.parametrize(("why", "arguments", "exit_code"), [
    ("a fault", ("9991000178", "--dob", "1981-07-19"), 4),
    ("bad input", ("999100017", "--dob", "1981-07-19"), 2),
    ("an option given twice", ("9991000003", "--dob", "1984-03-14", "--family", "A",
                               "--family", "B"), 2),
    ("no connection", ("9991000003", "--dob", "1984-03-14", "--max-attempts", "1",
                       "--endpoint", "https://127.0.0.1:{port}/smsp/pds"), 5),
])
def test_a_verify_that_fails_says_verified_null_never_nothing(
    why: str, arguments: tuple[str, ...], exit_code: int
) -> None:
    port = closed_port()
    run = smsp("verify", *(part.format(port=port) for part in arguments), "-o", "json")
    assert run.exit_code == exit_code, run.stderr
    shown = run.json()
    assert list(shown)[:3] == ["api", "verified", "exit_code"]
    assert shown["verified"] is None
    assert shown["error"]["message"] in run.stderr


def test_a_get_that_fails_has_no_verified_key() -> None:
    run = smsp("get", "9991000178", "--dob", "1981-07-19", "-o", "json")
    assert run.exit_code == 4
    assert "verified" not in run.json()
