"""Where the embedded sandbox keeps its throwaway certificates and keys."""

from __future__ import annotations

from pathlib import Path

from smsp_cli.system.files import data_dir


def sandbox_dir() -> Path:
    """``sandbox/`` in smsp's data directory (``$SMSP_DATA_DIR`` moves it)."""
    return data_dir() / "sandbox"
