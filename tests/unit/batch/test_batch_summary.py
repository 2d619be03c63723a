"""The batch summary counts each row once, by what it is; the progress line shows done/total."""

from __future__ import annotations

from typing import Any

import pytest

from smsp_cli.batch.progress import Tally, kind_of
from smsp_cli.output.progress import progress_done


def _result(code: str, **more: Any) -> dict[str, Any]:
    return {"result": {"response_code": code, **more}}


@pytest.mark.parametrize(("exit_code", "line", "kind"), [
    (0, _result("SMSP-0000"), "ok"),
    (1, _result("DEMOG-0001"), "not found"),
    (1, _result("DEMOG-0007"), "several matches"),
    (1, _result("DEMOG-0040", verified=False), "not verified"),
    (1, _result("SMSP-0000", verified=False), "not verified"),  # validIdentifier false
    (1, _result("DEMOG-0022", verified=False), "invalidated"),  # the code says more
    (1, _result("DEMOG-0042"), "not a new-style number"),
    (2, {"error": {"type": "usage"}}, "invalid"),
    (3, {"error": {"type": "rejected"}}, "failed"),
    (4, _result("SMSP-9999"), "failed"),
    (5, {"error": {"type": "unreachable"}}, "failed"),
    (6, {"error": {"type": "config"}}, "failed"),
])
def test_each_row_is_one_kind(exit_code: int, line: dict[str, Any], kind: str) -> None:
    assert kind_of(exit_code, line.get("result")) == kind


def test_the_summary_names_every_kind_that_occurred_then_the_retries() -> None:
    tally = Tally(started=100.0)
    tally.add(0, line=_result("SMSP-0000", warnings=[]))
    tally.add(0, line=_result("DEMOG-0017", warnings=["superseded..."],
                              warning_codes=["superseded"]))
    tally.add(0, line=_result("SMSP-0003", warnings=["cached"], warning_codes=["cached"]),
              attempts=3)
    tally.add(1, line=_result("DEMOG-0007"))
    tally.add(2, line={"error": {}})
    tally.add(5, line={"error": {}}, attempts=2)
    assert tally.summary(now=102.0) == (
        "6 rows: 3 ok (of which 1 superseded, 1 with warnings), 0 not found, "
        "1 several matches, 1 invalid, 1 failed in 2.0 s, 3/s; "
        "2 rows retried (3 retries, each after its backoff)")


def test_a_plain_run_keeps_the_short_summary() -> None:
    tally = Tally(started=0.0)
    for _ in range(4):
        tally.add(0, line=_result("SMSP-0000"))
    assert tally.summary(now=2.0) == "4 rows: 4 ok, 0 not found, 0 invalid, 0 failed in 2.0 s, 2/s"


def test_the_progress_line_shows_done_of_total_when_the_total_is_known() -> None:
    assert progress_done(120, 5000, 95.4) == "120/5000 rows, 95/s"
    assert progress_done(120, None, 95.4) == "120 rows, 95/s"  # stdin: no total
