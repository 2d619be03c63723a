"""`smsp audit verify` end to end: a trail written by real lookups over mutual TLS to the
sandbox, then tampered with every way, each one found and named with its sequence number."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from smsp_cli.audit import records
from smsp_cli.audit.trail import Trail
from smsp_cli.audit.verify import verify
from tests.lib.cli import Run, smsp

LOOKUPS = (
    ("verify", "9991000003", "--dob", "1984-03-14"),
    ("get", "9991000003", "--dob", "1984-03-14"),
    ("get", "9991000054", "--dob", "1967-05-21"),  # superseded: DEMOG-0017
    ("trace", "--family", "Fairweather", "--dob", "1984", "--gender", "f"),
    ("verify", "9991000011", "--dob", "1990-01-01"),  # not verified
)


@pytest.fixture(scope="module")
def written_trail(
    tmp_path_factory: pytest.TempPathFactory, sandbox: Any, credentials: Any
) -> Path:
    """A trail of ten records (five lookups, one attempt each) written by the real CLI."""
    from smsp_cli.sandbox.embedded import variables_for

    data = tmp_path_factory.mktemp("written")
    patch = pytest.MonkeyPatch()
    try:
        patch.setenv("SMSP_DATA_DIR", str(data))
        for name, value in variables_for(sandbox.url, credentials).items():
            patch.setenv(name, value)
        for lookup in LOOKUPS:
            run = smsp(*lookup, "--json")
            assert run.exit_code in (0, 1), run.stderr
    finally:
        patch.undo()
    return data / "audit"


@pytest.fixture
def trail(written_trail: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the written trail, as this test's SMSP_DATA_DIR."""
    shutil.copytree(written_trail, tmp_path / "audit")
    monkeypatch.setenv("SMSP_DATA_DIR", str(tmp_path))
    return tmp_path / "audit"


def _lines(trail: Path) -> list[bytes]:
    return (trail / "audit.jsonl").read_bytes().splitlines(keepends=True)


def _rewrite(trail: Path, lines: list[bytes]) -> None:
    (trail / "audit.jsonl").write_bytes(b"".join(lines))


def _problem(run: Run) -> dict[str, Any]:
    assert run.exit_code == 1, run.stdout + run.stderr
    report = run.json()
    assert report["ok"] is False
    return report["problem"]  # type: ignore[no-any-return]


def test_an_untouched_trail_is_whole(trail: Path) -> None:
    run = smsp("audit", "verify")
    assert run.exit_code == 0, run.stdout
    assert "records     10 (sequence 1 to 10) checked" in run.stdout
    assert "checkpoint  sequence 10" in run.stdout
    assert run.stdout.rstrip().endswith("the trail ends where the checkpoint says")
    assert run.stderr == ""


def test_the_json_report_of_a_whole_trail(trail: Path) -> None:
    run = smsp("audit", "verify", "-o", "json")
    assert run.exit_code == 0
    report = run.json()
    assert report["ok"] is True
    assert (report["records"], report["first_seq"], report["last_seq"]) == (10, 1, 10)
    assert report["files"] == ["audit.jsonl"]
    assert report["checkpoint"]["seq"] == 10
    assert report["problem"] is None


def test_an_edited_record_is_found(trail: Path) -> None:
    lines = _lines(trail)
    lines[3] = lines[3].replace(b'"attempt":1', b'"attempt":2')
    _rewrite(trail, lines)
    problem = _problem(smsp("audit", "verify", "--json"))
    assert (problem["seq"], problem["kind"]) == (4, "edited")
    assert problem["line"] == 5  # found where sequence 5 no longer links to it


def test_an_edited_nhs_number_is_found(trail: Path) -> None:
    lines = _lines(trail)
    lines[0] = lines[0].replace(b"9991000003", b"9434765919")
    _rewrite(trail, lines)
    run = smsp("audit", "verify")
    assert run.exit_code == 1
    assert "NOT WHOLE at sequence 1: edited" in run.stdout


