"""How the command line shows a notice the code below it reported: one line on stderr."""

from __future__ import annotations

from smsp_cli.domain.notices import Notice
from smsp_cli.system.streams import note


def show(notice: Notice) -> None:
    """``smsp: <text>`` on stderr, flushed at once (it may come from an exit handler)."""
    note(notice.text)
