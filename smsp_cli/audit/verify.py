"""``smsp audit verify``: is the trail whole? Every file's chain and sequence, then the checkpoint.

Walking the records in chain order, each must carry the next sequence number and the SHA-256 of
the line before it. The first record that does not is classified by what follows it:

* edited: a record's hash no longer matches the next record's ``prev`` (or a line is not a
  record at all);
* deleted: sequence numbers are skipped;
* inserted: a record claims a number already used, or a foreign line sits in the chain;
* reordered: a skipped number turns up a little later;
* torn: the trail ends inside a line (a crash; the next record written sets it aside);
* cut from the end: the checkpoint is ahead of the trail, or the writer found it so and said
  so in an ``integrity`` record.

The first problem is reported with its sequence number; a torn line the writer already set
aside is only a note, since nothing whole was lost.

Verifying costs one SHA-256 of every line and grows with the trail's size. A line as smsp
writes it is checked by its start, ``{"seq":N,"prev":"<hash of the line before>",``: its hash
is in the next line's ``prev``, so a line that does not read as a record and was not written
so breaks the chain there, and then the trail is walked again decoding every line, to name
the problem exactly as below. Integrity records, and the last line (which no later line
vouches for), are always decoded.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smsp_cli.audit import records
from smsp_cli.audit.checkpoint import Checkpoint
from smsp_cli.audit.reader import Block, Line, Snapshot, snapshot

EDITED = "edited"
DELETED = "deleted"
INSERTED = "inserted"
REORDERED = "reordered"
TORN = "torn"
CUT = "cut"
CHECKPOINT = "checkpoint"

# How far ahead to look to tell a reordering or an insertion from a deletion.
_WINDOW = 16


@dataclass(frozen=True)
class Problem:
    """The first thing wrong: at which sequence number, what kind, in words, and where."""

    seq: int
    kind: str
    detail: str
    file: str | None = None
    line: int | None = None

    def where(self) -> str:
        """``audit.jsonl line 17``, or '' when it is not about one line."""
        return f"{self.file} line {self.line}" if self.file and self.line else ""


@dataclass
class Report:
    """What verify found."""

    directory: Path
    files: list[str]
    checkpoint: Checkpoint | None
    records: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    problem: Problem | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the trail is whole."""
        return self.problem is None


@dataclass(frozen=True)
class _Entry:
    line: Line
    record: dict[str, Any] | None
    digest: str

    @property
    def seq(self) -> int | None:
        return self.record["seq"] if self.record is not None else None

    @property
    def prev(self) -> object:
        return self.record.get("prev") if self.record is not None else None


def verify(directory: Path) -> Report:
    """Check the trail in ``directory`` from its first record to its checkpoint."""
    with snapshot(directory) as taken:
        quick = _quick(taken)
        return quick if quick is not None else _walk(taken)


def _quick(taken: Snapshot) -> Report | None:
    """The report of a trail whose every line is a record linked to the one before, read by
    each line's start; None at the first line that is not: walk it again decoding each."""
    report = Report(taken.directory, taken.names, taken.checkpoint)
    wanted = taken.checkpoint.seq if taken.checkpoint is not None else 0
    expected, previous = 1, b"null"
    checkpointed: bytes | None = None
    last: bytes | None = None  # the line before, vouched for only by the next one's prev
    for piece in taken.pieces():
        if isinstance(piece, Line):
            return None  # too long, or torn
        lines = piece.lines()
        careful = _unusual(piece, len(lines))
        for raw in lines:
            if not raw.startswith(_HEAD % (expected, previous)) or not raw.endswith(b"}"):
                return None
            if careful and not _plain(raw, expected, previous, report.notes):
                return None
            digest = hashlib.sha256(raw).hexdigest().encode()
            if expected == wanted:
                checkpointed = digest
            expected, previous, last = expected + 1, b'"%s"' % digest, raw
    if last is not None and records.decode(last) is None:
        return None
    report.records = expected - 1
    if report.records:
        report.first_seq, report.last_seq = 1, expected - 1
    last_hash = previous[1:-1].decode() if report.records else None
    report.problem = _against_checkpoint(report, taken.checkpoint, taken.checkpoint_unreadable,
                                         last_hash, checkpointed.decode() if checkpointed else None)
    return report if report.problem is None else None


