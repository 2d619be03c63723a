"""Commands load when they run; the root help written without Typer is the one Typer writes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from smsp_cli.cli import main as cli
from smsp_cli.cli import registry
from smsp_cli.cli.lazygroup import build_command
from tests.lib.cli import smsp

# The console script's entry point, with its fast paths.
_FAST = "import sys; sys.argv = ['smsp', *sys.argv[1:]]; from smsp_cli.cli.main import main; main()"
# Typer and SmspGroup writing the same page: the app called directly, past main()'s fast paths.
_TYPER = (
    "import sys; sys.argv = ['smsp', *sys.argv[1:]]; "
    "from smsp_cli.cli.main import app; app(prog_name='smsp')"
)


def _run(code: str, args: tuple[str, ...], columns: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        timeout=60,
        check=False,
        env=os.environ | {"COLUMNS": columns},
    )


@pytest.mark.parametrize("args", [("--help",), ("-h",), ("help",)])
@pytest.mark.parametrize("columns", ["40", "80", "132"])
def test_root_help_is_byte_for_byte_what_the_typer_group_writes(
    args: tuple[str, ...], columns: str
) -> None:
    fast = _run(_FAST, args, columns)
    slow = _run(_TYPER, args, columns)
    assert fast.returncode == slow.returncode == 0
    assert fast.stdout == slow.stdout
    assert fast.stdout.startswith(b"Usage: smsp [OPTIONS] COMMAND [ARGS]...\n")
    assert fast.stderr == slow.stderr == b""


@pytest.mark.parametrize("columns", ["40", "80"])
def test_smsp_alone_writes_the_same_help_on_stderr_and_exits_2(columns: str) -> None:
    fast = _run(_FAST, (), columns)
    slow = _run(_TYPER, (), columns)
    assert fast.returncode == slow.returncode == 2
    assert fast.stdout == slow.stdout == b""
    assert fast.stderr == slow.stderr
    assert b"Commands:" in fast.stderr


def test_the_version_written_without_typer_is_typers() -> None:
    fast = _run(_FAST, ("--version",), "80")
    slow = _run(_TYPER, ("--version",), "80")
    assert fast.returncode == slow.returncode == 0
    assert fast.stdout == slow.stdout == f"smsp {cli.__version__}\n".encode()
    assert fast.stderr == slow.stderr == b""


@pytest.mark.parametrize("entry", registry.COMMANDS, ids=lambda entry: entry.name)
def test_each_listed_command_is_the_real_command_with_the_same_help(
    entry: registry.CommandEntry,
) -> None:
    command = build_command(entry)
    assert command.name == entry.name
    assert " ".join((command.help or "").split("\n\n")[0].split()) == entry.help


def test_every_command_module_is_listed() -> None:
    package = Path(cli.__file__).parents[1] / "commands"
    modules = {path.stem for path in package.glob("*.py") if path.stem != "__init__"}
    targets = [entry.target for entry in registry.COMMANDS] + [registry.PLAIN_LOOKUP]
    listed = {target.split(":")[0].rsplit(".", 1)[1] for target in targets}
    assert listed == modules  # the commands, and what runs a lookup read without Typer


def test_a_mistyped_command_is_refused_in_one_line_with_a_suggestion() -> None:
    run = smsp("gte", "123")
    assert run.exit_code == 2
    assert run.stdout == ""
    assert run.stderr == "smsp: error: no such command 'gte'. Did you mean 'get'?\n" + (
        "Try 'smsp -h' for help.\n"
    )


def test_a_sub_group_keeps_its_own_help_and_commands() -> None:
    run = smsp("sandbox", "--help")
    assert run.exit_code == 0
    assert "serve" in run.stdout
    assert "patients" in run.stdout
    assert "--install-completion" not in run.stdout  # the root's options stay at the root
    assert run.stderr == ""


def test_a_command_added_to_the_app_eagerly_is_listed_and_runs() -> None:
    app = cli.build_app()

    @app.command()
    def hello() -> None:
        """Say hello."""
        typer.echo("hello")

    runner = CliRunner()
    listing = runner.invoke(app, ["--help"])
    assert listing.exit_code == 0
    assert "hello" in listing.stdout
    assert "verify" in listing.stdout
    ran = runner.invoke(app, ["hello"])
    assert ran.exit_code == 0
    assert ran.stdout == "hello\n"
