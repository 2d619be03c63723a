"""``smsp audit search``: the records that answer "who looked up this patient, when, with which
message" (MSCA-AUD-05: queryable by user, message id, patient id and date/time).

Filters combine with AND; the trail is streamed, file by file, oldest first. ``--nhs-number``
finds every record of an attempt that named the number: the ``sent`` record with the request's
number, the ``received`` or ``failed`` record after it, and a reply naming it (DEMOG-0017 names
the superseded number and its successor).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smsp_cli.audit import records
from smsp_cli.audit.reader import Line, snapshot
from smsp_cli.domain.errors import UsageError


@dataclass(frozen=True)
class Filters:
    """What a record must match; None matches anything."""

    nhs_number: str | None = None  # ten digits
    message_id: str | None = None  # ours or the reply's, compared without case or "uuid:"
    user: str | None = None  # the OS user or the configured username, without case
    since: dt.datetime | None = None  # aware, inclusive
    until: dt.datetime | None = None  # aware, inclusive
    environment: str | None = None  # live, test or sandbox

    def match(self, record: Mapping[str, Any], calls: set[str] | None = None) -> bool:
        """True when ``record`` passes every filter given.

        ``calls`` collects the MessageIDs of records that named the NHS number, so that the
        later records of the same attempt (a reply that names no number, a failure) match too.
        """
        if self.nhs_number is not None and not self._names_patient(record, calls):
            return False
        if self.message_id is not None and self.message_id not in {
            normal_message_id(record.get("message_id")),
            normal_message_id(record.get("reply_message_id")),
        }:
            return False
        if self.user is not None and self.user.casefold() not in {
            str(record.get(key)).casefold() for key in ("user", "username") if record.get(key)
        }:
            return False
        if self.environment is not None and record.get("environment") != self.environment:
            return False
        if self.since is not None or self.until is not None:
            when = record_time(record)
            if when is None:
                return False
            if self.since is not None and when < self.since:
                return False
            if self.until is not None and when > self.until:
                return False
        return True

    def _names_patient(self, record: Mapping[str, Any], calls: set[str] | None) -> bool:
        message_id = normal_message_id(record.get("message_id"))
        if self.nhs_number in _texts(record, "nhs_numbers"):
            if calls is not None and message_id:
                calls.add(message_id)
            return True
        return calls is not None and message_id in calls


@dataclass
class Found:
    """A matching record and the line it was read from (the JSON output prints the line)."""

    line: Line
    record: dict[str, Any]


@dataclass
class Tally:
    """What a search read: records, and lines that were not records (skipped)."""

    records: int = 0
    skipped: int = 0


def search(directory: Path, filters: Filters, tally: Tally | None = None) -> Iterator[Found]:
    """Every record in the trail at ``directory`` that matches ``filters``, oldest first."""
    tally = tally if tally is not None else Tally()
    calls: set[str] = set()
    with snapshot(directory) as taken:
        for line in taken.lines():
            record = records.decode(line.raw) if line.whole else None
            if record is None:
                tally.skipped += 1
                continue
            tally.records += 1
            if filters.match(record, calls):
                yield Found(line, record)


def normal_message_id(value: object) -> str | None:
    """A MessageID as compared: no ``uuid:`` prefix, no case, no surrounding space."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    return text.removeprefix("uuid:")


def record_time(record: Mapping[str, Any]) -> dt.datetime | None:
    """The record's time, aware; None when it has none that reads as one."""
    value = record.get("time")
    if not isinstance(value, str):
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def parse_time(text: str, flag: str, *, end_of_day: bool) -> dt.datetime:
    """An ISO 8601 date or date-time, UTC unless it carries an offset.

    A date alone means its first moment, or with ``end_of_day`` its last (so ``--until`` a
    date includes that whole day).
    """
    value = text.strip()
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            moment = dt.datetime.combine(day, dt.time.max if end_of_day else dt.time.min)
        else:
            moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"{flag}: {text!r} is not an ISO 8601 date or date-time "
            "(e.g. 2025-01-04, 2025-01-04T10:30 or 2025-01-04T10:30:00+01:00)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _texts(record: Mapping[str, Any], key: str) -> list[str]:
    values = record.get(key)
    return [value for value in values if isinstance(value, str)] if isinstance(values, list) else []
