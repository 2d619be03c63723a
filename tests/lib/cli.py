"""Drive the real smsp CLI in-process, with stdout and stderr kept apart."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from typer.testing import CliRunner

from smsp_cli.cli.main import app


@dataclass(frozen=True)
class Run:
    """One CLI invocation's exit code and streams."""

    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """stdout parsed as JSON."""
        return json.loads(self.stdout)


def smsp(*args: str) -> Run:
    """Run ``smsp ARGS`` in-process through Typer's test runner."""
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)
