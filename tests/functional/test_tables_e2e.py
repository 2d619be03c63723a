"""Every table smsp prints, through the real CLI at 80, 100 and 120 columns, and on a terminal."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

from smsp_cli.output.table import CONFIDENTIAL
from smsp_cli.sandbox.builtin import BUILT_IN
from tests.lib.cli import smsp
from tests.lib.nhs_numbers import spaced


@pytest.fixture(params=[80, 100, 120])
def columns(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("COLUMNS", str(request.param))
    return int(request.param)


def test_sandbox_patients_keep_every_name_and_scenario_whole(columns: int) -> None:
    run = smsp("sandbox", "patients")
    assert run.exit_code == 0, run.stderr
    assert max(len(line) for line in run.stdout.splitlines()) <= columns
    words = set()
    for record in BUILT_IN:
        patient = record.patient
        assert patient.nhs_number
        assert patient.family_name
        words |= {spaced(patient.nhs_number), patient.family_name.upper(),
                  record.scenario, *patient.given_names}
    assert {word for word in words if word not in run.stdout} == set()
    assert "999 100 0003" in run.stdout  # the first patient, written out
    assert run.stdout.count(CONFIDENTIAL) == 1
    if columns < 100:
        assert "Postcode left out at this width; --json shows all" in run.stdout
    else:
        assert "BO1 4QX" in run.stdout
        assert "left out" not in run.stdout


@pytest.mark.usefixtures("sandbox_env")
def test_a_lookup_table_fits_and_keeps_its_words(columns: int) -> None:
    run = smsp("get", "9991000003", "--dob", "1984-03-14")
    assert run.exit_code == 0, run.stderr
    assert max(len(line) for line in run.stdout.splitlines()) <= columns
    for word in ("Fairweather", "Borsetshire", "eleanor.fairweather@example.com",
                 "Address (correspondence)", "01632 960184 (home)"):
        assert word in run.stdout
    assert run.stdout.count(CONFIDENTIAL) == 1


# Units a table never splits: they appear whole on one line at every width.
_PATIENT_UNITS = ("999 100 0003", "FAIRWEATHER,", "Eleanor", "1984-03-14", "999 100 0232",
                  "credentials-rejected")
_LOOKUP_UNITS = ("999 100 0062", "Oakhurst", "1967-05-21", "BO2 6DW", "01632 960562",
                 "BO1 3RF", "01632 960002")


def _lines_hold(text: str, unit: str) -> bool:
    return any(unit in line for line in text.splitlines())


@pytest.mark.parametrize("width", [100, 60, 40, 20])
def test_sandbox_patients_never_split_a_unit(width: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", str(width))
    run = smsp("sandbox", "patients")
    assert run.exit_code == 0, run.stderr
    shown = [unit for unit in _PATIENT_UNITS if width != 60 or unit != "1984-03-14"]
    assert [unit for unit in shown if not _lines_hold(run.stdout, unit)] == []
    if width >= 60:
        assert max(len(line) for line in run.stdout.splitlines()) <= width
    if width == 60:  # Gender, Born and Postcode give way, in that order of use
        assert run.stdout.splitlines()[2].rstrip() == "NHS number     Name" + " " * 21 + "Scenario"
        assert "999 100 0003   FAIRWEATHER, Eleanor     found" in run.stdout
        assert "\nGender, Born and Postcode left out at this width; --json\nshows all\n" \
            in run.stdout
    if width == 40:  # one column: field: value, every field shown
        assert run.stdout.startswith(
            "NHS Confidential: personal data about a\n"
            "patient\n"
            "Sandbox patients (synthetic)\n"
            "\n"
            "NHS number: 999 100 0003\n"
            "Name: FAIRWEATHER, Eleanor Mary\n"
            "Gender: female\n"
            "Born: 1984-03-14\n"
            "Postcode: BO1 4QX\n"
            "Scenario: found\n"
            "\n"
            "NHS number: 999 100 0011\n"
        )
        assert max(len(line) for line in run.stdout.splitlines()) <= 40
    if width == 20:
        assert "NHS number:\n  999 100 0003\nName: FAIRWEATHER,\n  Eleanor Mary\n" in run.stdout
        assert "Scenario:\n  credentials-rejected\n" in run.stdout  # 22: wider, whole


@pytest.mark.usefixtures("sandbox_env")
@pytest.mark.parametrize("width", [100, 60, 40, 20])
def test_a_get_table_never_splits_a_unit(width: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", str(width))
    run = smsp("get", "9991000054", "--dob", "1967-05-21")  # piped: stdout is not a terminal
    assert run.exit_code == 0, run.stderr
    assert [unit for unit in _LOOKUP_UNITS if not _lines_hold(run.stdout, unit)] == []
    # The MessageID, whole, at every width (wider than 20 columns: it overflows, never cut).
    assert re.search(r"\b[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\b",
                     run.stdout)
    if width == 100:
        assert "│ WARNING        │ the NHS number you supplied has been superseded: use the new " \
               "NHS number         │\n│                │ 999 100 0062  " in run.stdout
    if width == 40:
        assert "\nName: Mr Samuel Peter Oakhurst\nGender: male\nDate of birth: 1967-05-21\n" \
               "Address (home): 8 Brookfield Road,\n  Hollerton, Borsetshire, BO2 6DW\n" \
               "Phone: 01632 960562 (home)\n" in run.stdout
    if width == 20:
        assert "GP telephone:\n  01632 960002\n" in run.stdout


def _on_a_terminal(*args: str) -> tuple[int, str, str]:
    """Run smsp with stdout on a pseudo-terminal (stderr a pipe); return code, tty, stderr."""
    main, secondary = pty.openpty()
    env = os.environ | {"COLUMNS": "100"}
    done = subprocess.Popen(
        [sys.executable, "-m", "smsp_cli", *args],
        stdout=secondary,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(secondary)
    screen = b""
    while True:
        ready, _, _ = select.select([main], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        screen += chunk
    os.close(main)
    assert done.stderr is not None
    stderr = done.stderr.read().decode()
    return done.wait(timeout=60), screen.decode(), stderr


@pytest.mark.skipif(os.name != "posix", reason="needs a POSIX pseudo-terminal")
def test_on_a_terminal_each_warning_and_the_sandbox_note_appear_once() -> None:
    code, screen, stderr = _on_a_terminal(
        "get", "9991000054", "--dob", "1967-05-21", "--profile", "sandbox"
    )
    assert code == 0, stderr
    assert "superseded" in screen
    assert screen.count("superseded") == 1
    assert screen.count("synthetic") == 1
    assert screen.count(CONFIDENTIAL) == 1
    assert stderr == ""


@pytest.mark.usefixtures("sandbox_env")
def test_through_sandbox_serve_settings_the_sandbox_note_is_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `smsp sandbox serve` prints SMSP_KIND=sandbox with the other settings.
    monkeypatch.setenv("SMSP_KIND", "sandbox")
    run = smsp("get", "9991000003", "--dob", "1984-03-14", "--json")
    assert run.exit_code == 0, run.stderr
    assert run.stderr == "smsp: SANDBOX: synthetic data from the embedded provider, not from PDS\n"


def test_cells_of_a_patients_file_are_shown_through_the_sanitiser(tmp_path: Path) -> None:
    csv = tmp_path / "patients.csv"
    csv.write_text(
        "NHS_NUMBER,DATE_OF_BIRTH,FAMILY_NAME,GIVEN_NAME,GENDER,POST_CODE\n"
        "9991000003,19840314,EV\x1b[31mIL,Ann\u202eeb,Female,BO1 4QX\n",
        encoding="utf-8",
    )
    run = smsp("sandbox", "patients", "--patients", str(csv))
    assert run.exit_code == 0, run.stderr
    assert "EV\\x1b[31MIL, Ann\\u202eeb" in run.stdout
    assert "Ann\\u202eeb" in run.stdout
    assert "\x1b" not in run.stdout
    assert "\u202e" not in run.stdout
