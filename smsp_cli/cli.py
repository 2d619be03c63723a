"""The smsp command line: one Typer app, command groups joined here."""

from __future__ import annotations

import typer

from smsp_cli import __version__
from smsp_cli.commands import audit, auth, batch, doctor, lookups, sandbox
from smsp_cli.commands import config as config_commands
from smsp_cli.usage import SmspTyper

app = SmspTyper(
    name="smsp",
    help="Look up patients on the NHS Spine Mini Services Provider (SMSP) PDS interface.",
    no_args_is_help=True,
    add_completion=True,
    # Locals would print patient data and passphrases in a traceback.
    pretty_exceptions_show_locals=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"smsp {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Look up patients on the NHS Spine Mini Services Provider (SMSP) PDS interface."""


lookups.register(app)
app.command()(batch.batch)
app.command()(doctor.doctor)
app.add_typer(sandbox.app, name="sandbox")
app.add_typer(config_commands.app, name="config")
app.add_typer(auth.app, name="auth")
app.add_typer(audit.app, name="audit")


def main() -> None:
    """Console-script entry point (also ``python -m smsp_cli``, named smsp all the same)."""
    # One name for help, errors and shell completion (_SMSP_COMPLETE), however it was started.
    app(prog_name="smsp")
