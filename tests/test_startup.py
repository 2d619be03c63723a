"""Start-up stays light: `smsp --help` must not pay for the network, XML or crypto stacks."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("httpx", "lxml", "cryptography", "keyring", "rich.table", "platformdirs")


def test_importing_the_cli_loads_no_heavy_module() -> None:
    code = (
        "import sys, json; import smsp_cli.cli; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert json.loads(done.stdout) == []
