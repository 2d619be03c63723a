"""Where the embedded sandbox keeps its throwaway certificates and keys."""

from __future__ import annotations

import os
from pathlib import Path

# One documented variable moves every file smsp writes, so tests and CI never touch the
# user's real data directory (architecture: inject rather than patch).
DATA_DIR_VARIABLE = "SMSP_DATA_DIR"


def sandbox_dir() -> Path:
    """``$SMSP_DATA_DIR/sandbox`` when that is set, else the platform's user data dir for smsp."""
    override = os.environ.get(DATA_DIR_VARIABLE, "").strip()
    if override:
        return Path(override).expanduser() / "sandbox"
    import platformdirs  # only needed when no override is given

    return Path(platformdirs.user_data_dir("smsp")) / "sandbox"
