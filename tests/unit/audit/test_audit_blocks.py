"""Search and verify over trails of several blocks (1 MiB each): what is found by needles and by
the lines' starts is what decoding every line finds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smsp_cli.audit import checkpoint, records
from smsp_cli.audit.checkpoint import Checkpoint
from smsp_cli.audit.search import Filters, Tally, search
from smsp_cli.audit.trail import Trail
from smsp_cli.audit.verify import verify

NUMBER, OTHER = "9434765919", "9991000003"
PAD = "x" * 700  # about 1 KiB a record: 3,000 records fill three blocks


def _write(directory: Path, rows: list[dict[str, Any]]) -> None:
    """Records as the writer writes them, chained on from the checkpoint (faster than
    appending one at a time under the lock, which the writer's own tests cover)."""
    directory.mkdir(exist_ok=True)
    saved = checkpoint.read(directory) or Checkpoint(0, None)
    seq, prev, lines = saved.seq, saved.hash, []
    for fields in rows:
        seq += 1
        lines.append(records.encode(seq, prev, records.stamped(fields.pop("event"),
                                                               {**fields, "pad": PAD})))
        prev = records.digest(lines[-1])
    with open(directory / "audit.jsonl", "ab") as handle:
        handle.write(b"".join(lines))
    (directory / "checkpoint.json").write_bytes(Checkpoint(seq, prev).encode())


def _call(n: int, number: str, *, ends: str | None = "received") -> list[dict[str, Any]]:
    message_id = f"{n:08X}-7425-40DE-944B-E07FC1F90AE7"
    rows = [{"event": "sent", "message_id": message_id, "nhs_numbers": [number]}]
    if ends is not None:
        rows.append({"event": ends, "message_id": message_id, "nhs_numbers": []})
    return rows


def _seqs(directory: Path, filters: Filters, tally: Tally | None = None) -> list[int]:
    return [found.record["seq"] for found in search(directory, filters, tally)]


def test_a_calls_later_records_are_found_blocks_later_with_many_calls_open(
    tmp_path: Path,
) -> None:
    rows: list[dict[str, Any]] = []
    for n in range(12):  # twelve calls naming the number, left open (no reply yet)
        rows += _call(n, NUMBER, ends=None)
    rows += [row for n in range(100, 1600) for row in _call(n, OTHER)]
    rows += [{"event": "failed", "message_id": f"{3:08x}-7425-40de-944b-e07fc1f90ae7",
              "nhs_numbers": []}]  # call 3's failure, written in lowercase, two blocks on
    _write(tmp_path, rows)
    tally = Tally()
    assert _seqs(tmp_path, Filters(nhs_number=NUMBER), tally) == [*range(1, 13), 3013]
    assert (tally.records, tally.skipped) == (3013, 0)


def test_a_call_ended_in_a_later_block_is_found_with_one_call_open(tmp_path: Path) -> None:
    rows = _call(1, NUMBER, ends=None)
    rows += [row for n in range(100, 1600) for row in _call(n, OTHER)]
    rows += [{"event": "received", "message_id": f"{1:08X}-7425-40DE-944B-E07FC1F90AE7",
              "nhs_numbers": []}]
    _write(tmp_path, rows)
    assert _seqs(tmp_path, Filters(nhs_number=NUMBER)) == [1, 3002]


def test_message_id_and_user_compare_without_case_across_blocks(tmp_path: Path) -> None:
    rows = [row for n in range(1500) for row in _call(n, OTHER)]
    rows[2000]["username"] = "Clinic Desk"
    _write(tmp_path, rows)
    assert _seqs(tmp_path, Filters(message_id="000003e8-7425-40de-944b-e07fc1f90ae7")) == [
        2001, 2002,
    ]
    assert _seqs(tmp_path, Filters(user="CLINIC DESK")) == [2001]


def test_a_line_that_is_not_a_record_in_a_large_trail_is_counted_as_skipped(
    tmp_path: Path,
) -> None:
    _write(tmp_path, [row for n in range(1500) for row in _call(n, OTHER)])
    path = tmp_path / "audit.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    lines[1800:1801] = [b"garbage\n"]  # call 900's request replaced: its reply not found
    path.write_bytes(b"".join(lines))
    tally = Tally()
    assert _seqs(tmp_path, Filters(nhs_number=OTHER), tally)[1799:1801] == [1800, 1803]
    assert (tally.records, tally.skipped) == (2999, 1)


def test_verify_of_a_large_trail_keeps_a_torn_line_note_and_finds_a_broken_last_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path, [row for n in range(800) for row in _call(n, OTHER)])
    path = tmp_path / "audit.jsonl"
    with open(path, "ab") as handle:
        handle.write(b'{"seq":1601,"prev":')  # torn by a crash
    with Trail(tmp_path) as trail:  # sets it aside, says so, and goes on
        trail.append(records.stamped("sent", {"nhs_numbers": [OTHER]}))
    _write(tmp_path, [row for n in range(800, 1500) for row in _call(n, OTHER)])
    report = verify(tmp_path)
    assert report.ok
    assert report.records == 3002
    assert len(report.notes) == 1
    assert report.notes[0].startswith("sequence 1601: ")
    last = path.read_bytes().splitlines()[-1]
    with open(path, "r+b") as handle:  # the last line keeps its start, its JSON broken
        handle.seek(-len(last) - 1, 2)
        handle.write(last[:-1] + b"]\n")
    report = verify(tmp_path)
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (3002, "edited")
    assert report.problem.detail == "sequence 3002 was edited: its line is not an audit record"
    capsys.readouterr()


