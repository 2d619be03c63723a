"""The --out file: whole lines, a torn last line cut on resume, and FILE.meta guarding it."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from smsp_cli.batch.sink import InputIdentity, encode_row, meta_path, open_file
from smsp_cli.domain.errors import UsageError


@pytest.fixture
def source(tmp_path: Path) -> InputIdentity:
    path = tmp_path / "in.csv"
    path.write_text("nhs_number,dob\n", encoding="utf-8")
    return InputIdentity.of(path)


def _row(number: int, exit_code: int = 0) -> bytes:
    return encode_row({"row": number, "id": 'say "exit_code": 9', "exit_code": exit_code,
                       "result": {"exit_code": 7}})


def test_a_new_file_is_private_and_described_by_its_meta(tmp_path: Path,
                                                         source: InputIdentity) -> None:
    out = tmp_path / "out.jsonl"
    sink, earlier = open_file(out, operation="get", identity=source, resume=False)
    sink.write(_row(1))
    sink.close()
    assert earlier.rows == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert stat.S_IMODE(meta_path(out).stat().st_mode) == 0o600
    assert json.loads(meta_path(out).read_text()) == {
        "operation": "get",
        "pid": os.getpid(),  # the batch writing it, named to a second one that is refused
        "input": {"path": source.path, "size": source.size, "mtime_ns": source.mtime_ns},
    }
    assert out.read_bytes() == _row(1)


def test_an_existing_non_empty_file_is_refused_without_resume(tmp_path: Path,
                                                              source: InputIdentity) -> None:
    out = tmp_path / "out.jsonl"
    out.write_bytes(_row(1))
    with pytest.raises(UsageError, match="already holds rows") as caught:
        open_file(out, operation="get", identity=source, resume=False)
    assert caught.value.exit_code == 2
    assert out.read_bytes() == _row(1)


def test_resume_counts_whole_rows_and_cuts_a_torn_last_line(tmp_path: Path,
                                                            source: InputIdentity) -> None:
    out = tmp_path / "out.jsonl"
    sink, _ = open_file(out, operation="get", identity=source, resume=False)
    for number, code in ((1, 0), (2, 1), (3, 4)):
        sink.write(_row(number, code))
    sink.close()
    with out.open("ab") as torn:
        torn.write(_row(4)[:25])  # killed mid-write
    sink, earlier = open_file(out, operation="get", identity=source, resume=True)
    sink.write(_row(4))
    sink.close()
    assert earlier.rows == 3
    assert earlier.cut_bytes == 25
    assert dict(earlier.exit_codes) == {0: 1, 1: 1, 4: 1}  # the row's own code, not id's
    assert [json.loads(line)["row"] for line in out.read_text().splitlines()] == [1, 2, 3, 4]


def test_resume_of_a_missing_file_starts_afresh(tmp_path: Path, source: InputIdentity) -> None:
    out = tmp_path / "out.jsonl"
    sink, earlier = open_file(out, operation="get", identity=source, resume=True)
    sink.close()
    assert earlier.rows == 0
    assert meta_path(out).is_file()


def _started(tmp_path: Path, source: InputIdentity, operation: str = "get") -> Path:
    out = tmp_path / "out.jsonl"
    sink, _ = open_file(out, operation=operation, identity=source, resume=False)
    sink.write(_row(1))
    sink.close()
    return out


def test_resume_with_another_operation_is_refused(tmp_path: Path,
                                                  source: InputIdentity) -> None:
    out = _started(tmp_path, source, operation="verify")
    with pytest.raises(UsageError, match="rows of a `verify` batch, not `get`"):
        open_file(out, operation="get", identity=source, resume=True)


def test_resume_with_another_input_is_refused(tmp_path: Path, source: InputIdentity) -> None:
    out = _started(tmp_path, source)
    other = tmp_path / "other.csv"
    other.write_text("nhs_number,dob\n", encoding="utf-8")
    with pytest.raises(UsageError, match="another input file"):
        open_file(out, operation="get", identity=InputIdentity.of(other), resume=True)


def test_resume_after_the_input_changed_is_refused(tmp_path: Path,
                                                   source: InputIdentity) -> None:
    out = _started(tmp_path, source)
    Path(source.path).write_text("nhs_number,dob\n9991000003,1984-03-14\n", encoding="utf-8")
    with pytest.raises(UsageError, match="input has changed"):
        open_file(out, operation="get", identity=InputIdentity.of(Path(source.path)),
                  resume=True)


def test_resume_of_a_stdin_batch_is_refused(tmp_path: Path, source: InputIdentity) -> None:
    out = tmp_path / "out.jsonl"
    sink, _ = open_file(out, operation="get", identity=None, resume=False)
    sink.write(_row(1))
    sink.close()
    assert json.loads(meta_path(out).read_text())["input"] is None
    with pytest.raises(UsageError, match="read from stdin"):
        open_file(out, operation="get", identity=source, resume=True)


def test_resume_without_meta_is_refused(tmp_path: Path, source: InputIdentity) -> None:
    out = tmp_path / "out.jsonl"
    out.write_bytes(_row(1))
    with pytest.raises(UsageError, match=r"no out\.jsonl\.meta"):
        open_file(out, operation="get", identity=source, resume=True)


def test_a_file_that_is_not_batch_output_is_refused(tmp_path: Path,
                                                    source: InputIdentity) -> None:
    out = _started(tmp_path, source)
    with out.open("ab") as extra:
        extra.write(b'{"row": 7, "exit_code": 0}\n')
    with pytest.raises(UsageError, match="line 2 is not row 2"):
        open_file(out, operation="get", identity=source, resume=True)


def test_a_symbolic_link_is_never_followed(tmp_path: Path, source: InputIdentity) -> None:
    target = tmp_path / "elsewhere.jsonl"
    target.write_bytes(b"")
    link = tmp_path / "out.jsonl"
    os.symlink(target, link)
    with pytest.raises(UsageError, match="symbolic link"):
        open_file(link, operation="get", identity=source, resume=False)
