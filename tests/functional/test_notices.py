"""What the code below the command line reports along the way reaches stderr as one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from smsp_cli.audit import records
from smsp_cli.audit.trail import Trail
from tests.lib.cli import smsp

GET = ("get", "9991000003", "--dob", "1984-03-14", "--json")


@pytest.mark.usefixtures("sandbox_env")
def test_a_torn_audit_line_is_told_on_stderr_and_the_lookup_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMSP_DATA_DIR", str(tmp_path / "data"))
    trail_dir = tmp_path / "data" / "audit"
    with Trail(trail_dir) as trail:
        trail.append(records.stamped("sent", {"n": 1}))
    with open(trail_dir / "audit.jsonl", "ab") as handle:
        handle.write(b'{"seq":2,"prev":"ab"')
    run = smsp(*GET)
    assert run.exit_code == 0, run.stderr
    assert run.json()["patient"]["family_name"] == "Fairweather"
    told = [line for line in run.stderr.splitlines() if line.startswith("smsp: audit trail: ")]
    assert len(told) == 1
    assert "set aside in audit.jsonl.torn" in told[0]
