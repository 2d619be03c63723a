"""End to end over mutual TLS: a reply is used only if it answers the request that was sent.

A hostile provider answers for another patient or number, with two patients, or for another
message; smsp exits 4 with one line naming what did not match, shows nothing of the reply,
never retries, and the audit trail's failed record names the reason.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.lib.cli import smsp
from tests.lib.hostile import HostileProvider
from tests.lib.hostile_behaviours import answering, business, two_patients

ASKED = "9990001006"
OTHER = "9990001014"
DOB = "1984-03-14"
# Every spelling of both patients' identifiers that must stay off stdout and stderr.
PATIENT_TEXT = (ASKED, OTHER, "999 000 1006", "999 000 1014", "Fairweather", "Eleanor")


def _patient(number: str) -> Any:
    from smsp_cli.sandbox.builtin import BUILT_IN

    return replace(BUILT_IN[0].patient, nhs_number=number)


def _failed_records(message_id: str | None = None) -> list[dict[str, Any]]:
    trail = Path(os.environ["SMSP_DATA_DIR"]) / "audit" / "audit.jsonl"
    records = [json.loads(line) for line in trail.read_text(encoding="utf-8").splitlines()]
    return [r for r in records if r["event"] == "failed"
            and (message_id is None or r["message_id"] == message_id)]


def _refused(run: Any, words: str) -> None:
    assert run.exit_code == 4, run.stderr
    assert words in run.stderr
    assert [text for text in PATIENT_TEXT if text in run.stdout + run.stderr] == []
    assert run.stderr.count("\n") == 1  # one line


def test_get_answered_with_another_patient_exits_4_showing_nothing(
    hostile: HostileProvider,
) -> None:
    hostile.serve(answering(business("getPatientDetailsByNHSNumber", patient=_patient(OTHER))))
    run = smsp("get", ASKED, "--dob", DOB)
    _refused(run, "the reply carries another NHS number than the one asked for")
    assert hostile.connections == 1  # never retried


def test_verify_answered_valid_for_another_number_exits_4_and_json_has_no_verdict(
    hostile: HostileProvider,
) -> None:
    hostile.serve(answering(business("verifyNHSNumber", patient=_patient(OTHER), verified=True)))
    run = smsp("verify", ASKED, "--dob", DOB, "--json")
    assert run.exit_code == 4, run.stderr
    shown = run.json()
    assert shown["error"]["type"] == "provider_failed"
    assert shown["verified"] is None  # a failure: no verdict
    assert OTHER not in run.stdout
    failed = _failed_records()[-1]
    assert failed["reason"] == "other_nhs_number"
    assert failed["exit_code"] == 4


@pytest.mark.parametrize("command", [
    ("get", ASKED, "--dob", DOB),
    ("search", "--family", "Fairweather", "--dob", DOB, "--gender", "f"),
], ids=["get", "search"])
def test_two_patient_records_where_one_is_expected_exit_4(
    hostile: HostileProvider, command: tuple[str, ...]
) -> None:
    operation = "getPatientDetailsBySearch" if command[0] == "search" else (
        "getPatientDetailsByNHSNumber")
    body = two_patients(business(operation, patient=_patient(ASKED)))
    hostile.serve(answering(body))
    run = smsp(*command)
    assert run.exit_code == 4, run.stderr
    assert "the reply holds 2 patient records where one at most answers the request" in (
        run.stderr)
    assert run.stdout == ""
    assert _failed_records()[-1]["reason"] == "several_patients"


def test_relates_to_naming_another_message_exits_4(hostile: HostileProvider) -> None:
    body = business("getPatientDetailsByNHSNumber", patient=_patient(ASKED),
                    relates_to="B72F7785-534C-11E6-ADCA-29C651A3BE6F")
    hostile.serve(answering(body))
    run = smsp("get", ASKED, "--dob", DOB)
    _refused(run, "the reply answers another message: its RelatesTo is not the MessageID sent")
    assert _failed_records()[-1]["reason"] == "relates_to"


def test_the_right_patient_without_relates_to_is_shown(hostile: HostileProvider) -> None:
    hostile.serve(answering(business("getPatientDetailsByNHSNumber", patient=_patient(ASKED))))
    run = smsp("get", ASKED, "--dob", DOB, "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["patient"]["nhs_number"] == ASKED


def _batch(*args: str, stdin: bytes) -> Any:
    from typer.testing import CliRunner

    from smsp_cli.cli.main import app

    result = CliRunner().invoke(app, ["batch", *args], input=stdin, catch_exceptions=False)
    return result


def test_a_reply_replayed_on_a_kept_alive_connection_never_answers_the_next_get(
    hostile: HostileProvider,
) -> None:
    from tests.lib.hostile_behaviours import replaying

    numbers = ["9991000003", "9991000011", "9991000038"] * 8
    hostile.serve(replaying("getPatientDetailsByNHSNumber"))
    stdin = ("nhs_number,dob\n" + "".join(f"{n},{DOB}\n" for n in numbers)).encode()
    result = _batch("get", "-", "--concurrency", "8", stdin=stdin)
    found = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["exit_code"] for row in found] == [0] * len(numbers), result.stderr
    assert [row["result"]["patient"]["nhs_number"] for row in found] == numbers
    # Every reply had bytes after its end: its connection was closed, never reused.
    assert hostile.connections == len(numbers)


def test_a_reply_replayed_on_a_kept_alive_connection_never_answers_the_next_search(
    hostile: HostileProvider,
) -> None:
    from tests.lib.hostile_behaviours import replaying

    families = ["Fairweather", "Ashdown", "Brookfield"] * 8
    hostile.serve(replaying("getPatientDetailsBySearch"))
    stdin = ("family,dob,gender\n" + "".join(f"{f},{DOB},f\n" for f in families)).encode()
    result = _batch("search", "-", "--concurrency", "8", stdin=stdin)
    found = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["exit_code"] for row in found] == [0] * len(families), result.stderr
    assert [row["result"]["patient"]["family_name"] for row in found] == families
    assert hostile.connections == len(families)
