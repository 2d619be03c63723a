"""`smsp audit search` end to end: lookups over mutual TLS to the sandbox, then found again by
NHS number (a superseded number and its successor alike), MessageID, user, time and environment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from smsp_cli.audit import records
from smsp_cli.audit.trail import Trail
from tests.lib.cli import Run, smsp

FOUND = ("9991000003", "--dob", "1984-03-14")
SUPERSEDED, SUCCESSOR = "9991000054", "9991000062"


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own trail (the sandbox keeps the session's certificates)."""
    monkeypatch.setenv("SMSP_DATA_DIR", str(tmp_path))
    return tmp_path


def _json_lines(run: Run) -> list[dict[str, Any]]:
    assert run.exit_code == 0, run.stderr
    return [json.loads(line) for line in run.stdout.splitlines()]


def test_a_superseded_number_and_its_successor_both_find_the_call(
    data: Path, sandbox_env: dict[str, str]
) -> None:
    lookup = smsp("get", SUPERSEDED, "--dob", "1967-05-21", "--json")
    assert lookup.exit_code == 0
    assert lookup.json()["response_code"] == "DEMOG-0017"
    smsp("get", *FOUND, "--json")  # another patient's call, never found below
    message_id = lookup.json()["message_id"]
    by_old = _json_lines(smsp("audit", "search", "--nhs-number", SUPERSEDED, "-o", "json"))
    by_new = _json_lines(smsp("audit", "search", "--nhs-number", "999 100 0062", "--json"))
    assert [r["event"] for r in by_old] == ["sent", "received"]
    assert [r["event"] for r in by_new] == ["received"]
    assert {r["message_id"] for r in by_old + by_new} == {message_id}
    received = by_new[0]
    assert received["superseded_nhs_number"] == SUPERSEDED
    assert received["nhs_numbers"] == [SUPERSEDED, SUCCESSOR]
    assert received["response_code"] == "DEMOG-0017"


def test_a_reply_naming_no_number_is_found_with_its_request(
    data: Path, sandbox_env: dict[str, str]
) -> None:
    lookup = smsp("get", "9991000003", "--dob", "1990-01-01", "--json")  # no match
    assert lookup.exit_code == 1
    found = _json_lines(smsp("audit", "search", "--nhs-number", "999-100-0003", "--json"))
    assert [(r["event"], r.get("nhs_numbers")) for r in found] == [
        ("sent", ["9991000003"]), ("received", [])
    ]


def test_search_by_message_id_ours_or_the_replys(data: Path, sandbox_env: dict[str, str]) -> None:
    first = smsp("verify", *FOUND, "--json")
    smsp("verify", *FOUND, "--json")
    ours = first.json()["message_id"]
    found = _json_lines(smsp("audit", "search", "--message-id", ours.lower(), "--json"))
    assert [r["event"] for r in found] == ["sent", "received"]
    reply_id = found[1]["reply_message_id"]
    assert reply_id
    assert reply_id != ours
    by_reply = _json_lines(smsp("audit", "search", "--message-id", f"uuid:{reply_id}", "--json"))
    assert [r["seq"] for r in by_reply] == [found[1]["seq"]]


def test_search_by_os_user_or_configured_username(
    data: Path, sandbox_env: dict[str, str], credentials: Any
) -> None:
    smsp("verify", *FOUND, "--json")
    refused = smsp("verify", *FOUND, "--username", "Dr Someone Else", "--json")
    assert refused.exit_code == 3  # the sandbox refuses a username that is not the CN
    by_os_user = _json_lines(smsp("audit", "search", "--user", records.os_user(), "--json"))
    assert len(by_os_user) == 4
    by_cn = _json_lines(smsp("audit", "search", "--user", credentials.client_cn, "--json"))
    assert len(by_cn) == 2
    other = _json_lines(smsp("audit", "search", "--user", "dr someone else", "--json"))
    assert [(r["event"], r.get("fault_code")) for r in other] == [("sent", None),
                                                                 ("received", "3000")]


def test_search_by_time_range(data: Path, sandbox_env: dict[str, str]) -> None:
    smsp("verify", *FOUND, "--json")
    today = _json_lines(smsp("audit", "search", "--since", "2000-01-01", "--until", "2999-12-31",
                             "--json"))
    assert len(today) == 2
    later = smsp("audit", "search", "--since", "2999-01-01T00:00:00+01:00", "--json")
    assert later.exit_code == 0
    assert later.stdout == ""
    assert "no record matches (2 searched)" in later.stderr
    assert _json_lines(smsp("audit", "search", "--until", "2000-01-01", "--json")) == []


def test_time_bounds_are_utc_unless_an_offset_is_given(data: Path) -> None:
    with Trail(data / "audit") as trail:
        for moment in ("2025-01-04T09:59:59.000000Z", "2025-01-04T10:00:00.000000Z",
                       "2025-01-04T23:59:59.999999Z", "2025-01-05T00:00:00.000000Z"):
            trail.append({**records.stamped("sent", {}), "time": moment})

    def seqs(*args: str) -> list[int]:
        return [r["seq"] for r in _json_lines(smsp("audit", "search", *args, "--json"))]

    assert seqs("--since", "2025-01-04T10:00") == [2, 3, 4]
    assert seqs("--since", "2025-01-04T11:00+01:00") == [2, 3, 4]  # 10:00 UTC
    assert seqs("--until", "2025-01-04") == [1, 2, 3]  # a date: that whole day
    assert seqs("--until", "2025-01-04T10:00:00Z") == [1, 2]
    assert seqs("--since", "2025-01-04T10:00", "--until", "2025-01-04T12:00") == [2]


