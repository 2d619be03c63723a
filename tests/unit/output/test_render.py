"""Tables for people and JSON for scripts, rendered at fixed widths through ``render.emit``.

Outcomes are built directly, so every shape a provider could send (hostile text, huge lists,
missing parts) reaches the renderer exactly; the end-to-end tests drive the same code through
the CLI.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from smsp_cli.domain.operations import BY_NAME
from smsp_cli.domain.results import Address, GpPractice, Outcome, Patient, Reply, Telecom
from smsp_cli.output import render
from smsp_cli.output.jsonshape import outcome_error, outcome_json
from smsp_cli.output.render import OutputFormat
from smsp_cli.output.table import CONFIDENTIAL, WITHHELD

PATIENT = Patient(
    nhs_number="9991000003",
    title="Mrs",
    given_names=("Eleanor", "Mary"),
    family_name="Fairweather-Montgomery",
    gender="female",
    birth_date="1984-03-14",
    addresses=(
        Address("home", ("Rose Cottage", "12 Orchard Way", "Little Ambridge", "Borchester",
                         "Borsetshire"), "BO1 4QX"),
        Address("correspondence", ("PO Box 17", "Borchester"), "BO1 9ZZ"),
    ),
    telecoms=(
        Telecom("home", "tel:01632960184"),
        Telecom("mobile", "tel:07700900184"),
        Telecom("primary-home", "mailto:eleanor.fairweather@example.com"),
    ),
    gp_practice=GpPractice(
        "Y12345", "Ambridge Village Surgery",
        Address(None, ("The Surgery", "Church Lane", "Ambridge"), "BO2 7AA"), "tel:01632960001",
    ),
)


def outcome(
    patient: Patient | None = PATIENT,
    *,
    code: str = "SMSP-0000",
    operation: str = "getPatientDetailsByNHSNumber",
    exit_code: int = 0,
    warnings: tuple[str, ...] = (),
    stderr_warnings: tuple[str, ...] = (),
    synthetic: bool = False,
    **reply: object,
) -> Outcome:
    asked = BY_NAME[operation]
    return Outcome(
        operation=asked,
        reply=Reply(kind=asked.reply.value, response_code=code, patient=patient, **reply),  # type: ignore[arg-type]
        response_text="Success" if code == "SMSP-0000" else "Some text",
        exit_code=exit_code,
        message_id="8B75CC89-D7A5-40CC-A7A1-CF2E68C907FC",
        warnings=warnings,
        stderr_warnings=stderr_warnings,
        synthetic=synthetic,
        environment="sandbox" if synthetic else "live",
    )


def emitted(
    capsys: pytest.CaptureFixture[str],
    result: Outcome,
    output: OutputFormat = OutputFormat.table,
    **options: object,
) -> tuple[str, str]:
    render.emit(result, output, **options)  # type: ignore[arg-type]
    captured = capsys.readouterr()
    return captured.out, captured.err


@pytest.fixture(params=[80, 100, 120])
def width(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("COLUMNS", str(request.param))
    return int(request.param)


# --- reading tables -------------------------------------------------------------------------


def test_every_label_and_word_stays_whole_at_each_width(
    capsys: pytest.CaptureFixture[str], width: int
) -> None:
    out, _ = emitted(capsys, outcome(), terminal=True)
    assert max(len(line) for line in out.splitlines()) <= width
    for label in ("NHS number", "Name", "Date of birth", "Address (home)",
                  "Address (correspondence)", "GP practice", "GP address", "Message ID"):
        assert label in out
    words = {"Fairweather-Montgomery", "Borsetshire", "eleanor.fairweather@example.com",
             "Ambridge", "8B75CC89-D7A5-40CC-A7A1-CF2E68C907FC", "999 100 0003"}
    assert {word for word in words if word in out} == words


def test_the_confidentiality_label_is_printed_once_at_the_top(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out, _ = emitted(capsys, outcome(), terminal=True)
    assert out.count(CONFIDENTIAL) == 1
    assert out.splitlines()[0].strip() == CONFIDENTIAL


@pytest.mark.parametrize(("code", "valid", "word", "flag", "exit_code"), [
    ("SMSP-0000", True, "yes", True, 0),
    ("SMSP-0003", True, "yes", True, 0),
    ("DEMOG-0017", True, "yes", True, 0),
    ("SMSP-0000", False, "no: not verified", False, 1),
    ("SMSP-0003", False, "no: not verified", False, 1),
    ("DEMOG-0040", True, "no: the details do not match this NHS number", False, 1),
    ("DEMOG-0022", True, "no: this NHS number has been invalidated", False, 1),
    ("DEMOG-0001", None, "no: no patient has this NHS number and date of birth", False, 1),
    ("DEMOG-0042", None, "no: this is not a new-style NHS number", False, 1),
    ("SMSP-0000", None, "unknown: the provider did not say", None, 4),
    ("DEMOG-0017", None, "unknown: the provider did not say", None, 4),
    ("SMSP-0001", True, "not checked: Input message validation error", None, 3),
    ("SMSP-0004", None, "not checked: Could not connect to Spine", None, 4),
    ("DEMOG-9999", False, "not checked: Generic Spine Service Error", None, 4),
])
def test_verify_follows_the_verdict_table_in_json_table_and_exit_code(
    capsys: pytest.CaptureFixture[str], code: str, valid: bool | None, word: str,
    flag: bool | None, exit_code: int,
) -> None:
    from smsp_cli import service
    from smsp_cli.domain import operations

    reply = Reply(kind=operations.VERIFY.reply.value, response_code=code, verified=valid,
                  nhs_number="9991000003" if valid is not None else None)
    result = service.judge(operations.VERIFY, reply, "8B75CC89-D7A5-40CC-A7A1-CF2E68C907FC",
                           environment="live")
    assert result.exit_code == exit_code
    out, _ = emitted(capsys, result, terminal=True)
    assert re.search(rf"Verified\s+│ {re.escape(word)}\s", out), out
    render.emit(result, OutputFormat.json)
    assert json.loads(capsys.readouterr().out)["verified"] is flag


def test_telecoms_read_as_numbers_and_addresses_and_json_has_the_use_in_words(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out, _ = emitted(capsys, outcome(), terminal=True)
    assert "01632 960184 (home)" in out
    assert "07700 900184 (mobile)" in out
    assert "eleanor.fairweather@example.com (home)" in out
    assert "01632 960001" in out
    assert "tel:" not in out
    assert "mailto:" not in out
    shape, _ = emitted(capsys, outcome(), OutputFormat.json)
    telecoms = json.loads(shape)["patient"]["telecoms"]
    assert telecoms[0] == {"use": "home", "value": "tel:01632960184"}
    assert telecoms[2]["use"] == "primary-home"
    assert telecoms[2]["value"] == "mailto:eleanor.fairweather@example.com"


def test_a_record_without_addresses_or_telecoms_says_none_were_returned(
    capsys: pytest.CaptureFixture[str],
) -> None:
    restricted = Patient(nhs_number="9991000011", family_name="Nightingale")
    out, _ = emitted(capsys, outcome(restricted), terminal=True)
    assert re.search(r"Address\s+│ none returned \(the record may be restricted\)", out)
    assert re.search(r"Phone, email\s+│ none returned \(the record may be restricted\)", out)
    shape, _ = emitted(capsys, outcome(restricted), OutputFormat.json)
    assert json.loads(shape)["patient"]["addresses"] == []
    assert WITHHELD not in shape


def test_names_with_markup_print_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    marked = Patient(nhs_number="9991000003", family_name="[bold]Smith[/bold]",
                     given_names=("[red]Ann",))
    out, _ = emitted(capsys, outcome(marked), terminal=True)
    assert "[red]Ann [bold]Smith[/bold]" in out


def test_control_and_bidi_characters_in_patient_fields_are_shown_as_escapes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    hostile = Patient(
        nhs_number="9991000003",
        given_names=("Ev\x1b[31mil",),
        family_name="Smith\u202eredro",
        gender="fe\x9bmale",
        birth_date="1984\x07-03-14",
        addresses=(Address("H\x1b]0;x\x07", ("1 Bell\x08 St",), "BO1\u2066 4QX"),),
        telecoms=(Telecom("H", "tel:0163\x1b[2J2960184"),),
        gp_practice=GpPractice("Y1\x1b", "Surgery\u200b", None, None),
        local_identifier="L\x00C",
    )
    out, _ = emitted(capsys, outcome(hostile), terminal=True)
    for escape in ("Ev\\x1b[31mil", "Smith\\u202eredro", "fe\\x9bmale", "1984\\x07-03-14",
                   "H\\x1b]0;x\\x07", "1 Bell\\x08 St", "BO1\\u2066 4QX", "0163\\x1b[2J2960184",
                   "Y1\\x1b", "Surgery\\u200b", "L\\x00C"):
        assert escape in out
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b\u202e\u2066]", out)
    shape, _ = emitted(capsys, outcome(hostile), OutputFormat.json)
    assert json.loads(shape)["patient"]["family_name"] == "Smith\u202eredro"  # JSON is exact


@pytest.mark.parametrize("number", ["\x1b[2J\x1b[31mX", "\u202e999100000"])
def test_an_nhs_number_of_ten_characters_that_are_not_digits_is_shown_as_escapes(
    capsys: pytest.CaptureFixture[str], number: str
) -> None:
    out, _ = emitted(capsys, outcome(Patient(nhs_number=number)), terminal=True)
    assert not re.search("[\x1b\u202e]", out)
    assert "\\x1b[2J" in out or "\\u202e999100000" in out


# --- bounded tables -------------------------------------------------------------------------


HUGE = Patient(
    nhs_number="9991000003",
    given_names=("A" * 8_000_000, *(f"Given{n}" for n in range(24))),
    family_name="Fairweather",
    addresses=tuple(Address("home", (f"{n} Long Road",), "BO1 4QX") for n in range(3000)),
    telecoms=tuple(Telecom("H", f"tel:0163296{n:04d}") for n in range(500)),
)


@pytest.mark.parametrize("columns", [40, 80, 200])
def test_a_huge_reply_gives_a_bounded_table_quickly(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, columns: int
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    # CPU time, not wall time: a busy machine slows the clock on the wall, not the work.
    started = time.process_time()
    out, _ = emitted(capsys, outcome(HUGE), terminal=True)
    took = time.process_time() - started
    assert len(out.encode("utf-8")) <= 64 * 1024
    assert took < 1.0, f"{took:.2f} s of CPU"
    flat = " ".join(out.replace("│", " ").split())
    shown_names = " ".join([*HUGE.given_names[:20], "Fairweather"])
    assert f"… ({len(shown_names) - 200:,} more characters)" in flat
    assert "… and 5 more given names (-o json shows all)" in flat
    assert "… and 2,980 more (-o json shows all)" in flat
    assert "… and 480 more (-o json shows all)" in flat
    assert "19 Long Road" in flat
    assert "20 Long Road" not in flat


LONG = "word " * 2000
WORST = Patient(
    nhs_number="9" * 5000,
    local_identifier=LONG,
    title=LONG,
    given_names=(LONG,) * 30,
    family_name=LONG,
    gender=LONG,
    birth_date=LONG,
    death_date=LONG,
    addresses=tuple(Address(LONG, (LONG,) * 30, LONG) for _ in range(30)),
    telecoms=tuple(Telecom(LONG, "tel:" + LONG) for _ in range(30)),
    gp_practice=GpPractice(LONG, LONG, Address(LONG, (LONG,) * 30, LONG), LONG),
)


@pytest.mark.parametrize("columns", [20, 40, 80, 200])
def test_every_field_at_its_longest_still_gives_at_most_64_kib(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, columns: int
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    started = time.process_time()  # CPU, which a busy machine does not stretch
    out, _ = emitted(capsys, outcome(WORST, warnings=(LONG,) * 3), terminal=True)
    took = time.process_time() - started
    assert took < 1.0, f"{took:.2f} s of CPU"
    assert len(out.encode("utf-8")) <= 64 * 1024
    assert out.startswith("NHS Confidential:")
    if columns <= 40:
        # One column of field: value lines: no borders, so it ends before the 64 KiB cap.
        assert "\nMessage ID:\n" in out


def test_json_for_a_huge_reply_stays_complete(capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = emitted(capsys, outcome(HUGE), OutputFormat.json)
    patient = json.loads(out)["patient"]
    assert len(patient["given_names"][0]) == 8_000_000
    assert len(patient["given_names"]) == 25
    assert len(patient["addresses"]) == 3000
    assert len(patient["telecoms"]) == 500


def test_a_long_field_is_cut_with_the_count_left_out(capsys: pytest.CaptureFixture[str]) -> None:
    long_line = Patient(nhs_number="9991000003", family_name="x" * 450)
    out, _ = emitted(capsys, outcome(long_line), terminal=True)
    flat = "".join(out.replace("│", " ").split())
    assert "x" * 200 + "…(250morecharacters)" in flat
    assert "x" * 201 not in flat


# --- notes, once each -----------------------------------------------------------------------


SUPERSEDED: dict[str, object] = {
    "code": "DEMOG-0017",
    "warnings": ("the NHS number you supplied has been superseded: use the new NHS number "
                 "999 100 0062",),
    "stderr_warnings": ("the NHS number you supplied has been superseded: use the new NHS "
                        "number shown in the output",),
}


def test_on_a_terminal_the_table_alone_carries_warnings_and_the_sandbox_note(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out, err = emitted(capsys, outcome(synthetic=True, **SUPERSEDED), terminal=True,  # type: ignore[arg-type]
                       label="SANDBOX environment (profile none): synthetic data")
    assert err == ""
    assert out.count("superseded") == 1
    assert out.count("synthetic") == 1
    assert "SANDBOX environment" not in out


def test_off_a_terminal_stderr_gets_each_note_once_without_the_new_number(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for output, terminal in ((OutputFormat.table, False), (OutputFormat.json, True),
                             (OutputFormat.xml, True)):
        _, err = emitted(capsys, outcome(synthetic=True, **SUPERSEDED), output,  # type: ignore[arg-type]
                         terminal=terminal)
        assert err == (
            "smsp: warning: the NHS number you supplied has been superseded: use the new NHS "
            "number shown in the output\n"
            f"smsp: {render.SYNTHETIC_NOTE}\n"
        )


def test_a_test_providers_label_goes_with_the_result(capsys: pytest.CaptureFixture[str]) -> None:
    label = "TEST environment (profile opentest): data from a test provider, not live data"
    out, err = emitted(capsys, outcome(), terminal=True, label=label)
    assert err == ""
    assert "TEST environment (profile opentest)" in " ".join(out.replace("│", " ").split())
    _, err = emitted(capsys, outcome(), OutputFormat.json, label=label)
    assert err == f"smsp: {label}\n"


def test_warnings_built_without_a_stderr_form_are_masked_on_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = outcome(warnings=("use the new NHS number 999 100 0062 (born 1967-05-21)",))
    _, err = emitted(capsys, result, OutputFormat.json)
    assert err == "smsp: warning: use the new NHS number *** *** 0062 (born ****-**-**)\n"


# --- a reply that exits 2-6 -------------------------------------------------------------------


def test_a_reply_that_exits_4_adds_the_error_object_to_the_result_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    spine_down = outcome(None, code="SMSP-0004", exit_code=4,
                         warnings=("the provider could not reach Spine; try again later",),
                         stderr_warnings=("the provider could not reach Spine; try again later",))
    out, err = emitted(capsys, spine_down, OutputFormat.json)
    shape = json.loads(out)
    assert shape["response_code"] == "SMSP-0004"
    assert shape["patient"] is None
    assert shape["exit_code"] == 4
    assert shape["error"] == {
        "type": "provider_failed",
        "message": "SMSP-0004 Some text: the provider could not reach Spine; try again later "
                   "(MessageID 8B75CC89-D7A5-40CC-A7A1-CF2E68C907FC)",
        "response_code": "SMSP-0004",
        "fault_code": None,
        "fields": [],
    }
    assert shape["message_id"] == "8B75CC89-D7A5-40CC-A7A1-CF2E68C907FC"
    assert shape["message_ids"] == ["8B75CC89-D7A5-40CC-A7A1-CF2E68C907FC"]
    assert shape["error"] == outcome_error(spine_down)
    assert err == f"smsp: error: {shape['error']['message']}\n"


def test_results_that_exit_0_or_1_have_no_error_keys() -> None:
    assert outcome_error(outcome()) is None
    assert "error" not in outcome_json(outcome(exit_code=1, code="DEMOG-0001"))
    assert "exit_code" not in outcome_json(outcome(exit_code=1, code="DEMOG-0001"))
