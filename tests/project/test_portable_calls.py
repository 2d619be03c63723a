"""No POSIX-only (or Windows-only) call outside the portable layer in smsp_cli/system/ (the
file layer, and the batch's CPU choice, which runs only on Linux)."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "smsp_cli"
LAYER = {"system/safefiles.py", "system/posix_files.py", "system/windows_files.py",
         "system/cpus.py"}
# Calls that exist on one family of systems only, and hard-coded places of one system.
ONE_SYSTEM_ONLY = re.compile(
    r"\bimport fcntl\b|\bfcntl\.|\bimport msvcrt\b|\bmsvcrt\.|O_NOFOLLOW|O_DIRECTORY|\bfchmod\b"
    r"|os\.fchmod|os\.fchown|os\.pread|os\.pwrite|os\.getuid|os\.geteuid|os\.memfd_create"
    r"|os\.MFD_|signal\.SIGPIPE|os\.mkfifo|\"/tmp\b|'/tmp\b|\"/proc\b|'/proc\b|~/\.config"
)


def test_no_system_specific_call_outside_the_file_layer() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name in LAYER:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if ONE_SYSTEM_ONLY.search(line):
                found.append(f"{name}:{number}: {line.strip()}")
    assert found == []


def test_the_pattern_catches_what_it_is_for() -> None:
    for line in ("import fcntl", "os.pread(fd, 1, 0)", "flags | os.O_NOFOLLOW", "'/tmp/x'",
                 "signal.SIGPIPE", "msvcrt.locking(fd, 2, 1)"):
        assert ONE_SYSTEM_ONLY.search(line), line
