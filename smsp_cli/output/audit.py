"""The audit trail for people: records as a table, and what ``smsp audit verify`` found.

The table has fixed columns within 80, so rows stream as they are found. NHS numbers are shown
3-3-4 (MSCA-PDS-06). A trail is a file anyone with access can edit, so every value goes through
the one sanitiser before it reaches the terminal. Records come in as the plain mappings the
trail holds; a verify report as what :class:`TrailReport` names (``audit.verify.Report``).
"""

from __future__ import annotations

import datetime as dt
import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from smsp_cli.domain import audit_events as events
from smsp_cli.domain.models import format_nhs_number
from smsp_cli.untrusted.sanitize import visible


class CheckpointShown(Protocol):
    """The checkpoint a verify report names."""

    @property
    def seq(self) -> int: ...
    @property
    def hash(self) -> str | None: ...


class ProblemShown(Protocol):
    """Where a trail is not whole, and how."""

    @property
    def seq(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def detail(self) -> str: ...
    @property
    def file(self) -> str | None: ...
    @property
    def line(self) -> int | None: ...
    def where(self) -> str: ...


class TrailReport(Protocol):
    """What ``smsp audit verify`` shows of a verification."""

    @property
    def ok(self) -> bool: ...
    @property
    def directory(self) -> Path: ...
    @property
    def files(self) -> Sequence[str]: ...
    @property
    def checkpoint(self) -> CheckpointShown | None: ...
    @property
    def records(self) -> int: ...
    @property
    def first_seq(self) -> int | None: ...
    @property
    def last_seq(self) -> int | None: ...
    @property
    def problem(self) -> ProblemShown | None: ...
    @property
    def notes(self) -> Sequence[str]: ...


HEADER = f"{'SEQ':>7}  {'TIME (UTC)':<19}  {'EVENT':<8}  {'NHS NUMBER':<12}  WHAT"
_INDENT = " " * 9
_NHS_COLUMN = " " * (7 + 2 + 19 + 2 + 8 + 2)


def rows(record: Mapping[str, Any], when: dt.datetime | None) -> list[str]:
    """The lines that show one record (``when``: its time, None when it reads as none): the
    columns, then its message, who and where."""
    numbers = [format_nhs_number(text(n)) for n in record.get("nhs_numbers") or []
               if isinstance(n, str)]
    first = (
        f"{text(record.get('seq')):>7}  {_time(record, when):<19}  {text(record.get('event')):<8}  "
        f"{(numbers[0] if numbers else ''):<12}  {_what(record)}"
    )
    lines = [first.rstrip()]
    lines += [f"{_NHS_COLUMN}{number}" for number in numbers[1:]]
    for detail in _details(record):
        # Free text wraps within 80 columns; ids and paths stay whole on their own line.
        lines += [f"{_INDENT}{part}" for part in textwrap.wrap(detail, 80 - len(_INDENT),
                                                                break_long_words=False)]
    return lines


def text(value: object) -> str:
    """Any value as one safe line of text ('' for none)."""
    if value is None:
        return ""
    return visible(value if isinstance(value, str) else str(value))


def _time(record: Mapping[str, Any], when: dt.datetime | None) -> str:
    if when is None:
        return text(record.get("time"))[:19]
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _operation(record: Mapping[str, Any]) -> str:
    from smsp_cli.domain.operations import BY_NAME

    name = record.get("operation")
    found = BY_NAME.get(name) if isinstance(name, str) else None
    return found.command if found is not None else text(name)


def _what(record: Mapping[str, Any]) -> str:
    event = record.get("event")
    if event == events.SENT:
        return f"{_operation(record)}, attempt {text(record.get('attempt'))}"
    if event == events.RECEIVED:
        code = record.get("response_code") or f"fault {text(record.get('fault_code'))}"
        return f"{_operation(record)}: {text(code)}"
    if event == events.FAILED:
        return f"{_operation(record)}: exit {text(record.get('exit_code'))}"
    if event == events.CONFIG:
        key = record.get("key")
        return f"{text(record.get('action'))}" + (f" {text(key)}" if key else "")
    if event == events.INTEGRITY:
        return text(record.get("problem"))
    return ""


def _details(record: Mapping[str, Any]) -> list[str]:
    event = record.get("event")
    who = f"user {text(record.get('user'))}"
    if record.get("username"):
        who += f" as {text(record.get('username'))}"
    where = f"profile {text(record.get('profile') or '-')}"
    if record.get("environment"):
        where += f" ({text(record.get('environment'))})"
    if event in (events.SENT, events.RECEIVED, events.FAILED):
        lines = [f"MessageID {text(record.get('message_id'))}"]
        if event == events.FAILED:
            lines.append(f"failed: {text(record.get('error'))}" + (
                f", HTTP {text(record.get('http_status'))}" if record.get("http_status") else ""))
        if record.get("reply_message_id"):
            lines.append(f"reply MessageID {text(record.get('reply_message_id'))}")
        if record.get("batch_row") is not None:
            where += f", batch row {text(record.get('batch_row'))}"
        return [*lines, f"{who}, {where}"]
    if event == events.CONFIG:
        facts = [f"{key} {text(record.get(key))}" for key in ("value", "what") if key in record]
        return [f"{who}, {where}", *facts]
    if event == events.INTEGRITY:
        return [text(record.get("detail"))]
    return [who]


def verify_json(report: TrailReport) -> dict[str, object]:
    """``smsp audit verify --json``: the report, with the same keys whole or not."""
    problem = report.problem
    return {
        "ok": report.ok,
        "directory": str(report.directory),
        "files": report.files,
        "records": report.records,
        "first_seq": report.first_seq,
        "last_seq": report.last_seq,
        "checkpoint": None if report.checkpoint is None else {
            "seq": report.checkpoint.seq, "hash": report.checkpoint.hash,
        },
        "problem": None if problem is None else {
            "seq": problem.seq, "kind": problem.kind, "detail": problem.detail,
            "file": problem.file, "line": problem.line,
        },
        "notes": report.notes,
    }


def print_verify(report: TrailReport) -> None:
    """``smsp audit verify``: the trail, what was checked, and whole or where it is not."""
    lines = [f"trail       {visible(str(report.directory))}"]
    if not report.files and report.checkpoint is None:
        sys.stdout.write(lines[0] + "\nno audit trail yet: nothing to verify\n")
        return
    lines.append(f"files       {', '.join(report.files) or '(none)'}")
    span = f" (sequence {report.first_seq} to {report.last_seq})" if report.records else ""
    lines.append(f"records     {report.records}{span} checked")
    saved = report.checkpoint
    lines.append(f"checkpoint  {'sequence ' + str(saved.seq) if saved else '(none)'}")
    lines += [f"note        {visible(note)}" for note in report.notes]
    problem = report.problem
    if problem is None:
        lines.append("whole: every record is in sequence, linked to the one before it, and the "
                     "trail ends where the checkpoint says")
    else:
        where = f" ({problem.where()})" if problem.where() else ""
        lines.append(f"NOT WHOLE at sequence {problem.seq}: {problem.kind}: "
                     f"{visible(problem.detail)}{where}")
    sys.stdout.write("\n".join(lines) + "\n")
