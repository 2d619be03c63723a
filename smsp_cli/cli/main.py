"""The smsp command line: one Typer app whose commands are imported only when they run.

A script calls smsp in a loop, so start-up is part of every call's cost. This module
imports nothing heavy: not Typer, not a command module. :mod:`smsp_cli.cli.registry` names each
command, where it lives and its line of help; :mod:`smsp_cli.cli.lazygroup` imports a command's
module only when that command runs, and ``smsp --version`` and ``smsp --help`` are answered
before Typer is imported at all (:mod:`smsp_cli.cli.roothelp` writes the page
:class:`~smsp_cli.cli.usage.SmspGroup` would).

To add a command: write it in ``commands/`` and add one line to the registry.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from smsp_cli import __version__
from smsp_cli.cli.registry import (
    BRIEF,
    COMMANDS,
    COMPLETE_VARIABLE,
    PLAIN_LOOKUP,
    PROG_NAME,
    ROOT_HELP,
    VERSION_HELP,
)

if TYPE_CHECKING:
    import typer

    from smsp_cli.domain.notices import Notice


def build_app() -> typer.Typer:
    """The Typer app: the root options here, every command behind a lazy loader."""
    import typer

    from smsp_cli.cli.lazygroup import lazy_group
    from smsp_cli.cli.usage import SmspTyper
    from smsp_cli.domain import notices

    # What the code below reports along the way (a loose key file, audit-trail trouble) is
    # shown here, by the command line, as a line on stderr: that code never writes a stream.
    notices.listen(_show_notice)
    app = SmspTyper(
        name=PROG_NAME,
        cls=lazy_group(COMMANDS),
        help=ROOT_HELP,
        no_args_is_help=True,
        add_completion=True,
        # Locals would print patient data and passphrases in a traceback.
        pretty_exceptions_show_locals=False,
        pretty_exceptions_enable=False,
    )

    def show_version(value: bool) -> None:
        if value:
            typer.echo(f"{PROG_NAME} {__version__}")
            raise typer.Exit()

    @app.callback()
    def root(
        version: bool = typer.Option(
            False, "--version", callback=show_version, is_eager=True, help=VERSION_HELP
        ),
    ) -> None:
        """Look up patients on the NHS Spine Mini Services Provider (SMSP) PDS interface."""

    return app


def _show_notice(notice: Notice) -> None:
    # The renderer is imported with the first notice: most runs have none.
    from smsp_cli.output.notices import show

    show(notice)


_app: typer.Typer | None = None


def __getattr__(name: str) -> typer.Typer:
    # `from smsp_cli.cli.main import app` builds the app on first use, so importing this module (as
    # the console script does) imports no Typer.
    global _app
    if name == "app":
        if _app is None:
            _app = build_app()
        return _app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Console-script entry point (also ``python -m smsp_cli``, named smsp all the same).

    Every way out, the fast paths' included, goes through the one error boundary
    (:func:`smsp_cli.cli.reporting.exit_status`).
    """
    from smsp_cli.cli.reporting import exit_status

    sys.exit(exit_status(lambda: _run(sys.argv[1:])))


def _plain_lookup(args: list[str]) -> Callable[[], int] | None:
    """The lookup to run when its command line is plain (:mod:`smsp_cli.cli.plainargs`): read
    without Typer, run by the command's own module (named in the registry, as commands are)."""
    if COMPLETE_VARIABLE in os.environ:
        return None  # completion is Typer's
    from smsp_cli.cli import plainargs

    plain = plainargs.read(args)
    if plain is None:
        return None
    module, _, attribute = PLAIN_LOOKUP.partition(":")
    run_plain = getattr(importlib.import_module(module), attribute)

    def run() -> int:
        from smsp_cli.cli.reporting import api_named, reported_errors

        code = 0
        # The boundary the Typer command runs in, told what Click's context would tell it.
        with reported_errors(json_output=plain.wants_json,
                             help_command=f"{PROG_NAME} {plain.command}",
                             api=api_named(plain.conn.api), leave=SystemExit):
            code = int(run_plain(plain))
        return code

    return run


def _run(args: list[str]) -> int:
    if COMPLETE_VARIABLE not in os.environ:
        if args == ["--version"]:
            sys.stdout.write(f"{PROG_NAME} {__version__}\n")
            return 0
        if args in (["--help"], ["-h"], [], ["help"]):
            from smsp_cli.cli import roothelp

            return roothelp.show(asked=bool(args))

    def run_app() -> None:
        # One name for help, errors and completion (_SMSP_COMPLETE), however it was started.
        __getattr__("app")(prog_name=PROG_NAME)

    if args and args[0] in BRIEF:
        from smsp_cli.cli import brief

        plain = _plain_lookup(args)
        if plain is not None:
            return brief.run(plain)
        return brief.run(run_app)  # the app is built inside, with the collector off
    run_app()
    return 0
