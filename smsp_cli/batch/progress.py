"""What the batch counted: each row once, by what it is, and the one-line summary of it.

It never holds patient data: only counts, rates and times.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from smsp_cli.domain.errors import ExitCode

# What a row is, for the summary: every row is counted once, under one of these, in this order.
OK = "ok"
NOT_FOUND = "not found"
SEVERAL_MATCHES = "several matches"
NOT_VERIFIED = "not verified"
INVALIDATED = "invalidated"
OLD_STYLE = "not a new-style number"
INVALID = "invalid"
FAILED = "failed"
KINDS = (OK, NOT_FOUND, SEVERAL_MATCHES, NOT_VERIFIED, INVALIDATED, OLD_STYLE, INVALID, FAILED)
# Always named, 0 or not (the summary's long-standing shape); the others only when they occur.
_ALWAYS = frozenset({OK, NOT_FOUND, INVALID, FAILED})
# A business answer that exits 1, by its response code (spec §6; PDS FHIR maps onto the same).
_NEGATIVE_CODES = {
    "DEMOG-0001": NOT_FOUND,
    "DEMOG-0007": SEVERAL_MATCHES,
    "DEMOG-0040": NOT_VERIFIED,
    "DEMOG-0022": INVALIDATED,
    "DEMOG-0042": OLD_STYLE,
}
_SUPERSEDED = "superseded"  # its warning code (domain/warning_codes.py)


def kind_of(exit_code: int, result: Mapping[str, Any] | None) -> str:
    """What a written row is: its exit code, and for exit 1 the answer it carries."""
    if exit_code == ExitCode.OK:
        return OK
    if exit_code == ExitCode.USAGE:
        return INVALID
    if exit_code != ExitCode.NEGATIVE:
        return FAILED
    result = result or {}
    code = _NEGATIVE_CODES.get(str(result.get("response_code")))
    if code is not None:
        return code
    # verify's "no" under a success code (validIdentifier false) is not verified, too.
    return NOT_VERIFIED if result.get("verified") is False else NOT_FOUND


@dataclass
class Tally:
    """Rows by what they are (:data:`KINDS`), ok rows superseded or with warnings, and retries."""

    exit_codes: Counter[int] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    superseded: int = 0  # ok rows whose number was replaced (DEMOG-0017)
    warned: int = 0  # other ok rows with a warning (deceased, cached, not verified...)
    rows_retried: int = 0
    retries: int = 0  # attempts after each row's first
    started: float = field(default_factory=time.monotonic)
    environments: set[str] = field(default_factory=set)  # of the rows a provider answered

    def add(self, exit_code: int, environment: str | None = None, *,
            line: Mapping[str, Any] | None = None, attempts: int = 1) -> None:
        """Count one written row: its exit code, its output ``line`` (what it is), how many
        ``attempts`` it took, and ``environment``, its answer's, when it had one."""
        self.exit_codes[exit_code] += 1
        result = line.get("result") if line is not None else None
        result = result if isinstance(result, Mapping) else None
        kind = kind_of(exit_code, result)
        self.kinds[kind] += 1
        if kind == OK and result is not None:
            if _SUPERSEDED in (result.get("warning_codes") or ()):
                self.superseded += 1
            elif result.get("warnings"):
                self.warned += 1
        if attempts > 1:
            self.rows_retried += 1
            self.retries += attempts - 1
        if environment is not None:
            self.environments.add(environment)

    @property
    def rows(self) -> int:
        """Rows counted so far."""
        return sum(self.exit_codes.values())

    def counts(self) -> str:
        """``4870 ok (of which 3 superseded, 12 with warnings), 98 not found, 30 invalid,
        2 failed``: every row once, by what it is."""
        parts = []
        for kind in KINDS:
            count = self.kinds[kind]
            if count or kind in _ALWAYS:
                parts.append(f"{count} {kind}")
                if kind == OK and (self.superseded or self.warned):
                    parts[-1] += (f" (of which {self.superseded} superseded, "
                                  f"{self.warned} with warnings)")
        return ", ".join(parts)

    def retried(self) -> str | None:
        """``12 rows retried (15 retries)``: why a batch may have gone slower; None: none."""
        if not self.retries:
            return None
        rows = "1 row" if self.rows_retried == 1 else f"{self.rows_retried} rows"
        times = "1 retry" if self.retries == 1 else f"{self.retries} retries"
        return f"{rows} retried ({times}, each after its backoff)"

    def summary(self, *, now: float | None = None) -> str:
        """``5000 rows: 4870 ok, 98 not found, 30 invalid, 2 failed in 8.4 s, 595/s``, then the
        retries when there were any."""
        elapsed = max((now if now is not None else time.monotonic()) - self.started, 1e-9)
        line = (f"{self.rows} rows: {self.counts()} in {elapsed:.1f} s, "
                f"{self.rows / elapsed:.0f}/s")
        retried = self.retried()
        return f"{line}; {retried}" if retried else line