def _unusual(block: Block, lines: int) -> bool:
    """True when some line of the block may say more than its start: an integrity record, a
    JSON escape, or a second ``seq`` or ``prev`` key (the last one is what decoding reads)."""
    data, end = block.data, block.end
    return (data.count(b'"seq"', 0, end) != lines or data.count(b'"prev"', 0, end) != lines
            or data.find(b"integrity", 0, end) >= 0 or data.find(b"\\u", 0, end) >= 0)


def _plain(raw: bytes, expected: int, previous: bytes, notes: list[str]) -> bool:
    """True when ``raw`` decodes to what its start says and is not damage the writer found
    (a torn line it set aside is noted)."""
    if b"integrity" not in raw and b"\\u" not in raw and raw.count(b'"seq"') == 1 \
            and raw.count(b'"prev"') == 1:
        return True
    record = records.decode(raw)
    link = None if previous == b"null" else previous[1:-1].decode()
    if record is None or record["seq"] != expected or record.get("prev") != link:
        return False
    return _notice(record, _Entry(Line("", 0, raw, True), record, ""), notes) is None


# The start of record ``seq`` linked to ``prev`` (null, or its hash in quotes), as smsp writes it.
_HEAD = b'{"seq":%d,"prev":%s,'


def _walk(taken: Snapshot) -> Report:
    """Every line decoded, in order: the first problem named (see the module's docstring)."""
    report = Report(taken.directory, taken.names, taken.checkpoint)
    entries = _entries(taken.lines())
    expected, previous = 1, None
    checkpointed: str | None = None  # the hash of the record the checkpoint names
    for entry in entries:
        if not entry.line.whole:
            report.problem = _problem(
                expected, TORN,
                f"the trail ends inside a record ({len(entry.line.raw)} bytes without "
                "their newline), left by an interrupted write; the next record written "
                "sets it aside",
                entry,
            )
            break
        if entry.seq != expected or entry.prev != previous:
            report.problem = _classify(expected, previous, entry,
                                       list(itertools.islice(entries, _WINDOW)))
            break
        assert entry.record is not None
        report.problem = _notice(entry.record, entry, report.notes)
        if report.problem is not None:
            break
        report.records += 1
        report.first_seq = report.first_seq or expected
        report.last_seq = expected
        if taken.checkpoint is not None and expected == taken.checkpoint.seq:
            checkpointed = entry.digest
        expected, previous = expected + 1, entry.digest
    if report.problem is None:
        report.problem = _against_checkpoint(
            report, taken.checkpoint, taken.checkpoint_unreadable, previous, checkpointed
        )
    return report


def _entries(lines: Iterator[Line]) -> Iterator[_Entry]:
    for line in lines:
        yield _Entry(line, records.decode(line.raw) if line.whole else None,
                     records.digest(line.raw))


def _problem(seq: int, kind: str, detail: str, entry: _Entry | None = None) -> Problem:
    if entry is None:
        return Problem(seq, kind, detail)
    return Problem(seq, kind, detail, entry.line.file, entry.line.number)


