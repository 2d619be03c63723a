"""The smsp command line: one Typer app whose commands are imported only when they run.

A script calls smsp in a loop, so start-up is part of every call's cost. This module
imports nothing heavy: not Typer, not a command module. :data:`COMMANDS` names each command,
where it lives and its line of help; :mod:`smsp_cli.cli.lazygroup` imports a command's module only
when that command runs, and ``smsp --version`` and ``smsp --help`` are answered before Typer is
imported at all (:mod:`smsp_cli.cli.roothelp` writes the page :class:`~smsp_cli.cli.usage.SmspGroup`
would).

To add a command: write it in ``commands/`` and add one line to :data:`COMMANDS`.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from smsp_cli import __version__

if TYPE_CHECKING:
    import typer

PROG_NAME = "smsp"
ROOT_HELP = "Look up patients on the NHS Spine Mini Services Provider (SMSP) PDS interface."
VERSION_HELP = "Show the version and exit."
# Typer's shell completion is asked for through this variable (completions/ scripts).
COMPLETE_VARIABLE = "_SMSP_COMPLETE"


class CommandEntry:
    """One command of the root group, known without importing its module."""

    # A plain class, not a dataclass: every start-up builds this table, --version's too.
    __slots__ = ("brief", "help", "name", "target")

    def __init__(self, name: str, target: str, help: str, *, brief: bool = False) -> None:
        self.name = name
        self.target = target  # "module:attribute": a command function or an SmspTyper group
        self.help = help  # its line in `smsp --help`; tests hold it equal to the command's own
        self.brief = brief  # answers within a moment and exits: see smsp_cli.cli.brief

    def __repr__(self) -> str:
        return f"CommandEntry({self.name!r}, {self.target!r})"


COMMANDS: tuple[CommandEntry, ...] = (
    CommandEntry(
        "verify",
        "smsp_cli.commands.lookups:verify",
        "Verify an NHS number against a date of birth (verifyNHSNumber).",
        brief=True,
    ),
    CommandEntry(
        "get",
        "smsp_cli.commands.lookups:get",
        "Get details by NHS number and date of birth (getPatientDetailsByNHSNumber).",
        brief=True,
    ),
    CommandEntry(
        "search",
        "smsp_cli.commands.lookups:search",
        "Find a patient's details by demographics (getPatientDetailsBySearch).",
        brief=True,
    ),
    CommandEntry(
        "trace",
        "smsp_cli.commands.lookups:trace",
        "Trace a patient's NHS number from demographics (getNHSNumber).",
        brief=True,
    ),
    CommandEntry(
        "details",
        "smsp_cli.commands.lookups:details",
        "Get details by NHS number, or by family, given and gender (getPatientDetails).",
        brief=True,
    ),
    CommandEntry(
        "batch",
        "smsp_cli.commands.batch:batch",
        "Look up every row of a CSV or JSON-lines file; one JSON line per row, in input order.",
    ),
    CommandEntry(
        "doctor",
        "smsp_cli.commands.doctor:doctor",
        "Check the connection layer by layer; explain the first failure and what to do next.",
    ),
    CommandEntry(
        "sandbox",
        "smsp_cli.commands.sandbox:app",
        "The embedded sandbox provider: real mutual TLS, synthetic patients.",
    ),
    CommandEntry(
        "config",
        "smsp_cli.commands.config:app",
        "Provider profiles: endpoint, certificates, audit identity and more, set once.",
    ),
    CommandEntry(
        "auth",
        "smsp_cli.commands.auth:app",
        "Keep a profile's key or PKCS#12 passphrase in the system keyring.",
    ),
    CommandEntry(
        "audit",
        "smsp_cli.commands.audit:app",
        "The audit trail: who looked up which patient, when, with which message.",
    ),
)


def build_app() -> typer.Typer:
    """The Typer app: the root options here, every command behind a lazy loader."""
    import typer

    from smsp_cli.cli.lazygroup import lazy_group
    from smsp_cli.cli.usage import SmspTyper

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
    """Console-script entry point (also ``python -m smsp_cli``, named smsp all the same)."""
    args = sys.argv[1:]
    if COMPLETE_VARIABLE not in os.environ:
        if args == ["--version"]:
            sys.stdout.write(f"{PROG_NAME} {__version__}\n")
            return
        if args in (["--help"], ["-h"], []):
            from smsp_cli.cli import roothelp

            roothelp.show(asked=bool(args))
            return

    def run_app() -> None:
        # One name for help, errors and completion (_SMSP_COMPLETE), however it was started.
        __getattr__("app")(prog_name=PROG_NAME)

    if args and args[0] in _BRIEF:
        from smsp_cli.cli import brief

        brief.run(run_app)  # the app is built inside, with the collector off
        return
    run_app()


_BRIEF = frozenset(entry.name for entry in COMMANDS if entry.brief)
