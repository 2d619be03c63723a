"""``smsp audit search``: the records that answer "who looked up this patient, when, with which
message" (MSCA-AUD-05: queryable by user, message id, patient id and date/time).

Filters combine with AND; the trail is streamed, file by file, oldest first. ``--nhs-number``
finds every record of an attempt that named the number: the ``sent`` record with the request's
number, the ``received`` or ``failed`` record after it, and a reply naming it (DEMOG-0017 names
the superseded number and its successor).

A search by NHS number, MessageID or user decodes only the lines that hold the value sought
(:mod:`.needles`): its cost grows with the trail's size at about the speed of finding a string
in it. A search by time or environment alone decodes every line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from smsp_cli.audit import records
from smsp_cli.audit.needles import ENDED_BY, MAX_OPEN_CALLS, Finder, Needle, record_shaped
from smsp_cli.audit.reader import Block, Line, snapshot
from smsp_cli.domain.errors import UsageError
from smsp_cli.fastclasses import dataclass


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


    def needles(self) -> Needle | None:
        """A needle every matching line holds.

        None when no filter gives one (time and environment alone), or when it cannot be
        found byte for byte: then every line is decoded.
        """
        if self.nhs_number is not None:
            return Needle.exact(self.nhs_number)
        if self.message_id is not None:
            return Needle.caseless(self.message_id)
        if self.user is not None:
            return Needle.user(self.user.casefold())
        return None


# Plain classes, not dataclasses: the standard library compiles a dataclass's methods when it
# is imported, a cost every search paid at start-up for methods it never calls.
class Found:
    """A matching record and the line it was read from (the JSON output prints the line)."""

    __slots__ = ("raw", "record")

    def __init__(self, raw: bytes, record: dict[str, Any]) -> None:
        self.raw = raw
        self.record = record


class Tally:
    """What a search read: records, and lines that were not records (skipped)."""

    __slots__ = ("records", "skipped")

    def __init__(self, records: int = 0, skipped: int = 0) -> None:
        self.records = records
        self.skipped = skipped

    def __repr__(self) -> str:
        return f"Tally(records={self.records}, skipped={self.skipped})"


def search(directory: Path, filters: Filters, tally: Tally | None = None) -> Iterator[Found]:
    """Every record in the trail at ``directory`` that matches ``filters``, oldest first."""
    tally = tally if tally is not None else Tally()
    calls: set[str] = set()
    wanted = filters.needles()
    with snapshot(directory) as taken:
        if wanted is None:
            for line in taken.lines():
                yield from _judged(line, filters, calls, tally)
            return
        needle = wanted
        open_calls: dict[str, Needle | None] = {}  # found by number, not yet ended
        for piece in taken.pieces():
            if isinstance(piece, Line):
                yield from _judged(piece, filters, calls, tally)
                continue
            count = record_shaped(piece)
            finder = Finder(piece)
            # The calls' needles may be lowered, and their MessageIDs are read as ASCII.
            if count is None or ((needle.ascii_only or open_calls) and not finder.ascii()):
                for raw in piece.lines():
                    yield from _judged(Line(piece.file, 0, raw, True), filters, calls, tally)
                continue
            tally.records += count
            yield from _needled(finder, needle, filters, calls, open_calls, tally)


def _judged(line: Line, filters: Filters, calls: set[str], tally: Tally) -> Iterator[Found]:
    """The exact rule for one line: decoded, counted, matched."""
    record = records.decode(line.raw) if line.whole else None
    if record is None:
        tally.skipped += 1
        return
    tally.records += 1
    if filters.match(record, calls):
        yield Found(line.raw, record)


def _needled(finder: Finder, needle: Needle, filters: Filters, calls: set[str],
             open_calls: dict[str, Needle | None], tally: Tally) -> Iterator[Found]:
    """The matching records of a record-shaped block (counted already), decoding only lines
    that hold a needle: the filter's, or the MessageID of a call found by number and not yet
    ended (a call whose MessageID gives no needle makes the block read line by line)."""
    if None in open_calls.values():
        yield from _every_line(finder.block, 0, filters, calls, tally)
        return
    finder.add(needle)
    many = len(open_calls) > MAX_OPEN_CALLS
    if many:
        finder.add_calls(set(open_calls))
    else:
        for key, call_needle in open_calls.items():
            assert call_needle is not None
            finder.follow(key, call_needle)
    for start, raw in finder.lines():
        record = records.decode(raw)
        if record is None:
            tally.records -= 1
            tally.skipped += 1
            continue
        known = len(calls)
        if filters.match(record, calls):
            yield Found(raw, record)
        message_id = normal_message_id(record.get("message_id"))
        if message_id is None:
            continue
        if len(calls) > known and message_id not in open_calls:
            open_calls[message_id] = Needle.caseless(message_id)
            call_needle = open_calls[message_id]
            if call_needle is None:  # the rest of the block, and the next, line by line
                yield from _every_line(finder.block, finder.end_of(start), filters, calls, tally)
                return
            if many:
                finder.add_calls({message_id}, finder.end_of(start))
            else:
                finder.follow(message_id, call_needle, finder.end_of(start))
        elif message_id in open_calls and record.get("event") in ENDED_BY:
            del open_calls[message_id]
            finder.following.discard(message_id)


def _every_line(block: Block, start: int, filters: Filters, calls: set[str],
                tally: Tally) -> Iterator[Found]:
    """The lines of a counted block from ``start`` on, each decoded and matched."""
    for raw in bytes(block.data[start : block.end - 1]).split(b"\n") if start < block.end else []:
        record = records.decode(raw)
        if record is None:
            tally.records -= 1
            tally.skipped += 1
        elif filters.match(record, calls):
            yield Found(raw, record)


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
