"""The README is part of the contract: its exit-code table must match the code."""

from __future__ import annotations

import re
from pathlib import Path

from smsp_cli.errors import EXIT_CODE_MEANINGS

README = Path(__file__).resolve().parents[1] / "README.md"


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def test_readme_exit_code_table_matches_the_code() -> None:
    rows = re.findall(r"^\| (\d+) \| (.+?) \|$", _section("Exit codes"), re.M)
    documented = {int(code): meaning for code, meaning in rows}
    assert documented == {int(code): meaning for code, meaning in EXIT_CODE_MEANINGS.items()}


def test_readme_lists_every_lookup_command() -> None:
    from smsp_cli import operations

    commands = _section("Commands")
    for op in operations.ALL:
        assert f"`smsp {op.command} " in commands
        assert op.name in commands


def test_readme_opens_with_the_two_setup_commands() -> None:
    start = _section("Start here (Python 3.11)")
    blocks = re.findall(r"```sh\n(.*?)\n```", start, re.S)
    assert len(blocks) == 2
    assert "--profile sandbox" in blocks[0]
    assert "pytest" in blocks[1]
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert blocks[1] in ci, ".ci/run must run the README's test command verbatim"


def test_readme_describes_the_audit_trail() -> None:
    from smsp_cli.audit.paths import CURRENT_NAME

    section = _section("Audit trail")
    for needed in (CURRENT_NAME, "SMSP_DATA_DIR", "smsp audit search", "smsp audit verify",
                   "smsp audit path", "audit_syslog", "Never recorded", "audit_max_bytes"):
        assert needed in section, needed
    for flag in ("--nhs-number", "--message-id", "--user", "--since", "--until",
                 "--environment"):
        assert flag in section, flag
    assert "access.jsonl` in your data directory" not in README.read_text(encoding="utf-8")