def _users(rows: int) -> list[dict[str, Any]]:
    # The host named, so that every line has the same length here as on any machine.
    return [{"event": "sent", "user": "clinician", "host": "ward-pc-17",
             "username": "smsp client", "nhs_numbers": [OTHER]} for _ in range(rows)]


def test_a_user_is_found_in_any_case_only_as_user_or_username_over_rotated_files(
    tmp_path: Path,
) -> None:
    rows = _users(3000)
    rows[5]["user"] = "AUDITOR"
    rows[1114]["username"] = "Auditor"  # the last line of the first 1 MiB block
    rows[1115]["user"] = "auditor"  # the first line of the second
    rows[1200]["host"] = "auditor"  # only inside other fields: never found
    rows[1201]["user"] = "auditors"
    rows[1202]["os_user"] = "auditor"
    rows[1203]["pad_note"] = '"user":"auditor"'  # in a value, its quotes escaped
    rows[1204]["username"] = "audit or"
    _write(tmp_path, rows[:1500])
    lengths = [len(line) for line in (tmp_path / "audit.jsonl").read_bytes().splitlines(True)]
    assert sum(lengths[:1115]) <= 2**20 < sum(lengths[:1116])
    (tmp_path / "audit.jsonl").rename(tmp_path / "audit.000001.jsonl")  # rotated
    _write(tmp_path, rows[1500:])
    rows_later = _users(2)
    rows_later[1]["user"] = "aUdItOr"
    _write(tmp_path, rows_later)
    with open(tmp_path / "audit.jsonl", "ab") as handle:  # a torn last line naming the user
        handle.write(b'{"seq":3003,"prev":null,"user":"auditor"')
    tally = Tally()
    assert _seqs(tmp_path, Filters(user="Auditor"), tally) == [6, 1115, 1116, 3002]
    assert (tally.records, tally.skipped) == (3002, 1)
    assert _seqs(tmp_path, Filters(user="audit or")) == [1205]
    assert _seqs(tmp_path, Filters(user="audit")) == []


def test_a_user_written_with_a_sign_that_folds_to_ascii_is_found_line_by_line(
    tmp_path: Path,
) -> None:
    rows = _users(1200)
    rows[700]["user"] = "\u212aate"  # KELVIN SIGN, which casefolds to k
    rows[701]["user"] = "Ro\u00df"  # casefolds to ross
    rows[702]["user"] = "AUDITOR"  # in the same block, which is not all ASCII
    rows[1100]["username"] = "KATE"
    rows[1101]["username"] = "ROSS"
    _write(tmp_path, rows)
    assert _seqs(tmp_path, Filters(user="kate")) == [701, 1101]
    assert _seqs(tmp_path, Filters(user="ross")) == [702, 1102]
    assert _seqs(tmp_path, Filters(user="Auditor")) == [703]


def test_every_ascii_text_a_character_beyond_ascii_folds_to_holds_an_f_k_or_s() -> None:
    # Why a user without one of those letters is found by its pattern in any block.
    folded = {text for code in range(128, 0x110000)
              for text in (chr(code).lower(), chr(code).casefold()) if text.isascii()}
    assert folded == {"k", "s", "ss", "st", "ff", "fi", "fl", "ffi", "ffl"}


def test_a_value_found_by_its_needle_only_inside_another_field_is_not_a_match(
    tmp_path: Path,
) -> None:
    rows = [row for n in range(1500) for row in _call(n, OTHER)]
    rows[10]["tracking_id"] = "000003E8-7425-40DE-944B-E07FC1F90AE7"  # call 1000's MessageID
    rows[11]["pad_note"] = NUMBER  # the number, but not as one the call named
    _write(tmp_path, rows)
    assert _seqs(tmp_path, Filters(message_id="000003e8-7425-40de-944b-e07fc1f90ae7")) == [
        2001, 2002,
    ]
    assert _seqs(tmp_path, Filters(nhs_number=NUMBER)) == []


def test_a_message_id_is_found_by_its_needle_in_a_block_that_is_not_all_ascii(
    tmp_path: Path,
) -> None:
    rows = [row for n in range(1500) for row in _call(n, OTHER)]
    rows[100]["host"] = "Zoë's desk"  # not ASCII: the block holding calls 0 to 500 or so
    rows[400]["message_id"] = "uuid:\u212aABC-7425-40DE-944B-E07FC1F90AE7"  # KELVIN SIGN
    rows[401]["reply_message_id"] = " kabc-7425-40de-944b-e07fc1f90ae7 "
    _write(tmp_path, rows)
    assert _seqs(tmp_path, Filters(message_id="kabc-7425-40de-944b-e07fc1f90ae7")) == [401, 402]
    # Call 200's request now carries the other MessageID; its reply keeps call 200's.
    assert _seqs(tmp_path, Filters(message_id="000000c8-7425-40de-944b-e07fc1f90ae7")) == [
        402,
    ]


def test_no_other_character_lowers_or_casefolds_to_one_a_case_free_needle_is_made_of() -> None:
    # Why a needle such as "-7425-40" is looked for in blocks that are not all ASCII.
    case_free = set("0123456789 !#$%&'()*+,-./:;<=>?@[]^_`{|}~")
    assert [code for code in range(128, 0x110000)
            if not case_free.isdisjoint(chr(code).lower() + chr(code).casefold())] == []
