"""Batch input: CSV and JSON lines streamed row by row, and the columns each operation needs."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from smsp_cli.batch import InputFormat
from smsp_cli.batch.columns import parse_mapping, plan
from smsp_cli.batch.reader import MAX_LINE_BYTES, BatchInput, InputRow, open_input
from smsp_cli.domain import operations
from smsp_cli.domain.errors import UsageError

EMPTY_STDIN = io.BytesIO(b"")


def _open(tmp_path: Path, name: str, data: bytes,
          chosen: InputFormat | None = None) -> BatchInput:
    path = tmp_path / name
    path.write_bytes(data)
    return open_input(str(path), chosen, EMPTY_STDIN)


def _rows(batch: BatchInput) -> list[InputRow]:
    return list(batch.rows())


# --- CSV ---------------------------------------------------------------------------------------


def test_csv_rows_are_read_by_header_with_blank_cells_left_out(tmp_path: Path) -> None:
    batch = _open(tmp_path, "in.csv", b"nhs_number,dob,family\n9991000003,1984-03-14,\n")
    assert batch.format is InputFormat.csv
    assert batch.columns == ("nhs_number", "dob", "family")
    [row] = _rows(batch)
    assert (row.number, row.record, row.problem) == (
        1, {"nhs_number": "9991000003", "dob": "1984-03-14"}, None
    )


def test_a_utf8_byte_order_mark_is_skipped(tmp_path: Path) -> None:
    batch = _open(tmp_path, "in.csv", b"\xef\xbb\xbfnhs_number,dob\r\n9991000003,1984-03-14\r\n")
    assert batch.columns == ("nhs_number", "dob")
    assert _rows(batch)[0].record == {"nhs_number": "9991000003", "dob": "1984-03-14"}


def test_blank_lines_are_not_rows_and_quoted_cells_may_span_lines(tmp_path: Path) -> None:
    data = b'id,family\n\n"a\nb",Smith\n\n2,"Jones, Jr"\n'
    rows = _rows(_open(tmp_path, "in.csv", data))
    assert [(row.number, row.record) for row in rows] == [
        (1, {"id": "a\nb", "family": "Smith"}),
        (2, {"id": "2", "family": "Jones, Jr"}),
    ]


def test_a_row_with_more_cells_than_the_header_is_a_problem_of_its_own(tmp_path: Path) -> None:
    rows = _rows(_open(tmp_path, "in.csv", b"id,dob\n1,1984-03-14,extra\n2,1984-03-14\n"))
    assert rows[0].problem == "row has 3 cells but the header names 2 columns"
    assert rows[1].problem is None


def test_bytes_that_are_not_utf8_spoil_only_their_row(tmp_path: Path) -> None:
    rows = _rows(_open(tmp_path, "in.csv", b"id,family\n1,M\xfcller\n2,Smith\n"))
    assert rows[0].problem == "row is not UTF-8 text"
    assert rows[1].problem is None


def test_a_header_naming_a_column_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="names column 'dob' twice"):
        _open(tmp_path, "in.csv", b"dob,nhs_number,dob\n")


def test_a_line_longer_than_the_limit_stops_instead_of_filling_memory(tmp_path: Path) -> None:
    batch = _open(tmp_path, "in.csv", b"id\n" + b"x" * (MAX_LINE_BYTES + 10) + b"\n")
    with pytest.raises(UsageError, match="line 2 is longer than"):
        _rows(batch)


def test_rows_are_streamed_not_read_whole(tmp_path: Path) -> None:
    class CountingStream(io.BytesIO):
        def readline(self, size: int | None = -1) -> bytes:
            self.lines_read = getattr(self, "lines_read", 0) + 1
            return super().readline(size)

    stream = CountingStream(b"id,dob\n" + b"1,1984-03-14\n" * 10_000)
    rows = open_input("-", None, stream).rows()
    next(rows)
    assert stream.lines_read <= 3  # header, one row, and nothing ahead


def test_offsets_count_the_bytes_read(tmp_path: Path) -> None:
    rows = _rows(_open(tmp_path, "in.csv", b"id\n1\n22\n"))
    assert [row.offset for row in rows] == [5, 8]


# --- JSON lines --------------------------------------------------------------------------------


def test_jsonl_by_extension_with_blank_lines_skipped_and_bad_lines_kept_as_rows(
    tmp_path: Path,
) -> None:
    data = (b'{"nhs_number": 9991000003, "dob": "1984-03-14", "id": 7}\n\n'
            b'[1]\nnot json\n{"id": null}\n')
    batch = _open(tmp_path, "in.jsonl", data)
    assert batch.format is InputFormat.jsonl
    assert batch.columns == ("nhs_number", "dob", "id")
    rows = _rows(batch)
    assert [(row.number, row.problem) for row in rows] == [
        (1, None), (2, "line is not a JSON object"), (3, "line is not valid JSON"), (4, None)
    ]
    assert rows[0].record == {"nhs_number": 9991000003, "dob": "1984-03-14", "id": 7}
    assert rows[3].record == {}  # null and blank values are no values


def test_jsonl_whose_first_line_is_no_object_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="first line is not valid JSON"):
        _open(tmp_path, "in.jsonl", b"nhs_number,dob\n")


def test_nan_and_infinite_numbers_are_not_json(tmp_path: Path) -> None:
    data = b'{"dob": "1984-03-14"}\n{"id": NaN}\n{"id": 1e400}\n'
    rows = _rows(_open(tmp_path, "in.jsonl", data))
    assert [row.problem for row in rows[1:]] == ["line is not valid JSON"] * 2


@pytest.mark.parametrize(
    ("data", "expected"),
    [(b'{"nhs_number": "9991000003"}\n', InputFormat.jsonl), (b"nhs_number\n1\n", InputFormat.csv)],
)
def test_stdin_format_is_told_by_the_first_line(data: bytes, expected: InputFormat) -> None:
    batch = open_input("-", None, io.BytesIO(data))
    assert batch.is_stdin
    assert batch.format is expected


def test_format_flag_beats_the_extension(tmp_path: Path) -> None:
    batch = _open(tmp_path, "rows.txt", b'{"dob": "1984-03-14"}\n', InputFormat.jsonl)
    assert batch.format is InputFormat.jsonl


def test_an_empty_input_has_no_rows(tmp_path: Path) -> None:
    batch = _open(tmp_path, "in.csv", b"")
    assert batch.is_empty
    assert _rows(batch) == []


def test_a_missing_input_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read input"):
        open_input(str(tmp_path / "absent.csv"), None, EMPTY_STDIN)


# --- columns -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "columns", "missing"),
    [
        ("get", ("nhs_number",), "no dob column"),
        ("verify", ("dob", "family"), "no nhs_number column"),
        ("search", ("family", "dob"), "no gender column"),
        ("trace", ("dob", "gender"), "no family column"),
        ("details", ("family", "given", "gender"), "no dob, nhs_number or dob column"),
        ("details", ("dob", "family"), "no nhs_number or given, gender column"),
    ],
)
def test_a_missing_required_column_is_named(command: str, columns: tuple[str, ...],
                                            missing: str) -> None:
    with pytest.raises(UsageError, match=missing) as caught:
        plan(operations.BY_COMMAND[command], columns, {})
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    "columns", [("dob", "nhs_number"), ("dob", "family", "given", "gender")]
)
def test_details_takes_either_of_its_two_modes(columns: tuple[str, ...]) -> None:
    assert set(plan(operations.DETAILS, columns, {}).sources) == set(columns)


def test_columns_an_operation_does_not_use_are_ignored_and_listed() -> None:
    found = plan(operations.VERIFY, ("id", "nhs_number", "postcode", "dob", "Notes"), {})
    assert found.sources == {"nhs_number": "nhs_number", "dob": "dob", "id": "id"}
    assert found.ignored == ("postcode", "Notes")


def test_column_option_maps_a_sheets_own_header() -> None:
    mapping = parse_mapping(['nhs_number=NHS No', "dob = Date of birth"])
    found = plan(operations.GET, ("NHS No", "Date of birth", "nhs_number"), mapping)
    assert found.sources == {"nhs_number": "NHS No", "dob": "Date of birth"}
    assert found.ignored == ("nhs_number",)
    assert found.fields({"NHS No": "9991000003", "Date of birth": "1984-03-14"}) == {
        "nhs_number": "9991000003", "dob": "1984-03-14",
    }


@pytest.mark.parametrize(
    ("options", "error"),
    [
        (["nhs_number"], "is not FIELD=HEADER"),
        (["surname=Surname"], "'surname' is not a field"),
        (["dob=A", "dob=B"], "maps dob twice"),
    ],
)
def test_bad_column_options_are_usage_errors(options: list[str], error: str) -> None:
    with pytest.raises(UsageError, match=error):
        parse_mapping(options)


def test_a_column_option_naming_an_absent_header_is_refused() -> None:
    with pytest.raises(UsageError, match="no column 'NHS No'"):
        plan(operations.GET, ("nhs_number", "dob"), parse_mapping(["nhs_number=NHS No"]))


def test_a_column_option_for_a_field_the_operation_does_not_use_is_refused() -> None:
    with pytest.raises(UsageError, match="get does not use postcode"):
        plan(operations.GET, ("nhs_number", "dob", "PC"), parse_mapping(["postcode=PC"]))
