"""Batch input, streamed: a CSV file with a header row, or JSON lines, from a file or stdin.

Nothing is loaded whole: rows are read one at a time, and a line longer than
:data:`MAX_LINE_BYTES` stops the batch instead of filling memory. A UTF-8 byte-order mark, as
spreadsheet programs write, is skipped. Bytes that are not UTF-8 spoil only their own row.

Row numbers count data rows from 1: the CSV header and blank lines are not rows.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from smsp_cli.batch import InputFormat
from smsp_cli.domain.errors import UsageError

MAX_LINE_BYTES = 1024 * 1024
STDIN = "-"
_BOM = b"\xef\xbb\xbf"
_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".jsonlines": "jsonl"}


@dataclass(frozen=True)
class InputRow:
    """One data row: its values by column name (blank cells left out), or why it is unreadable."""

    number: int
    record: Mapping[str, object]
    offset: int  # bytes of the input read once this row was
    problem: str | None = None


@dataclass
class BatchInput:
    """An open input: its format, its columns, and its rows one at a time."""

    name: str  # the path as given, or "-"
    stream: BinaryIO
    format: InputFormat
    columns: tuple[str, ...]
    size: int | None  # bytes, for a regular file
    _lines: _Lines
    _first: Mapping[str, object] | None = None  # JSON lines: the first record, already read
    _closes: bool = field(default=True)
    is_empty: bool = False  # not even a header: zero rows


    @property
    def is_stdin(self) -> bool:
        """True when the rows come from standard input."""
        return self.name == STDIN

    def rows(self) -> Iterator[InputRow]:
        """The data rows in input order."""
        if self.format is InputFormat.csv:
            return self._csv_rows()
        return self._json_rows()

    def close(self) -> None:
        """Close the file (never stdin)."""
        if self._closes:
            self.stream.close()

    def _csv_rows(self) -> Iterator[InputRow]:
        number = 0
        try:
            for cells in csv.reader(self._lines):
                if not any(cell.strip() for cell in cells):
                    # A blank line is not a row, nor a line of empty cells (",,", what
                    # spreadsheets leave at the end of a sheet).
                    continue
                number += 1
                yield _csv_row(number, self.columns, cells, self._lines.offset)
        except csv.Error as exc:
            raise UsageError(
                f"{self.name}: CSV row {number + 1} cannot be read: {exc}"
            ) from None

    def _json_rows(self) -> Iterator[InputRow]:
        number = 0
        if self._first is not None:
            number = 1
            yield InputRow(1, self._first, self._lines.offset_after_first)
        for line in self._lines:
            if not line.strip():
                continue
            number += 1
            yield _json_row(number, line, self._lines.offset)


def open_input(name: str, chosen: InputFormat | None, stdin: BinaryIO) -> BatchInput:
    """Open INPUT (a path, or ``-`` for ``stdin``) and read its header or first record."""
    if name == STDIN:
        stream, size, closes = stdin, None, False
    else:
        path = Path(name)
        try:
            stream = path.open("rb")
        except OSError as exc:
            raise UsageError(f"cannot read input {name}: {exc.strerror}") from None
        size = path.stat().st_size if path.is_file() else None
        closes = True
        if chosen is None:
            known = _SUFFIXES.get(path.suffix.lower())
            chosen = InputFormat(known) if known else None
    try:
        return _opened(name, stream, chosen, size, closes)
    except BaseException:
        if closes:
            stream.close()
        raise


def _opened(name: str, stream: BinaryIO, chosen: InputFormat | None, size: int | None,
            closes: bool) -> BatchInput:
    lines = _Lines(stream, name)
    first = next(lines, None)
    while first is not None and not first.strip():
        first = next(lines, None)  # blank lines before the header are no header
    if first is None:
        return BatchInput(name, stream, chosen or InputFormat.csv, (), size, lines,
                          _closes=closes, is_empty=True)
    if chosen is None:
        # No telling extension (stdin too): a JSON line starts with "{", a CSV header does not.
        chosen = InputFormat.jsonl if first.lstrip().startswith("{") else InputFormat.csv
    if chosen is InputFormat.csv:
        header = _csv_header(name, first, lines)
        return BatchInput(name, stream, chosen, header, size, lines, _closes=closes)
    record = _json_object(first)
    if isinstance(record, str):
        raise UsageError(f"{name}: the first line {record}; JSON lines need one object a line")
    lines.offset_after_first = lines.offset
    return BatchInput(name, stream, chosen, tuple(record), size, lines, _first=record,
                      _closes=closes)


class _Lines:
    """The input's lines, decoded, bounded in length, counting the bytes read."""

    def __init__(self, stream: BinaryIO, name: str) -> None:
        self._stream = stream
        self._name = name
        self._number = 0
        self.offset = 0
        self.offset_after_first = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        raw = self._stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            raise StopIteration
        self._number += 1
        if len(raw) > MAX_LINE_BYTES:
            raise UsageError(
                f"{self._name}: line {self._number} is longer than {MAX_LINE_BYTES} bytes",
                hint="is this a CSV or JSON-lines file?",
            )
        if self.offset == 0 and raw.startswith(_BOM):
            raw = raw[len(_BOM):]
            self.offset += len(_BOM)
        self.offset += len(raw)
        # Undecodable bytes are kept as lone surrogates, so they spoil only their own row.
        return raw.decode("utf-8", "surrogateescape")


