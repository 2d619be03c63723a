"""Help at 80 columns: every flag and variable name whole, no type noise, plain usage lines."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from smsp_cli.cli.main import app
from tests.lib.cli import smsp


def _command_paths() -> Iterator[tuple[str, ...]]:
    from typer.main import get_command

    root = get_command(app)

    def walk(command: object, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        yield path
        children = getattr(command, "commands", {})
        for name, child in children.items():
            yield from walk(child, (*path, name))

    yield from walk(root, ())


def _params(path: tuple[str, ...]) -> list[object]:
    from typer.main import get_command

    command: object = get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    return list(command.params)  # type: ignore[attr-defined]


PATHS = list(_command_paths())


@pytest.fixture(autouse=True)
def narrow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "smsp")
def test_help_at_80_columns_shows_every_flag_and_variable_whole(path: tuple[str, ...]) -> None:
    run = smsp(*path, "-h")
    assert run.exit_code == 0, run.stderr
    text = run.stdout
    assert max(len(line) for line in text.splitlines()) <= 80
    words = set(text.replace(",", " ").replace("/", " ").split())
    for param in _params(path):
        for flag in (*param.opts, *param.secondary_opts):  # type: ignore[attr-defined]
            if flag.startswith("-"):
                assert flag in words, f"{flag} not whole in {' '.join(path)} -h"
        for variable in re.findall(r"SMSP_[A-Z_]+", param.help or ""):  # type: ignore[attr-defined]
            assert variable in text.replace("(", " ").replace(")", " ").split()
    assert "<bool>" not in text
    assert "<str>" not in text
    assert "<int>" not in text
    assert "…" not in text
    usage = text.splitlines()[0]
    assert usage.startswith(f"Usage: {' '.join(('smsp', *path))} ")
    assert "{" not in usage


def test_usage_line_shows_the_argument_bare() -> None:
    assert smsp("get", "-h").stdout.splitlines()[0] == "Usage: smsp get [OPTIONS] NHS_NUMBER"


def test_help_sections_follow_the_panels() -> None:
    text = smsp("get", "-h").stdout
    order = [text.index(f"\n{title}:\n") for title in
             ("Arguments", "Patient", "Connection", "Provider tuning", "Output", "Options")]
    assert order == sorted(order)


@pytest.mark.parametrize("path", [("get",), ("doctor",)])
def test_cert_help_says_pkcs12_works(path: tuple[str, ...]) -> None:
    text = " ".join(smsp(*path, "-h").stdout.split())
    assert "--cert FILE Client certificate: PEM, or PKCS#12 (.p12/.pfx)." in text


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        (("get",), "-o, --output [table|json|xml]"),
        (("batch",), "--format [csv|jsonl]"),
        (("audit", "search"), "-o, --output [table|json]"),
    ],
)
def test_a_closed_choice_shows_its_values(path: tuple[str, ...], shown: str) -> None:
    run = smsp(*path, "-h")
    assert run.exit_code == 0
    assert shown in run.stdout


# The connection and tuning flags the README's Connection settings list, lookups and doctor alike.
CONNECTION_FLAGS = (
    "--profile", "--endpoint", "--cert", "--key", "--ca-bundle", "--audit-id", "--username",
    "--timeout", "--passphrase-file", "--no-input", "--kind", "--from", "--soap-action-quoted",
    "--connect-timeout", "--read-timeout", "--min-tls-version", "--max-attempts",
    "--retry-backoff",
)


@pytest.mark.parametrize("command", ["get", "doctor", "batch"])
def test_lookups_batch_and_doctor_take_every_connection_flag(command: str) -> None:
    run = smsp(command, "--help")
    assert run.exit_code == 0
    listed = set(re.findall(r"(--[a-z][a-z0-9-]*)", run.stdout))
    assert [flag for flag in CONNECTION_FLAGS if flag not in listed] == []
