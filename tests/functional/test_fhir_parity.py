"""Parity: the same sandbox patient through SMSP and through PDS FHIR gives the same answer.

Apart from the differences the README's PDS FHIR table lists, each with its reason; the
normalisation below undoes exactly those and nothing else.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import pytest

from tests.lib.cli import smsp

if TYPE_CHECKING:
    from smsp_cli.sandbox.certs import SandboxCredentials
    from smsp_cli.sandbox.fhir_server import FhirSandboxServer

# Each patient whose outcome both APIs can express (not cached data, Spine down, an invalid
# message or the other SMSP-only scenarios), with the birth date users have.
BOTH = [
    ("found", "9991000003", "1984-03-14"),
    ("sensitive", "9991000011", "1979-11-02"),
    ("minimal", "9991000038", "2001-06-30"),
    ("deceased", "9991000046", "1931-07-02"),
    ("superseded", "9991000054", "1967-05-21"),
    ("current", "9991000062", "1967-05-21"),
    ("multiple-match", "9991000089", "1990-01-01"),
    ("multiple-match", "9991000097", "1990-01-01"),
    ("not-verified", "9991000100", "1958-04-17"),
    ("invalidated", "9991000070", "1995-09-09"),
]
_USES = {"H": "home", "MC": "mobile", "WP": "work", "HP": "home", "TMP": "temp"}


@pytest.fixture
def both(sandbox_env: dict[str, str], fhir_sandbox: FhirSandboxServer,
         credentials: SandboxCredentials, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The flags that send a lookup to the FHIR sandbox; without them it goes to SMSP's."""
    from smsp_cli.sandbox.fhir_server import API_KEY, KEY_ID, SIGNING_KEY_FILE

    monkeypatch.setenv("SMSP_API_KEY", API_KEY)
    return ["--api", "fhir", "--endpoint", fhir_sandbox.url, "--token-url",
            fhir_sandbox.token_url, "--signing-key",
            str(credentials.directory / SIGNING_KEY_FILE), "--signing-key-id", KEY_ID]


def normalised(result: dict[str, Any], *, fhir: bool, sensitive: bool) -> dict[str, Any]:
    """The result with each documented difference undone (README, PDS FHIR, differences).

    ``sensitive``: the sandbox record is restricted (SMSP's reply cannot say so).
    """
    shape = copy.deepcopy(result)
    shape.pop("api")  # which API answered
    shape.pop("fhir", None)  # FHIR's own exchange details
    shape.pop("message_id")  # a MessageID (upper case) against an X-Request-ID (lower case)
    patient = shape.get("patient")
    restricted = bool(patient and patient["restricted"])
    assert restricted == (fhir and sensitive)  # FHIR says so exactly for the restricted one
    if patient is not None:
        patient["restricted"] = None  # SMSP cannot say; FHIR can
        practice = patient["gp_practice"]
        if practice is not None:
            # PDS holds the practice code only; SMSP providers add name, address, phone.
            practice.update(name=None, address=None, telephone=None)
        if sensitive:
            # A restricted record: PDS FHIR withholds the GP as well as address and telecom.
            patient["gp_practice"] = None
        if not fhir:
            for address in patient["addresses"]:
                # SMSP sends five lines, the unused ones empty; FHIR only the lines held.
                while address["lines"] and address["lines"][-1] == "":
                    address["lines"].pop()
        for telecom in patient["telecoms"]:
            # Values without the tel:/mailto: scheme; FHIR's use words for HL7's use codes.
            telecom["value"] = telecom["value"].split(":", 1)[-1]
            telecom["use"] = _USES.get(telecom["use"], telecom["use"])
    if result["response_code"] == "DEMOG-0022":
        shape["patient"] = None  # SMSP returns the invalidated record; PDS FHIR a 404
    if fhir and restricted:
        # smsp's restricted warning, which SMSP cannot give.
        shape["warnings"] = shape["warnings"][1:] if shape["warnings"] else []
        shape["warning_codes"] = [c for c in shape["warning_codes"] if c != "restricted"]
    return shape


@pytest.mark.parametrize(("scenario", "nhs", "dob"), BOTH, ids=[f"{s}-{n}" for s, n, _ in BOTH])
def test_get_gives_the_same_json_through_both_apis(both: list[str], scenario: str, nhs: str,
                                                   dob: str) -> None:
    smsp_run = smsp("get", nhs, "--dob", dob, "--json")
    fhir_run = smsp("get", nhs, "--dob", dob, "--json", *both)
    assert fhir_run.exit_code == smsp_run.exit_code, fhir_run.stderr
    assert fhir_run.json()["api"] == "fhir"
    assert smsp_run.json()["api"] == "smsp"
    sensitive = scenario == "sensitive"
    assert normalised(fhir_run.json(), fhir=True, sensitive=sensitive) == normalised(
        smsp_run.json(), fhir=False, sensitive=sensitive)


COMMANDS = [
    ("verify", FOUND := "9991000003", "--dob", "1984-03-14"),
    ("verify", FOUND, "--dob", "1984-03-15"),
    ("verify", "9991000054", "--dob", "1967-05-21"),
    ("verify", "9991000100", "--dob", "1958-04-17"),
    ("verify", "9434765919", "--dob", "1970-01-26"),
    ("search", "--family", "Fairweather", "--dob", "1984-03-14", "--gender", "f"),
    ("search", "--family", "Twyford", "--dob", "1990-01-01", "--gender", "m"),
    ("search", "--family", "Nobody", "--dob", "1990-01-01", "--gender", "m"),
    ("search", "--family", "Fair*", "--dob", "1984-03-14", "--gender", "f", "--postcode",
     "BO1 4QX"),
    ("trace", "--family", "Fairweather", "--dob", "1984", "--gender", "f"),
    ("trace", "--family", "Oakhurst", "--dob", "1967-05", "--gender", "m"),
    ("trace", "--family", "Twyford", "--dob", "1990", "--gender", "m"),
    ("details", "--dob", "1984-03-14", "--nhs-number", FOUND),
    ("details", "--dob", "1958-04-17", "--nhs-number", "9991000100"),
    ("details", "--dob", "2001-06-30", "--family", "Quill", "--given", "Robin", "--gender",
     "not-specified"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a[:2]) for a in COMMANDS])
def test_every_command_gives_the_same_code_verified_and_exit(both: list[str],
                                                             args: tuple[str, ...]) -> None:
    smsp_run = smsp(*args, "--json")
    fhir_run = smsp(*args, "--json", *both)
    assert fhir_run.exit_code == smsp_run.exit_code, fhir_run.stderr
    mine, theirs = fhir_run.json(), smsp_run.json()
    assert mine["response_code"] == theirs["response_code"]
    assert mine.get("verified") == theirs.get("verified")
    assert mine.get("nhs_number") == theirs.get("nhs_number")
