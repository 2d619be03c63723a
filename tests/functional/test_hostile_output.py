"""End to end against a hostile provider: what its text does once it reaches a person.

Scripts get the data exact; people get it safe: tables and stderr show controls, bidi and
markup as visible text, tables stay bounded however large the reply, and what a provider
echoes of the patient is masked on stderr.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.lib.cli import smsp
from tests.lib.hostile import HostileProvider
from tests.lib.hostile_behaviours import (
    HOSTILE_TEXT,
    fault_echoing_the_patient,
    hostile_text_reply,
    http_body_echoing_the_patient,
    huge_reply,
)

GET = ("get", "9434765919", "--dob", "1984-03-14")
# The patient the hostile provider's valid replies carry (the sandbox's first): a reply for
# another number is refused before anything of it is shown.
GET_SERVED = ("get", "9991000003", "--dob", "1984-03-14")
IDENTIFIERS = ("9434765919", "943 476 5919", "1984-03-14", "14/03/1984")
# What must never reach a terminal raw: C1 CSI and NEL, DEL, ESC, bidi overrides and isolates.
RAW = ("\x9b", "\x85", "\x7f", "\x1b", "\u202e", "\u2066", "\u2069")


def test_json_keeps_hostile_text_in_every_field_exact(hostile: HostileProvider) -> None:
    hostile.serve(hostile_text_reply())
    run = smsp(*GET_SERVED, "--json")
    assert run.exit_code == 0, run.stderr
    patient = run.json()["patient"]
    assert patient["title"] == HOSTILE_TEXT
    assert patient["given_names"] == [HOSTILE_TEXT, f"Mary{HOSTILE_TEXT}"]
    assert patient["family_name"] == f"Fair{HOSTILE_TEXT}weather"
    lines = [f"1 {HOSTILE_TEXT} Street", HOSTILE_TEXT, "", "", ""]  # SMSP sends five
    assert patient["addresses"][0]["lines"] == lines
    assert patient["telecoms"][0]["value"] == f"tel:{HOSTILE_TEXT}"
    assert patient["gp_practice"]["name"] == f"Surgery {HOSTILE_TEXT}"
    assert "\x1b" not in run.stderr


@pytest.mark.parametrize("verbosity", [(), ("-v",)], ids=["quiet", "-v"])
def test_an_http_body_echoing_the_patient_never_reaches_stderr(
    hostile: HostileProvider, verbosity: tuple[str, ...]
) -> None:
    hostile.serve(http_body_echoing_the_patient())
    run = smsp(*GET, "--max-attempts", "1", *verbosity)
    assert run.exit_code == 4, run.stderr
    assert run.stdout == ""
    assert "HTTP 503 Service Unavailable" in run.stderr
    assert [value for value in IDENTIFIERS if value in run.stderr] == []


@pytest.mark.parametrize("verbosity", [(), ("-v",)], ids=["quiet", "-v"])
def test_a_table_shows_hostile_text_as_visible_escapes(
    hostile: HostileProvider, verbosity: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    hostile.serve(hostile_text_reply())
    run = smsp(*GET_SERVED, *verbosity)
    assert run.exit_code == 0, run.stderr
    assert [raw for raw in RAW if raw in run.stdout] == []
    assert "\\x9b31m" in run.stdout
    assert "\\u202eevil" in run.stdout
    assert "[bold red]" in run.stdout  # markup shown as written, never interpreted
    assert [raw for raw in RAW if raw in run.stderr] == []


def test_a_huge_reply_gives_a_bounded_table_quickly(hostile: HostileProvider) -> None:
    from tests.lib import measure

    hostile.serve(huge_reply())  # 2 MB of given names and 11,500 addresses: legal, just
    done = measure.run(*GET_SERVED)
    assert done.exit_code == 0, done.stderr
    assert len(done.stdout.encode()) <= 64 * 1024
    assert "… and 11,480 more (-o json shows all)" in done.stdout
    # The name (2 MB of given names) is cut at 200 characters, saying how many were left out
    # (wrapped between words like any text: the 200 unbroken characters are one unit).
    assert re.search(r"…\s+\(1,999,\d{3}\s+more characters\)", done.stdout)
    assert done.cpu_seconds < 10, f"{done.cpu_seconds:.1f} s of CPU"  # under 1 s today
    print(f"table {len(done.stdout.encode())} bytes, peak {done.peak_mib:.0f} MiB "
          f"in {done.seconds:.1f} s, cpu {done.cpu_seconds:.1f} s")
    assert done.peak_mib < 250, f"peak {done.peak_mib:.0f} MiB"


@pytest.mark.parametrize("verbosity", [(), ("-v",)], ids=["quiet", "-v"])
def test_a_fault_echoing_the_patient_is_masked_on_stderr(
    hostile: HostileProvider, verbosity: tuple[str, ...]
) -> None:
    hostile.serve(fault_echoing_the_patient())
    run = smsp(*GET, *verbosity)
    assert run.exit_code == 3, run.stderr
    assert run.stdout == ""
    assert "1000" in run.stderr
    assert [value for value in IDENTIFIERS if value in run.stderr] == []
    assert "*** *** 5919" in run.stderr or "[redacted]" in run.stderr


# --- settings: a user's own values are untrusted text too -------------------------------------

# ESC [31m would turn the terminal red and U+202E reverse what follows, were they printed raw.
HOSTILE_NAME = "client\x1b[31m\u202ecert.pem"
SHOWN_NAME = "client\\x1b[31m\\u202ecert.pem"


@pytest.mark.parametrize("how", ["flag", "variable"])
@pytest.mark.parametrize(("flag", "variable", "said"), [
    ("--cert", "SMSP_CERT", "client certificate"),
    ("--ca-bundle", "SMSP_CA_BUNDLE", "CA bundle"),
])
def test_a_setting_with_control_characters_is_shown_escaped_in_the_error_line(
    sandbox_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    how: str, flag: str, variable: str, said: str,
) -> None:
    path = str(tmp_path / HOSTILE_NAME)
    args: tuple[str, ...] = GET_SERVED
    if how == "flag":
        args += (flag, path)
    else:
        monkeypatch.setenv(variable, path)
    for extra in ((), ("--json",)):
        run = smsp(*args, *extra)
        assert run.exit_code == 6, run.stderr
        assert run.stderr.startswith(f"smsp: error: {said} "), run.stderr
        assert f"{tmp_path}/{SHOWN_NAME}" in run.stderr
        assert run.stderr.count("\n") == 1
        assert not any(raw in run.stderr + run.stdout for raw in RAW)
