"""stderr never carries a patient's identifiers: not in smsp's own lines, not in a provider's.

A provider whose SOAP fault echoes the patient is served over real mutual TLS on 127.0.0.1;
its NHS number, name and date of birth must not reach stderr, with or without -v, while a
trace file written with --reveal keeps the whole exchange.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from smsp_cli.sandbox.builtin import BUILT_IN
from smsp_cli.sandbox.certs import SandboxCredentials
from tests.lib.canned import canned, soap_fault
from tests.lib.cli import Run, smsp

pytestmark = pytest.mark.usefixtures("sandbox_env")

ECHO = "no record for 999 100 0003 FAIRWEATHER Eleanor born 1984-03-14"
DIAGNOSTIC = "PDS query nhs=9991000003 dob=19840314 family=Fairweather"
IDENTIFIERS = ("9991000003", "999 100 0003", "1984-03-14", "19840314", "fairweather", "eleanor")
GET = ("get", "9991000003", "--dob", "1984-03-14", "--family", "Fairweather", "--given",
       "Eleanor")


def _leaks(text: str) -> list[str]:
    return [value for value in IDENTIFIERS if value in text.lower()]


def _echoing(credentials: SandboxCredentials, *args: str) -> Run:
    with canned(credentials, soap_fault("1000", ECHO, DIAGNOSTIC), status=500) as url:
        return smsp(*GET, "--endpoint", url, *args)


def test_a_fault_echoing_the_patient_is_masked_on_stderr(credentials: SandboxCredentials) -> None:
    run = _echoing(credentials)
    assert run.exit_code == 3
    assert run.stdout == ""
    assert run.stderr.startswith("smsp: error: provider fault 1000 (Invalid Message): ")
    assert run.stderr.count("\n") == 1
    assert "****-**-**" in run.stderr
    assert _leaks(run.stderr) == []


def test_the_verbose_trace_redacts_the_echo_too(credentials: SandboxCredentials) -> None:
    run = _echoing(credentials, "-v")
    assert run.exit_code == 3
    assert "[redacted]" in run.stderr
    assert "< HTTP/1.0 500" in run.stderr
    assert _leaks(run.stderr) == []


def test_json_error_object_and_stderr_line_agree_and_hold_no_identifier(
    credentials: SandboxCredentials,
) -> None:
    run = _echoing(credentials, "--json")
    assert run.exit_code == 3
    shape = run.json()
    assert shape["exit_code"] == 3
    assert shape["error"]["type"] == "rejected"
    assert shape["error"]["fault_code"] == "1000"
    assert run.stderr == f"smsp: error: {shape['error']['message']}\n"
    assert _leaks(run.stdout) == []


def test_only_a_revealed_trace_file_keeps_the_whole_exchange(
    credentials: SandboxCredentials, tmp_path: Path
) -> None:
    redacted, revealed = tmp_path / "redacted.txt", tmp_path / "revealed.txt"
    first = _echoing(credentials, "--trace-file", str(redacted))
    second = _echoing(credentials, "--trace-file", str(revealed), "--reveal")
    assert (first.exit_code, second.exit_code) == (3, 3)
    assert _leaks(redacted.read_text(encoding="utf-8")) == []
    assert "1984-03-14" in revealed.read_text(encoding="utf-8")
    assert "9991000003" in revealed.read_text(encoding="utf-8")
    if os.name == "posix":
        assert stat.S_IMODE(revealed.stat().st_mode) == 0o600
    assert _leaks(first.stderr + second.stderr) == []


@pytest.mark.parametrize("record", BUILT_IN, ids=lambda r: f"{r.scenario}-{r.patient.nhs_number}")
def test_no_sandbox_answer_puts_the_patient_on_stderr(record: object) -> None:
    from smsp_cli.sandbox.patients import SandboxPatient
    from tests.lib.nhs_numbers import spaced

    assert isinstance(record, SandboxPatient)
    patient = record.patient
    assert patient.nhs_number
    assert patient.birth_date
    run = smsp("get", patient.nhs_number, "--dob", patient.birth_date, "--json")
    assert run.exit_code in (0, 1, 3, 4), run.stderr
    held = [patient.nhs_number, spaced(patient.nhs_number), patient.birth_date,
            patient.birth_date.replace("-", ""), patient.family_name or "",
            *patient.given_names]
    if record.superseded_by:
        held += [record.superseded_by, spaced(record.superseded_by)]
    assert [value for value in held if value and value.lower() in run.stderr.lower()] == []
