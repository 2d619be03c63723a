"""Only the command line writes to stdout and stderr: the code below it returns, raises or reports.

A loose key file, a passphrase asked for, trouble with the audit trail: the code that finds it
reports a :class:`smsp_cli.domain.notices.Notice`, and the command line shows it. This test reads
every module below the command line (imports inside functions count) and fails on a ``print``,
on ``sys.stdout``/``sys.stderr``, or on the stream helpers that write.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "smsp_cli"
# The command line and its renderers write; system/streams is the helper they write with.
# batch/ is its command's output as it goes: it writes each row, and its notes on the input, itself.
WRITERS = ("cli", "commands", "output", "batch", "system/streams.py", "__main__.py")
WRITING_HELPERS = {"note", "silence_stdout", "stderr_console", "stdout_console"}


def _writes(path: Path) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        where = f"{path.relative_to(PACKAGE.parent)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and (
            node.func.id == "print"
        ):
            found.append(f"{where} print()")
        elif (isinstance(node, ast.Attribute) and node.attr in ("stdout", "stderr")
              and isinstance(node.value, ast.Name) and node.value.id == "sys"):
            found.append(f"{where} sys.{node.attr}")
        elif isinstance(node, ast.ImportFrom):
            used = {alias.name for alias in node.names} & WRITING_HELPERS
            found.extend(f"{where} imports {name}" for name in sorted(used))
    return found


def test_nothing_below_the_command_line_writes_a_stream() -> None:
    below = [
        path for path in sorted(PACKAGE.rglob("*.py"))
        if not str(path.relative_to(PACKAGE)).startswith(WRITERS)
    ]
    assert len(below) > 80  # the scan found the package
    assert [line for path in below for line in _writes(path)] == []
