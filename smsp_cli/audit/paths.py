"""Where the audit trail lives: one directory holding the current file, the rotated files, the
checkpoint, the lock and any torn line set aside.

The directory is ``$SMSP_DATA_DIR/audit`` when that variable is set (tests and CI never touch the
user's real data), else ``audit`` in the platform's user data directory. The current file is
``audit.jsonl``; when it reaches ``audit_max_bytes`` it becomes ``audit.000001.jsonl``, then
``audit.000002.jsonl`` and so on, oldest first, and the hash chain runs on across them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from smsp_cli.system.files import data_dir

DIRECTORY_NAME = "audit"
CURRENT_NAME = "audit.jsonl"
CHECKPOINT_NAME = "checkpoint.json"
LOCK_NAME = "audit.lock"
TORN_SUFFIX = ".torn"
# The record of calls before the audit trail existed; left where it is, never written again.
LEGACY_ACCESS_RECORD = "access.jsonl"

_ROTATED = re.compile(r"^audit\.(\d{6,})\.jsonl$")


def trail_dir() -> Path:
    """The directory that holds the audit trail."""
    return data_dir() / DIRECTORY_NAME


def legacy_access_record() -> Path:
    """Where the old ``access.jsonl`` record would be."""
    return data_dir() / LEGACY_ACCESS_RECORD


def rotated_name(number: int) -> str:
    """The file name of rotated file ``number`` (1 is the oldest)."""
    return f"audit.{number:06d}.jsonl"


def rotated_files(directory: Path) -> list[tuple[int, Path]]:
    """The rotated files in ``directory`` with their numbers, oldest first."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        match = _ROTATED.match(name)
        if match:
            found.append((int(match.group(1)), directory / name))
    return sorted(found)


def trail_files(directory: Path) -> list[Path]:
    """Every file of the trail in chain order: the rotated files oldest first, then the current."""
    files = [path for _, path in rotated_files(directory)]
    current = directory / CURRENT_NAME
    if current.exists():
        files.append(current)
    return files
