"""``smsp --help`` (and bare ``smsp``) written before Typer is imported.

The root page is the one people and scripts ask for most, and everything on it is known
without Typer or any command module: the root options and
:data:`smsp_cli.cli.registry.COMMANDS`. So it is written here with
:func:`smsp_cli.cli.helptext.group_page`, the function that writes the page for
:class:`~smsp_cli.cli.usage.SmspGroup`; tests/unit/cli/test_lazy_commands.py holds the two byte
for byte equal at several widths. Every other help page is Typer's.
"""

from __future__ import annotations

import sys

from smsp_cli.cli import examples, helptext
from smsp_cli.cli import registry as cli
from smsp_cli.domain.errors import ExitCode

# The root group's options as Typer declares them, with the help Typer gives its own.
ROOT_OPTIONS = (
    ("--version", cli.VERSION_HELP),
    ("--install-completion", "Install completion for the current shell."),
    (
        "--show-completion",
        "Show completion for the current shell, to copy it or customize the installation.",
    ),
    ("-h, --help", "Show this message and exit."),
)


def page() -> str:
    """The root help page, as :class:`~smsp_cli.cli.usage.SmspGroup` writes it."""
    commands = [(entry.name, helptext.first_paragraph(entry.help)) for entry in cli.COMMANDS]
    return helptext.group_page(
        f"Usage: {cli.PROG_NAME} [OPTIONS] COMMAND [ARGS]...",
        cli.ROOT_HELP,
        commands,
        [("Options", ROOT_OPTIONS)],
        examples.lines(cli.PROG_NAME),
    )


def show(*, asked: bool) -> int:
    """Write the page: on stdout when asked for (``--help``), else on stderr; the exit status.

    As with Typer, ``smsp`` without a command is a usage error (exit 2) that shows the help.
    """
    if asked:
        sys.stdout.write(page())
        sys.stdout.flush()
        return 0
    sys.stderr.write(page())
    sys.stderr.flush()
    return int(ExitCode.USAGE)