def test_search_by_environment_and_filters_combine(
    data: Path, sandbox_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    smsp("verify", *FOUND, "--json")
    monkeypatch.setenv("SMSP_KIND", "test")
    smsp("get", *FOUND, "--json")
    test_calls = _json_lines(smsp("audit", "search", "--environment", "test", "--json"))
    assert [(r["event"], r["operation"]) for r in test_calls] == [
        ("sent", "getPatientDetailsByNHSNumber"), ("received", "getPatientDetailsByNHSNumber")]
    both = _json_lines(smsp("audit", "search", "--environment", "sandbox", "--nhs-number",
                            "9991000003", "--user", records.os_user(), "--json"))
    assert [r["operation"] for r in both] == ["verifyNHSNumber"] * 2


def test_the_table_shows_numbers_3_3_4_within_80_columns(
    data: Path, sandbox_env: dict[str, str]
) -> None:
    smsp("get", SUPERSEDED, "--dob", "1967-05-21", "--json")
    run = smsp("audit", "search")
    assert run.exit_code == 0
    lines = run.stdout.splitlines()
    assert lines[0].split() == ["SEQ", "TIME", "(UTC)", "EVENT", "NHS", "NUMBER", "WHAT"]
    assert "999 100 0054" in lines[1]
    assert "get, attempt 1" in lines[1]
    assert "received  999 100 0054  get: DEMOG-0017" in run.stdout
    assert any(line.strip() == "999 100 0062" for line in lines)
    message_lines = [line for line in lines if line.strip().startswith("MessageID")]
    assert len(message_lines) == 2
    assert max(len(line) for line in lines) <= 80
    assert "9991000054" not in run.stdout


def test_json_lines_are_the_trail_lines_exactly(data: Path, sandbox_env: dict[str, str]) -> None:
    smsp("verify", *FOUND, "--json")
    run = smsp("audit", "search", "-o", "json")
    assert run.exit_code == 0
    assert run.stdout.encode() == (data / "audit" / "audit.jsonl").read_bytes()


def test_hostile_text_in_the_trail_is_shown_escaped(data: Path) -> None:
    with Trail(data / "audit") as trail:
        trail.append(records.stamped("config", {"action": "set\x1b[2J", "profile": "p\u202e"}))
    run = smsp("audit", "search")
    assert run.exit_code == 0
    assert "\x1b" not in run.stdout
    assert "\u202e" not in run.stdout
    assert "set\\x1b[2J" in run.stdout


def test_search_reads_rotated_files_oldest_first(data: Path) -> None:
    with Trail(data / "audit", max_bytes=4096) as trail:
        for n in range(30):
            nhs = "9434765919" if n % 10 == 0 else "9991000003"
            trail.append(records.stamped("sent", {"nhs_numbers": [nhs], "pad": "x" * 300}))
    assert (data / "audit" / "audit.000002.jsonl").exists()
    found = _json_lines(smsp("audit", "search", "--nhs-number", "9434765919", "--json"))
    assert [r["seq"] for r in found] == [1, 11, 21]


def test_lines_that_are_not_records_are_skipped_and_said(data: Path) -> None:
    with Trail(data / "audit") as trail:
        trail.append(records.stamped("sent", {"nhs_numbers": ["9434765919"]}))
    with open(data / "audit" / "audit.jsonl", "ab") as handle:
        handle.write(b"garbage\n")
    run = smsp("audit", "search", "--json")
    assert len(_json_lines(run)) == 1
    assert "1 line(s) that are not audit records were skipped" in run.stderr


def test_no_trail_yet(data: Path) -> None:
    run = smsp("audit", "search")
    assert run.exit_code == 0
    assert run.stdout == ""
    assert "no audit trail yet" in run.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--nhs-number", "123"), "--nhs-number: '123' is not 10 digits"),
        (("--nhs-number", "9991000004"), "fails the modulus 11 check digit"),
        (("--since", "yesterday"), "--since: 'yesterday' is not an ISO 8601 date"),
        (("--until", "2025-13-01"), "--until: '2025-13-01' is not an ISO 8601 date"),
    ],
)
def test_bad_filters_are_one_line_and_exit_2(data: Path, args: tuple[str, ...],
                                              message: str) -> None:
    run = smsp("audit", "search", *args)
    assert run.exit_code == 2
    assert run.stdout == ""
    assert run.stderr.startswith("smsp: error: ")
    assert message in run.stderr
    assert run.stderr.splitlines()[1:] == ["Try 'smsp audit search -h' for help."]


def test_with_json_a_bad_filter_is_also_an_error_object_on_stdout(data: Path) -> None:
    run = smsp("audit", "search", "--since", "yesterday", "-o", "json")
    assert run.exit_code == 2
    error = json.loads(run.stdout)
    assert error["exit_code"] == 2
    assert error["error"]["type"] == "usage"
    assert error["error"]["message"] in run.stderr


def test_an_unknown_environment_is_refused(data: Path) -> None:
    run = smsp("audit", "search", "--environment", "production")
    assert run.exit_code == 2
    assert run.stdout == ""
    assert "production" in run.stderr