def test_a_deleted_record_is_found(trail: Path) -> None:
    lines = _lines(trail)
    del lines[4]
    _rewrite(trail, lines)
    problem = _problem(smsp("audit", "verify", "--json"))
    assert (problem["seq"], problem["kind"]) == (5, "deleted")
    assert "record 5 is missing" in problem["detail"]


def test_an_inserted_record_is_found(trail: Path) -> None:
    lines = _lines(trail)
    lines.insert(6, lines[2])  # a copy of sequence 3, slipped in after sequence 6
    _rewrite(trail, lines)
    problem = _problem(smsp("audit", "verify", "--json"))
    assert (problem["seq"], problem["kind"]) == (7, "inserted")
    assert "claiming sequence 3" in problem["detail"]


def test_a_forged_record_with_the_next_number_is_found(trail: Path) -> None:
    lines = _lines(trail)
    forged = json.loads(lines[5])
    forged["nhs_numbers"] = ["9434765919"]
    lines.insert(5, json.dumps(forged).encode() + b"\n")  # claims sequence 6, links to 5
    _rewrite(trail, lines)
    problem = _problem(smsp("audit", "verify", "--json"))
    assert (problem["seq"], problem["kind"]) == (6, "inserted")


def test_reordered_records_are_found(trail: Path) -> None:
    lines = _lines(trail)
    lines[2], lines[3] = lines[3], lines[2]
    _rewrite(trail, lines)
    problem = _problem(smsp("audit", "verify", "--json"))
    assert (problem["seq"], problem["kind"]) == (3, "reordered")


def test_records_cut_from_the_end_are_found(trail: Path) -> None:
    _rewrite(trail, _lines(trail)[:7])
    run = smsp("audit", "verify")
    assert run.exit_code == 1
    assert "NOT WHOLE at sequence 8: cut: records 8 to 10 are missing" in run.stdout


def test_one_record_cut_from_the_end_is_found(trail: Path) -> None:
    # The smallest cut: the checkpoint is exactly one record ahead of the trail.
    _rewrite(trail, _lines(trail)[:9])
    run = smsp("audit", "verify")
    assert run.exit_code == 1
    assert "NOT WHOLE at sequence 10: cut: record 10 is missing" in run.stdout
    problem = _problem(smsp("audit", "verify", "--json"))
    assert (problem["seq"], problem["kind"]) == (10, "cut")


def _sha256(line: bytes) -> str:
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


def _write_checkpoint(trail: Path, seq: int, digest: str) -> None:
    # The checkpoint file's documented shape: one JSON line padded to 128 bytes.
    text = json.dumps({"seq": seq, "hash": digest})
    (trail / "checkpoint.json").write_bytes((text.ljust(127) + "\n").encode("ascii"))


def test_a_lagging_checkpoint_alone_is_only_a_note(trail: Path) -> None:
    lines = _lines(trail)
    _write_checkpoint(trail, 8, _sha256(lines[7]))
    run = smsp("audit", "verify")
    assert run.exit_code == 0, run.stdout
    assert "the checkpoint is 2 record(s) behind the trail" in run.stdout


def test_an_edited_checkpointed_record_is_found_when_the_chain_after_it_is_relinked(
    trail: Path,
) -> None:
    # The checkpoint lags the trail (a crash between a record and its checkpoint), then the
    # record it names is edited and every later record re-linked: the chain is whole again,
    # and only the checkpoint's hash can tell.
    lines = _lines(trail)
    _write_checkpoint(trail, 8, _sha256(lines[7]))
    assert b'"attempt":1' in lines[7]
    lines[7] = lines[7].replace(b'"attempt":1', b'"attempt":2')
    for index in (8, 9):
        old_prev = _sha256(_lines(trail)[index - 1]).encode()
        assert old_prev in lines[index]
        lines[index] = lines[index].replace(old_prev, _sha256(lines[index - 1]).encode())
    _rewrite(trail, lines)
    problem = _problem(smsp("audit", "verify", "--json"))
    assert (problem["seq"], problem["kind"]) == (8, "edited")
    assert problem["detail"] == (
        "sequence 8 was edited: it is not the record the checkpoint holds"
    )


