"""Every help page ends with two or three examples that run, and `smsp help X` is `smsp X -h`."""

from __future__ import annotations

import shlex

import pytest
from typer._click import exceptions as click_errors

from smsp_cli.cli.examples import EXAMPLES
from tests.lib.cli import smsp
from tests.unit.cli.test_help import PATHS


@pytest.fixture(autouse=True)
def narrow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")


def _typed(path: tuple[str, ...]) -> str:
    return " ".join(("smsp", *path))


@pytest.mark.parametrize("path", PATHS, ids=_typed)
def test_each_help_page_ends_with_two_or_three_examples(path: tuple[str, ...]) -> None:
    page = smsp(*path, "--help").stdout
    _, _, examples = page.partition("\nExamples:\n")
    assert examples, f"{_typed(path)} --help has no examples"
    lines = examples.splitlines()
    commands = [line[4:] for line in lines if line.startswith("  $ ")]
    assert 2 <= len(commands) <= 3
    assert lines == [line for pair in EXAMPLES[_typed(path)] for line in
                     (f"  # {pair[0]}", f"  $ {pair[1]}")]
    assert all(command.startswith("smsp ") or command == "smsp" for command in commands)


def test_the_get_page_shows_its_examples_as_written() -> None:
    page = smsp("get", "--help").stdout
    assert page.endswith(
        "Examples:\n"
        "  # a patient's details\n"
        "  $ smsp get 9991000003 --dob 1984-03-14\n"
        "  # as JSON, from the built-in sandbox\n"
        "  $ smsp get 9991000003 --dob 1984-03-14 --json --profile sandbox\n"
        "  # the envelope that would be sent, sending nothing\n"
        "  $ smsp get 9991000003 --dob 1984-03-14 --dry-run\n"
    )


@pytest.mark.parametrize(
    "example",
    [(path, command) for path, pairs in EXAMPLES.items() for _, command in pairs],
    ids=lambda example: example[1],
)
def test_every_example_is_a_command_line_smsp_accepts(example: tuple[str, str]) -> None:
    from typer.main import get_command

    from smsp_cli.cli.main import app

    path, command_line = example
    words = shlex.split(command_line)[1:]
    command = get_command(app)
    ctx = command.make_context("smsp", [], resilient_parsing=True)
    while words and hasattr(command, "get_command") and command.get_command(ctx, words[0]):
        command = command.get_command(ctx, words[0])
        ctx = command.make_context(words[0], [], parent=ctx, resilient_parsing=True)
        words = words[1:]
    assert ctx.command_path.startswith(path) or path == "smsp"
    try:
        # Parsed as the command line would be: every option known, every value of its type.
        command.make_context(ctx.info_name, list(words), parent=ctx.parent)
    except click_errors.NoArgsIsHelpError:
        assert hasattr(command, "get_command")  # `smsp sandbox serve`'s group, on its own
    except click_errors.UsageError as error:
        pytest.fail(f"{command_line}: {error.format_message()}")


@pytest.mark.parametrize("path", [p for p in PATHS if p], ids=_typed)
def test_help_command_writes_the_page_dash_dash_help_writes(path: tuple[str, ...]) -> None:
    asked = smsp("help", *path)
    assert asked.exit_code == 0, asked.stderr
    assert asked.stdout == smsp(*path, "--help").stdout
    assert asked.stderr == ""


def test_help_alone_is_the_root_page() -> None:
    assert smsp("help").stdout == smsp("--help").stdout
    assert smsp("help").stdout.startswith("Usage: smsp [OPTIONS] COMMAND [ARGS]...\n")


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("nosuch",), "smsp: error: no such command 'smsp nosuch' (run 'smsp help' for the "
                      "list)\n"),
        (("sandbox", "nosuch"), "smsp: error: no such command 'smsp sandbox nosuch' (run "
                                "'smsp help sandbox' for the list)\n"),
        (("get", "nosuch"), "smsp: error: 'smsp get' has no command 'nosuch' (run "
                            "'smsp help get')\n"),
    ],
)
def test_an_unknown_command_is_a_usage_error_naming_the_list(
    args: tuple[str, ...], line: str
) -> None:
    run = smsp("help", *args)
    assert run.exit_code == 2
    assert run.stdout == ""
    assert run.stderr == line + "Try 'smsp help -h' for help.\n"
