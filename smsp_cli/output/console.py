"""The rich console for data on stdout, which meets a reader that has gone as smsp does.

rich's own console exits 1 when stdout's reader goes away (``smsp doctor | head -3``); smsp
exits 141 for that, whatever the command, so this console hands the error to the one error
boundary instead (:mod:`smsp_cli.cli.reporting`).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console


class StdoutConsole(Console):
    """A :class:`rich.console.Console` on stdout whose broken pipe reaches the error boundary."""

    def on_broken_pipe(self) -> None:
        self.quiet = True  # nothing more is written to a pipe nobody reads
        raise BrokenPipeError


def stdout_console(**options: Any) -> Console:
    """A console for data on stdout (options as :class:`rich.console.Console` takes them)."""
    return StdoutConsole(**options)