def _csv_header(name: str, first: str, lines: _Lines) -> tuple[str, ...]:
    def header_lines() -> Iterator[str]:
        yield first
        yield from lines  # a quoted header cell may span lines

    try:
        cells = next(csv.reader(header_lines()))
    except (csv.Error, StopIteration) as exc:
        raise UsageError(f"{name}: the CSV header row cannot be read: {exc}") from None
    header = tuple(cell.strip() for cell in cells)
    if any(undecodable(cell) for cell in header):
        raise UsageError(f"{name}: the CSV header row is not UTF-8 text")
    seen: set[str] = set()
    for column in header:
        if column and column in seen:
            raise UsageError(f"{name}: the CSV header names column {column!r} twice")
        seen.add(column)
    return header


def _csv_row(number: int, header: tuple[str, ...], cells: list[str], offset: int) -> InputRow:
    record = {column: cell.strip() for column, cell in zip(header, cells, strict=False)
              if column and cell.strip()}
    extra = [cell for cell in cells[len(header):] if cell.strip()]
    problem = None
    if extra:
        problem = f"row has {len(cells)} cells but the header names {len(header)} columns"
    elif any(undecodable(cell) for cell in cells):
        problem = "row is not UTF-8 text"
    return InputRow(number, record, offset, problem)


def _json_row(number: int, line: str, offset: int) -> InputRow:
    record = _json_object(line)
    if isinstance(record, str):
        return InputRow(number, {}, offset, f"line {record}")
    return InputRow(number, record, offset)


def _json_object(line: str) -> dict[str, object] | str:
    """The line's JSON object, or what is wrong with it."""
    if undecodable(line):
        return "is not UTF-8 text"
    try:
        value = json.loads(line, parse_constant=_not_json, parse_float=_finite)
    except (ValueError, RecursionError):
        return "is not valid JSON"
    if not isinstance(value, dict):
        return "is not a JSON object"
    # As in a CSV, a blank value is no value.
    return {key: item for key, item in value.items()
            if item is not None and not (isinstance(item, str) and not item.strip())}


def _not_json(word: str) -> float:
    raise ValueError(f"{word} is not JSON")  # Python's json accepts NaN and Infinity


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is too large")
    return number


def undecodable(text: str) -> bool:
    """True when ``text`` holds bytes that were not UTF-8 (kept as lone surrogates)."""
    return any("\udc80" <= char <= "\udcff" for char in text)
