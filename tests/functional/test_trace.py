"""-v and --trace-file on lookups, against the real sandbox over mutual TLS.

The patient looked up is the sandbox's fully populated record; none of its data may reach
stderr or the trace file unless --reveal is given.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from smsp_cli.sandbox.server import SandboxServer
from tests.lib.cli import Run, smsp
from tests.lib.ports import closed_port

pytestmark = pytest.mark.usefixtures("sandbox_env")

GET = ("get", "9991000003", "--dob", "1984-03-14")
SEARCH = (
    "search",
    "--family",
    "Fairweather",
    "--given",
    "Eleanor",
    "--dob",
    "1984-03-14",
    "--gender",
    "female",
    "--postcode",
    "BO1 4QX",
    "--local-id",
    "2.16.840.1.113883.2.1.3.2.4.18.24:LOC778812",
)
# Everything the sandbox holds about 9991000003, in every form it could be printed.
PATIENT_DATA = (
    "9991000003",
    "999 100 0003",
    "Fairweather",
    "FAIRWEATHER",
    "Eleanor",
    "Mary",
    "Mrs",
    "19840314",
    "1984-03-14",
    "BO1 4QX",
    "BO9 2HT",
    "BO1 9ZZ",
    "Rose Cottage",
    "Orchard Way",
    "Little Ambridge",
    "Harbour Street",
    "PO Box 17",
    "01632960184",
    "07700900184",
    "eleanor.fairweather@example.com",
    "LOC778812",
)
PHASES = ("dns", "connect", "tls", "request sent", "first byte", "body", "total")


def _leaks(text: str) -> list[str]:
    return [value for value in PATIENT_DATA if value.lower() in text.lower()]


def _verbose(*args: str) -> Run:
    run = smsp(*args, "-v")
    assert run.exit_code == 0, run.stderr
    return run


def test_verbose_shows_timings_headers_and_envelopes() -> None:
    stderr = _verbose(*GET).stderr
    for phase in PHASES:
        assert f"*   {phase} " in stderr
    assert "> POST /smsp/pds HTTP/1.1" in stderr
    assert "> SOAPAction: urn:nhs-itk:services:201005:getPatientDetailsByNHSNumber-v1-0" in stderr
    assert "< HTTP/1.1 200 OK" in stderr
    assert "< Server: smsp-sandbox" in stderr
    assert "* TLS TLSv1.3" in stderr
    assert ">   <soap:Header>" in stderr
    assert '<             <value code="SMSP-0000"' in stderr
    assert "* patient data redacted; --reveal shows it" in stderr


@pytest.mark.parametrize("args", [GET, SEARCH], ids=["get", "search"])
def test_verbose_shows_no_patient_data(args: tuple[str, ...]) -> None:
    run = _verbose(*args)
    assert "[redacted]" in run.stderr
    assert _leaks(run.stderr) == []
    assert "Fairweather" in run.stdout  # the result itself is still shown, on stdout


def test_reveal_shows_patient_data() -> None:
    run = _verbose(*SEARCH, "--reveal")
    assert "[redacted]" not in run.stderr
    for value in (
        "9991000003",
        "Fairweather",
        "19840314",
        "BO1 4QX",
        "Rose Cottage",
        "tel:01632960184",
        "LOC778812",
    ):
        assert value in run.stderr
    assert "* NOT REDACTED: contains patient data" in run.stderr


def test_trace_file_is_private_and_holds_the_whole_exchange(tmp_path: Path) -> None:
    trace = tmp_path / "exchange.trace"
    run = smsp(*GET, "--trace-file", str(trace))
    assert run.exit_code == 0, run.stderr
    assert "* POST" not in run.stderr  # without -v nothing goes to stderr
    assert stat.S_IMODE(trace.stat().st_mode) == 0o600
    text = trace.read_text(encoding="utf-8")
    assert "> POST /smsp/pds HTTP/1.1" in text
    assert "<soap:Envelope" in text
    assert "getPatientDetailsByNHSNumberRequest-v1-0" in text
    assert "getPatientDetailsResponse-v1-0" in text
    assert "< HTTP/1.1 200 OK" in text
    assert "*   first byte" in text
    assert _leaks(text) == []


def test_trace_file_with_reveal_holds_patient_data(tmp_path: Path) -> None:
    trace = tmp_path / "revealed.trace"
    assert smsp(*GET, "--trace-file", str(trace), "--reveal").exit_code == 0
    text = trace.read_text(encoding="utf-8")
    assert 'extension="9991000003"' in text
    assert "Fairweather" in text


def test_an_existing_trace_file_with_content_is_refused_before_sending(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    trace = tmp_path / "old.trace"
    trace.write_text("old content\n")
    trace.chmod(0o644)
    sent = len(sandbox.requests)
    run = smsp(*GET, "--trace-file", str(trace))
    assert run.exit_code == 2
    assert f"--trace-file {trace} already exists and is not empty" in run.stderr
    assert trace.read_text(encoding="utf-8") == "old content\n"
    assert stat.S_IMODE(trace.stat().st_mode) == 0o644  # never loosened or tightened
    assert len(sandbox.requests) == sent


def test_an_empty_file_the_user_made_is_used_and_its_mode_left_alone(tmp_path: Path) -> None:
    trace = tmp_path / "made-by-mktemp"
    trace.touch(mode=0o600)
    trace.chmod(0o640)
    assert smsp(*GET, "--trace-file", str(trace)).exit_code == 0
    assert trace.read_text(encoding="utf-8").startswith("* smsp trace, ")
    assert stat.S_IMODE(trace.stat().st_mode) == 0o640


def test_a_fifo_as_trace_file_is_refused_at_once(tmp_path: Path, sandbox: SandboxServer) -> None:
    fifo = tmp_path / "trace.fifo"
    os.mkfifo(fifo)
    sent = len(sandbox.requests)
    run = smsp(*GET, "--trace-file", str(fifo))
    assert run.exit_code == 2
    assert f"--trace-file {fifo} is a FIFO, not a regular file" in run.stderr
    assert len(sandbox.requests) == sent


def test_a_symbolic_link_is_never_followed(tmp_path: Path, sandbox: SandboxServer) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    link = tmp_path / "trace-link"
    link.symlink_to(victim)
    sent = len(sandbox.requests)
    run = smsp(*GET, "--trace-file", str(link))
    assert run.exit_code == 2
    assert "is a symbolic link; refusing to follow it" in run.stderr
    assert victim.read_text() == "precious\n"
    assert len(sandbox.requests) == sent  # refused before anything was sent


def test_a_trace_file_in_a_missing_folder_fails_before_sending(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    sent = len(sandbox.requests)
    run = smsp(*GET, "--trace-file", str(tmp_path / "no" / "such" / "dir" / "t.trace"))
    assert run.exit_code == 6
    assert "cannot create trace file" in run.stderr
    assert len(sandbox.requests) == sent


def test_verbose_report_also_when_the_call_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    port = closed_port()
    monkeypatch.setenv("SMSP_ENDPOINT", f"https://127.0.0.1:{port}/smsp/pds")
    monkeypatch.setenv("SMSP_MAX_ATTEMPTS", "1")
    run = smsp(*GET, "-v")
    assert run.exit_code == 5
    assert "*   connect " in run.stderr
    assert "(did not finish)" in run.stderr
    assert "* failed: connection to 127.0.0.1" in run.stderr
    # As curl does: the request was never sent, so it is not shown as if it were.
    assert "> POST" not in run.stderr
    assert "\n* request not sent\n" in run.stderr
    assert _leaks(run.stderr) == []
    # The report comes first, then the one-line error.
    assert run.stderr.rstrip().splitlines()[-1].startswith("smsp: error:")


def test_trace_file_is_written_when_the_provider_faults(tmp_path: Path) -> None:
    trace = tmp_path / "fault.trace"
    run = smsp("verify", "9991000186", "--dob", "1970-01-26", "--trace-file", str(trace))
    assert run.exit_code == 3
    text = trace.read_text(encoding="utf-8")
    assert "< HTTP/1.1 500" in text
    assert "ToolkitErrorInfo" in text
    assert "9991000186" not in text
    assert os.stat(trace).st_mode & 0o077 == 0