def _classify(expected: int, previous: str | None, entry: _Entry, ahead: list[_Entry]) -> Problem:
    """Name what broke the chain at ``entry``, looking at the records after it."""
    following = ahead[0] if ahead else None
    if entry.record is None:
        if following is not None and following.seq == expected and following.prev == previous:
            return _problem(expected, INSERTED,
                            f"a line that is not an audit record was inserted before sequence "
                            f"{expected}", entry)
        return _problem(expected, EDITED,
                        f"sequence {expected} was edited: its line is not an audit record",
                        entry)
    seq = entry.seq
    assert seq is not None
    if seq == expected:
        if following is not None and following.seq == expected:
            return _problem(expected, INSERTED,
                            f"two records claim sequence {expected}: one was inserted", entry)
        if expected == 1:
            return _problem(1, EDITED,
                            "sequence 1 was edited: the first record must link to no other",
                            entry)
        return _problem(expected - 1, EDITED,
                        f"sequence {expected - 1} was edited: its hash no longer matches the "
                        f"link in sequence {expected}", entry)
    if seq > expected:
        found = next((i for i, later in enumerate(ahead) if later.seq == expected), None)
        if found is not None:
            if any(later.seq == seq for later in ahead[found + 1 :]):
                return _problem(expected, INSERTED,
                                f"a record claiming sequence {seq} was inserted before sequence "
                                f"{expected}", entry)
            return _problem(expected, REORDERED,
                            f"sequence {expected} comes after sequence {seq}: records were "
                            "reordered", entry)
        missing = records.span(expected, seq - 1)
        record = entry.record
        if (record.get("problem") == records.CUT and record.get("missing_from") == expected
                and record.get("missing_to") == seq - 1):
            return _problem(expected, CUT,
                            f"{missing} missing: cut from the end of the trail (the writer "
                            f"found them gone when it wrote sequence {seq})", entry)
        return _problem(expected, DELETED, f"{missing} missing: deleted", entry)
    if seq == expected - 1:
        return _problem(seq, INSERTED, f"two records claim sequence {seq}: one was inserted",
                        entry)
    return _problem(expected, INSERTED,
                    f"a record claiming sequence {seq} was inserted after sequence "
                    f"{expected - 1}", entry)


def _notice(record: Mapping[str, Any], entry: _Entry, notes: list[str]) -> Problem | None:
    """An integrity record in an intact chain: a torn line set aside is a note, the rest damage."""
    if record.get("event") != records.INTEGRITY:
        return None
    problem, detail, seq = record.get("problem"), str(record.get("detail")), record["seq"]
    if problem == records.TORN:
        notes.append(f"sequence {seq}: {detail}")
        return None
    if problem == records.CHECKPOINT_MISMATCH:
        edited = record.get("edited_seq")
        return _problem(edited if isinstance(edited, int) else seq - 1, EDITED,
                        f"found by the writer at sequence {seq}: {detail}", entry)
    if problem == records.CUT:
        first = record.get("missing_from")
        return _problem(first if isinstance(first, int) else seq, CUT,
                        f"found by the writer at sequence {seq}: {detail}", entry)
    if problem == records.CHECKPOINT_MISSING:
        return _problem(seq, CHECKPOINT, f"found by the writer at sequence {seq}: {detail}",
                        entry)
    return _problem(seq, EDITED, f"found by the writer at sequence {seq}: {detail}", entry)


def _against_checkpoint(
    report: Report,
    saved: Checkpoint | None,
    unreadable: bool,
    last_hash: str | None,
    checkpointed: str | None,
) -> Problem | None:
    """Compare the end of an intact chain with the checkpoint (records cut from the end)."""
    last = report.last_seq or 0
    if unreadable or (saved is None and report.records):
        state = "unreadable" if unreadable else "missing"
        return _problem(last + 1, CHECKPOINT,
                        f"the checkpoint is {state}: records cut from the end cannot be ruled "
                        "out")
    if saved is None:
        return None
    if saved.seq > last:
        missing = records.span(last + 1, saved.seq)
        return _problem(last + 1, CUT,
                        f"{missing} missing: cut from the end (the checkpoint says the trail "
                        f"reached sequence {saved.seq})")
    if saved.seq == last and saved.hash != last_hash:
        return _problem(last, EDITED,
                        f"sequence {last} was edited: it is not the record the checkpoint holds")
    if 0 < saved.seq < last and saved.hash != checkpointed:
        return _problem(saved.seq, EDITED,
                        f"sequence {saved.seq} was edited: it is not the record the checkpoint "
                        "holds")
    if saved.seq < last:
        report.notes.append(
            f"the checkpoint is {last - saved.seq} record(s) behind the trail, as a crash "
            "between a record and its checkpoint leaves it; the next record brings it up"
        )
    return None
