"""Notices: reported by the code that finds them, shown by whoever listens."""

from __future__ import annotations

import pytest

from smsp_cli.domain import notices
from smsp_cli.domain.notices import Notice


def test_a_notice_goes_to_the_listener_and_nowhere_without_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    heard: list[Notice] = []
    previous = notices.listen(heard.append)
    try:
        notices.report(Notice("warning: one"))
        notices.listen(None)
        notices.report(Notice("warning: unheard"))
    finally:
        notices.listen(previous)
    assert heard == [Notice("warning: one")]
    assert capsys.readouterr() == ("", "")


def test_collected_gathers_a_blocks_notices_in_order_then_gives_the_listener_back() -> None:
    heard: list[Notice] = []
    previous = notices.listen(heard.append)
    try:
        with notices.collected() as found:
            notices.report(Notice("first"))
            notices.report(Notice("second"))
        notices.report(Notice("after"))
    finally:
        notices.listen(previous)
    assert found == [Notice("first"), Notice("second")]
    assert heard == [Notice("after")]
