"""A clone of the project alone, with no reference pack beside it, still passes its tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def test_without_the_reference_pack_tests_skip_saying_where_it_comes_from(
    tmp_path: Path,
) -> None:
    env = os.environ | {"SMSP_TEST_REFERENCE": str(tmp_path / "absent")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0",
         "tests/functional/test_e2e_opentest.py", "tests/unit/service/test_service.py"],
        cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert " failed" not in done.stdout
    assert "skipped" in done.stdout
    assert "../shared/reference/smsp (see its SOURCES.md)" in done.stdout
    assert "got empty parameter set" not in done.stdout
