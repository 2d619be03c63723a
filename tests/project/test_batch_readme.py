"""The README's Batch section names every batch flag and setting the command has."""

from __future__ import annotations

import re
from pathlib import Path

from tests.lib.cli import smsp

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_batch_flag_and_setting_is_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    section = re.search(r"^## Batch\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert section, "README has no '## Batch' section"
    help_text = smsp("batch", "--help").stdout
    panel = help_text[help_text.index("Batch"):help_text.index("Connection")]
    flags = set(re.findall(r"--[a-z-]+", panel))
    assert flags == {"--format", "--column", "--out", "--resume", "--skip-row", "--concurrency",
                     "--rate-limit"}
    for flag in flags:
        assert f"`{flag}" in section.group(1), flag
    for variable in ("SMSP_CONCURRENCY", "SMSP_RATE_LIMIT"):
        assert f"`{variable}`" in text
