"""Shell completion offers profile names for --profile and the gender words for --gender."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from smsp_cli.cli.main import app
from smsp_cli.settings import config


def _complete(words: str) -> list[str]:
    """What bash completion offers after ``smsp WORDS``, asked of the real CLI in-process."""
    line = f"smsp {words}"
    env = {
        "_SMSP_COMPLETE": "complete_bash",
        "COMP_WORDS": line,
        "COMP_CWORD": str(len(line.split()) - (0 if line.endswith(" ") else 1)),
    }
    done = CliRunner().invoke(app, [], env=env, catch_exceptions=False)
    assert done.exit_code == 0, done.stderr
    return done.stdout.split()


def test_completion_works_the_same_in_a_real_process() -> None:
    env = os.environ | {"_SMSP_COMPLETE": "complete_bash", "COMP_WORDS": "smsp search --gender m",
                        "COMP_CWORD": "3"}
    done = subprocess.run([sys.executable, "-m", "smsp_cli"], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.stdout.split() == ["male"]


@pytest.fixture
def profiles() -> None:
    loaded = config.load()
    for name in ("opentest", "live-trust"):
        loaded = loaded.with_value(name, "kind", "test")
    config.save(loaded)


@pytest.mark.usefixtures("profiles")
@pytest.mark.parametrize("command", ["get 9991000003", "doctor", "config show", "auth status"])
def test_profile_completes_to_the_configured_names_and_sandbox(command: str) -> None:
    assert _complete(f"{command} --profile ") == ["live-trust", "opentest", "sandbox"]
    assert _complete(f"{command} --profile op") == ["opentest"]


@pytest.mark.usefixtures("profiles")
def test_config_use_completes_profile_names() -> None:
    assert _complete("config use ") == ["live-trust", "opentest", "sandbox"]


def test_without_a_config_file_only_the_sandbox_is_offered() -> None:
    assert _complete("get 9991000003 --profile ") == ["sandbox"]


@pytest.mark.parametrize("command", ["search", "trace", "details"])
def test_gender_completes_to_the_accepted_words(command: str) -> None:
    assert _complete(f"{command} --gender ") == ["male", "female", "not-known", "not-specified"]
    assert _complete(f"{command} --gender not") == ["not-known", "not-specified"]


def test_output_still_completes() -> None:
    assert _complete("get 9991000003 -o ") == ["table", "json", "xml"]
