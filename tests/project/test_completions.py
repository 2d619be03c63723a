"""Shell completion scripts in completions/ are current and actually complete commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

COMPLETIONS = Path(__file__).resolve().parents[2] / "completions"


@pytest.mark.parametrize(
    ("shell", "name"), [("bash", "smsp.bash"), ("zsh", "_smsp"), ("fish", "smsp.fish")]
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