def test_records_cut_from_the_end_stay_found_after_more_lookups(
    trail: Path, sandbox: Any, sandbox_env: dict[str, str]
) -> None:
    _rewrite(trail, _lines(trail)[:7])
    run = smsp("verify", "9991000003", "--dob", "1984-03-14", "--json")
    assert run.exit_code == 0
    assert "records 8 to 10 are missing from the end of the trail" in run.stderr
    problem = _problem(smsp("audit", "verify", "--json"))
    assert (problem["seq"], problem["kind"]) == (8, "cut")


def test_a_last_record_cut_mid_line_stays_a_cut_after_more_lookups(
    trail: Path, sandbox: Any, sandbox_env: dict[str, str]
) -> None:
    path = trail / "audit.jsonl"
    path.write_bytes(path.read_bytes()[:-30])
    assert smsp("verify", "9991000003", "--dob", "1984-03-14", "--json").exit_code == 0
    problem = _problem(smsp("audit", "verify", "--json"))
    assert (problem["seq"], problem["kind"]) == (10, "cut")
    assert "record 10 is missing" in problem["detail"]


def test_a_deleted_checkpoint_is_not_whole(trail: Path) -> None:
    (trail / "checkpoint.json").unlink()
    problem = _problem(smsp("audit", "verify", "--json"))
    assert (problem["seq"], problem["kind"]) == (11, "checkpoint")


def test_a_torn_last_line_is_named(trail: Path) -> None:
    with open(trail / "audit.jsonl", "ab") as handle:
        handle.write(b'{"seq":11,"prev":"00')
    problem = _problem(smsp("audit", "verify", "--json"))
    assert (problem["seq"], problem["kind"]) == (11, "torn")


def test_a_torn_line_set_aside_by_the_writer_is_only_a_note(
    trail: Path, sandbox: Any, sandbox_env: dict[str, str]
) -> None:
    with open(trail / "audit.jsonl", "ab") as handle:
        handle.write(b'{"seq":11,"prev":"00')
    assert smsp("verify", "9991000003", "--dob", "1984-03-14", "--json").exit_code == 0
    run = smsp("audit", "verify")
    assert run.exit_code == 0, run.stdout
    assert "note        sequence 11: the trail's last line was torn" in run.stdout


def test_a_line_that_is_not_a_record_is_found(trail: Path) -> None:
    lines = _lines(trail)
    lines[8] = b"\x1b[31mnot a record\n"
    _rewrite(trail, lines)
    run = smsp("audit", "verify")
    assert run.exit_code == 1
    assert "NOT WHOLE at sequence 9: edited: sequence 9 was edited" in run.stdout
    assert "\x1b" not in run.stdout


def test_the_chain_is_checked_across_rotated_files(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMSP_DATA_DIR", str(tmp_path))
    with Trail(tmp_path / "audit", max_bytes=4096) as writer:
        for n in range(30):
            writer.append(records.stamped("sent", {"n": n, "pad": "p" * 300}))
    assert verify(tmp_path / "audit").ok
    second = tmp_path / "audit" / "audit.000002.jsonl"
    second.unlink()  # a whole rotated file removed
    report = verify(tmp_path / "audit")
    assert report.problem is not None
    assert report.problem.kind == "deleted"
    run = smsp("audit", "verify", "--json")
    assert run.exit_code == 1
    assert run.json()["files"][0] == "audit.000001.jsonl"


def test_no_trail_yet_is_nothing_to_verify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMSP_DATA_DIR", str(tmp_path))
    run = smsp("audit", "verify")
    assert run.exit_code == 0
    assert "no audit trail yet" in run.stdout
