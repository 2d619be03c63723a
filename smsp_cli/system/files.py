"""Where smsp keeps its data, and small file-system helpers shared by what it writes."""

from __future__ import annotations

import os
from pathlib import Path

# One documented variable moves every file smsp writes, so tests and CI never touch the
# user's real data directory (architecture: inject rather than patch).
DATA_DIR_VARIABLE = "SMSP_DATA_DIR"


def data_dir() -> Path:
    """``$SMSP_DATA_DIR`` when set, else the platform's user data directory for smsp."""
    override = os.environ.get(DATA_DIR_VARIABLE, "").strip()
    if override:
        return Path(override).expanduser()
    import platformdirs  # only needed without the override: lookups stay cheap in CI and tests

    return Path(platformdirs.user_data_dir("smsp"))

