"""Where the embedded sandbox keeps its throwaway certificates and keys."""

from __future__ import annotations

from pathlib import Path

from smsp_cli.system.files import data_dir

# The sandbox set's file names, and its CA's name (read here by provenance without the weight
# of smsp_cli.sandbox.certs and cryptography).
CA_CN = "smsp sandbox CA (throwaway)"
CA_CERT_FILE = "ca.pem"
SERVER_CERT_FILE = "server.pem"


def sandbox_dir() -> Path:
    """``sandbox/`` in smsp's data directory (``$SMSP_DATA_DIR`` moves it)."""
    return data_dir() / "sandbox"
