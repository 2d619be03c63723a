"""Shell completion scripts in completions/ are current and actually complete commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

COMPLETIONS = Path(__file__).resolve().parents[2] / "completions"


@pytest.mark.parametrize(
    ("shell", "name"),
    [("bash", "smsp.bash"), ("zsh", "_smsp"), ("fish", "smsp.fish"), ("powershell", "smsp.ps1")],
)
def test_completion_script_is_current(shell: str, name: str) -> None:
    from typer._completion_shared import get_completion_script

    expected = get_completion_script(prog_name="smsp", complete_var="_SMSP_COMPLETE", shell=shell)
    assert (COMPLETIONS / name).read_text() == expected


def test_bash_completion_offers_the_lookup_commands() -> None:
    env = os.environ | {"_SMSP_COMPLETE": "complete_bash", "COMP_WORDS": "smsp ", "COMP_CWORD": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "smsp_cli"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    offered = set(done.stdout.split())
    assert {"verify", "get", "search", "trace", "details", "sandbox"} <= offered


def _powershell_offers(command_line: str, word: str) -> dict[str, str]:
    # What smsp.ps1's script block sets before it runs smsp, and how it splits each line.
    env = os.environ | {
        "_SMSP_COMPLETE": "complete_powershell",
        "_TYPER_COMPLETE_ARGS": command_line,
        "_TYPER_COMPLETE_WORD_TO_COMPLETE": word,
    }
    done = subprocess.run(
        [sys.executable, "-m", "smsp_cli"], env=env, capture_output=True, text=True, timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(line.split(":::", 1) for line in done.stdout.splitlines() if line)


def test_powershell_completion_offers_commands_with_their_help() -> None:
    offered = _powershell_offers("smsp ge", "ge")
    assert list(offered) == ["get"]
    assert offered["get"].startswith("Get details by NHS number")


def test_powershell_completion_offers_the_gender_words() -> None:
    offered = _powershell_offers("smsp search --gender ", "")
    assert list(offered) == ["male", "female", "not-known", "not-specified"]
