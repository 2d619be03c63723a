"""Show results: a rich table for people, stable JSON or the reply XML for scripts.

Data goes to stdout; warnings and notes to stderr. JSON never passes through rich, which
would wrap lines and interpret markup.

Each note is printed once. A table on a terminal carries the result's warnings and where the
data came from (sandbox, test provider) in its own rows, and then nothing is repeated on
stderr. When stdout is not a terminal (a file, a pipe) or the output is JSON or XML, the
person at the terminal sees only stderr, so the warnings, the note and, for a reply that
exits 2-6, one ``smsp: error:`` line go there. stderr never carries the patient's NHS
number, names or date of birth (:attr:`Outcome.stderr_warnings`).
"""

from __future__ import annotations

import io
import json
import sys
from typing import TYPE_CHECKING

from smsp_cli.output.formats import OutputFormat
from smsp_cli.output.jsonshape import outcome_json
from smsp_cli.output.messages import error_message, stderr_warnings
from smsp_cli.system.streams import is_terminal

if TYPE_CHECKING:
    from rich.console import Console

    from smsp_cli.domain.results import Outcome

__all__ = ["SYNTHETIC_NOTE", "OutputFormat", "emit", "stderr_console"]

SYNTHETIC_NOTE = "SANDBOX: synthetic data from the embedded provider, not from PDS"


def stderr_console() -> Console:
    """The console for everything that is not data."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def emit(
    outcome: Outcome,
    output: OutputFormat,
    *,
    label: str | None = None,
    terminal: bool | None = None,
) -> None:
    """Write the outcome to stdout in the chosen format, and its notes once (see above).

    ``label`` marks output from a test provider (:func:`smsp_cli.output.banner.label`);
    ``terminal`` says whether stdout is a terminal (default: ask it).
    """
    note = SYNTHETIC_NOTE if outcome.synthetic else label
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps(outcome_json(outcome), indent=2, ensure_ascii=False) + "\n")
    elif output is OutputFormat.xml:
        sys.stdout.write(outcome.reply.payload.decode("utf-8", "replace").rstrip("\n") + "\n")
    else:
        _print_table(outcome, note)
    sys.stdout.flush()
    on_terminal = is_terminal(sys.stdout) if terminal is None else terminal
    if output is not OutputFormat.table or not on_terminal:
        _print_notes(outcome, note)


def _print_table(outcome: Outcome, note: str | None) -> None:
    from rich.console import Console

    from smsp_cli.output.table import arrow_for, result_table  # only tables need them (and rich)
    from smsp_cli.untrusted.bounds import capped

    screen = Console()  # the real stdout: its width, whether it takes colour, its encoding
    rendered = _Rendered(screen.encoding)  # rich draws ASCII boxes for a non-UTF encoding
    # markup=False: a patient's name such as "[bold]" must print as written.
    console = Console(
        file=rendered,
        width=screen.width,
        force_terminal=screen.is_terminal,
        color_system=screen.color_system,  # type: ignore[arg-type]
        highlight=False,
        soft_wrap=False,
        markup=False,
        emoji=False,
    )
    # Fitted and wrapped between units already (output/fit.py): rich must not crop.
    table = result_table(outcome, screen.width, note=note, arrow=arrow_for(screen.encoding))
    console.print(table, soft_wrap=True)
    # Each field and list is bounded already; this bounds the whole, however narrow the screen.
    sys.stdout.write(_writable(capped(rendered.getvalue()), screen.encoding))


class _Rendered(io.StringIO):
    """A string buffer that tells rich the encoding of the terminal it will be written to."""

    def __init__(self, encoding: str) -> None:
        super().__init__()
        self._encoding = encoding

    @property
    def encoding(self) -> str:  # type: ignore[override]  # io.StringIO's is always None
        return self._encoding


# What a terminal without Unicode (ASCII, a code page) gets for the table's own typography.
_PLAIN = str.maketrans({"—": "-", "…": "...", "→": "->"})


def _writable(text: str, encoding: str) -> str:
    """The table as ``encoding`` can carry it: plain typography, escapes for the rest."""
    if encoding.lower().replace("-", "").startswith("utf"):
        return text
    return text.translate(_PLAIN).encode(encoding, "backslashreplace").decode(encoding)


def _print_notes(outcome: Outcome, note: str | None) -> None:
    lines = []
    message = error_message(outcome)
    if message is not None:
        lines.append(f"smsp: error: {message}")
    else:
        lines += [f"smsp: warning: {text}" for text in stderr_warnings(outcome)]
    if note:
        lines.append(f"smsp: {note}")
    for line in lines:
        sys.stderr.write(line + "\n")
    sys.stderr.flush()


