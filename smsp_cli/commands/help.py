"""``smsp help [COMMAND]...``: the help page ``smsp COMMAND... --help`` writes, byte for byte.

``smsp help`` alone is the root page (answered before Typer by :mod:`smsp_cli.cli.main`, as
``smsp --help`` is); ``smsp help sandbox serve`` walks the groups as the command line would. A
name that is not a command is a usage error (exit 2) whose line names where the list is.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer


def help_command(
    names: Annotated[
        list[str] | None,
        typer.Argument(metavar="[COMMAND]...",
                       help="A command, and a subcommand of a group (sandbox serve).",
                       show_default=False),
    ] = None,
) -> None:
    """Show the help of smsp or of a command: smsp help get is smsp get --help."""
    from typer._click.globals import get_current_context

    from smsp_cli.domain.errors import UsageError

    ctx = get_current_context().find_root()
    command = ctx.command
    for name in names or ():
        found = command.get_command(ctx, name) if hasattr(command, "get_command") else None
        if found is None:
            asked = " ".join(["help", *ctx.command_path.split()[1:]])
            # A usage error as any other: its line says where the list is, exit code 2.
            if hasattr(command, "get_command"):
                raise UsageError(f"no such command '{ctx.command_path} {name}'",
                                 hint=f"run 'smsp {asked}' for the list")
            raise UsageError(f"'{ctx.command_path}' has no command {name!r}",
                             hint=f"run 'smsp {asked}'")
        # Parsed as --help would find it: nothing required yet, no group's help-on-no-args.
        ctx = found.make_context(name, [], parent=ctx, resilient_parsing=True)
        command = found
    sys.stdout.write(ctx.get_help() + "\n")
