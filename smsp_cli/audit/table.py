"""Audit records as a table for people: fixed columns within 80, so rows stream as they are found.

NHS numbers are shown 3-3-4 (MSCA-PDS-06). A trail is a file anyone with access can edit, so
every value goes through the one sanitiser before it reaches the terminal.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Mapping
from typing import Any

from smsp_cli.audit import records
from smsp_cli.audit.search import record_time
from smsp_cli.domain.models import format_nhs_number
from smsp_cli.untrusted.sanitize import visible

HEADER = f"{'SEQ':>7}  {'TIME (UTC)':<19}  {'EVENT':<8}  {'NHS NUMBER':<12}  WHAT"
_INDENT = " " * 9
_NHS_COLUMN = " " * (7 + 2 + 19 + 2 + 8 + 2)


def rows(record: Mapping[str, Any]) -> list[str]:
    """The lines that show one record: the columns, then its message, who and where."""
    numbers = [format_nhs_number(text(n)) for n in record.get("nhs_numbers") or []
               if isinstance(n, str)]
    first = (
        f"{text(record.get('seq')):>7}  {_time(record):<19}  {text(record.get('event')):<8}  "
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


def _time(record: Mapping[str, Any]) -> str:
    when = record_time(record)
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
    if event == records.SENT:
        return f"{_operation(record)}, attempt {text(record.get('attempt'))}"
    if event == records.RECEIVED:
        code = record.get("response_code") or f"fault {text(record.get('fault_code'))}"
        return f"{_operation(record)}: {text(code)}"
    if event == records.FAILED:
        return f"{_operation(record)}: exit {text(record.get('exit_code'))}"
    if event == records.CONFIG:
        key = record.get("key")
        return f"{text(record.get('action'))}" + (f" {text(key)}" if key else "")
    if event == records.INTEGRITY:
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
    if event in (records.SENT, records.RECEIVED, records.FAILED):
        lines = [f"MessageID {text(record.get('message_id'))}"]
        if event == records.FAILED:
            lines.append(f"failed: {text(record.get('error'))}" + (
                f", HTTP {text(record.get('http_status'))}" if record.get("http_status") else ""))
        if record.get("reply_message_id"):
            lines.append(f"reply MessageID {text(record.get('reply_message_id'))}")
        if record.get("batch_row") is not None:
            where += f", batch row {text(record.get('batch_row'))}"
        return [*lines, f"{who}, {where}"]
    if event == records.CONFIG:
        facts = [f"{key} {text(record.get(key))}" for key in ("value", "what") if key in record]
        return [f"{who}, {where}", *facts]
    if event == records.INTEGRITY:
        return [text(record.get("detail"))]
    return [who]
