"""Start-up stays light: nothing is imported before the command that needs it runs.

Each test runs the real entry point (``smsp_cli.cli.main.main`` with ``argv[0]`` = ``smsp``, as the
console script does) in a fresh interpreter and reads back which modules it had loaded, and
whether the garbage collector was on, when it exited.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# The network, XML and crypto stacks, the keyring, the platform directories, rich's tables and
# pydantic (which typer 0.29 would bring in to coerce every parameter).
HEAVY = ("httpx", "lxml", "cryptography", "keyring", "platformdirs", "rich.table", "pydantic")
# Modules of the commands a lookup never runs, and the parts only they use.
OTHER_COMMANDS = (
    "smsp_cli.commands.doctor",
    "smsp_cli.commands.sandbox",
    "smsp_cli.commands.config",
    "smsp_cli.commands.auth",
    "smsp_cli.commands.audit",
    "smsp_cli.commands.batch",
    "smsp_cli.diagnose",
    "smsp_cli.batch",
    "smsp_cli.audit.search",
    "smsp_cli.audit.verify",
)
SANDBOX = ("smsp_cli.sandbox.server", "smsp_cli.sandbox.embedded", "smsp_cli.sandbox.certs")

_PROBE = """
import atexit, gc, json, os, sys
report = os.environ["MODULES_REPORT"]
atexit.register(
    lambda: open(report, "w").write(
        json.dumps({"modules": sorted(sys.modules), "collecting": gc.isenabled()})
    )
)
sys.argv = ["smsp", *sys.argv[1:]]
from smsp_cli.cli.main import main
main()
"""


def probe(tmp_path: Path, *args: str) -> dict[str, Any]:
    """``smsp ARGS`` run as the console script: exit ``code``, ``modules`` and ``collecting``."""
    report = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=os.environ | {"MODULES_REPORT": str(report)},
    )
    return json.loads(report.read_text()) | {"code": done.returncode, "stderr": done.stderr}


def loaded_after(tmp_path: Path, *args: str) -> tuple[int, set[str]]:
    """Exit code and loaded modules of ``smsp ARGS`` run through the console-script entry."""
    found = probe(tmp_path, *args)
    return found["code"], set(found["modules"])


def present(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """The ``names`` loaded, packages counting when any module of theirs is."""
    return [
        name
        for name in names
        if any(module == name or module.startswith(f"{name}.") for module in modules)
    ]


LOOKUP = ("get", "9991000003", "--dob", "1984-03-14")


def test_importing_the_cli_loads_neither_typer_nor_anything_heavy() -> None:
    code = (
        "import sys, json; import smsp_cli.cli.main; "
        f"print(json.dumps([m for m in {(*HEAVY, 'typer', 'rich')!r} if m in sys.modules]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert json.loads(done.stdout) == []


@pytest.mark.parametrize("args", [("--version",), ("--help",), ("-h",), ("help",), ()])
def test_version_and_root_help_load_no_typer_and_no_command(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    code, modules = loaded_after(tmp_path, *args)
    assert code == (0 if args else 2)
    assert present(modules, (*HEAVY, "typer", "rich", "smsp_cli.commands")) == []


@pytest.mark.parametrize("args", [("get", "-h"), ("help", "get")])
def test_lookup_help_loads_the_lookups_and_nothing_heavy(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    code, modules = loaded_after(tmp_path, *args)
    assert code == 0
    assert "smsp_cli.commands.lookups" in modules
    assert present(modules, (*HEAVY, "rich", "tomllib")) == []
    assert present(modules, (*OTHER_COMMANDS, *SANDBOX)) == []


@pytest.mark.usefixtures("sandbox_env")
def test_a_dry_run_loads_no_network_crypto_renderer_or_other_command(tmp_path: Path) -> None:
    code, modules = loaded_after(tmp_path, *LOOKUP, "--dry-run")
    assert code == 0
    assert "lxml" in modules  # the envelope was built
    assert present(modules, ("httpx", "cryptography", "keyring", "platformdirs", "pydantic")) == []
    assert present(modules, ("rich", "smsp_cli.output.render", "smsp_cli.audit")) == []
    assert present(modules, (*OTHER_COMMANDS, *SANDBOX)) == []
    assert present(modules, ("typer", "smsp_cli.commands.lookups")) == []  # a plain line


@pytest.mark.usefixtures("sandbox_env")
def test_a_json_lookup_loads_what_it_uses_and_nothing_else(tmp_path: Path) -> None:
    code, modules = loaded_after(tmp_path, *LOOKUP, "--json")
    assert code == 0
    # The exchange, the reply, the audit record and the JSON were made...
    assert {"httpx", "lxml", "smsp_cli.audit.trail", "smsp_cli.output.jsonshape"} <= modules
    # ...with plain PEM credentials read by OpenSSL, the data directory from SMSP_DATA_DIR,
    # no trace asked for and nothing drawn on a terminal.
    assert present(modules, ("cryptography", "keyring", "platformdirs", "pydantic")) == []
    assert present(modules, ("rich", "smsp_cli.transport.trace", "smsp_cli.output.tracetext")) == []
    assert present(modules, (*OTHER_COMMANDS, *SANDBOX)) == []
    # A plain command line is read without Typer (smsp_cli.cli.plainargs)...
    assert present(modules, ("typer", "smsp_cli.commands.lookups")) == []


@pytest.mark.usefixtures("sandbox_env")
def test_a_lookup_typer_must_explain_goes_through_typer(tmp_path: Path) -> None:
    # ...and one it cannot read plainly through Typer, which reports it.
    found = probe(tmp_path, *LOOKUP, "--json", "--dob", "1984-03-15")
    assert found["code"] == 2
    assert "--dob may be given only once" in found["stderr"]
    assert {"typer", "smsp_cli.commands.lookups"} <= set(found["modules"])


def test_the_sandbox_profile_loads_the_sandbox_and_no_other_command(tmp_path: Path) -> None:
    code, modules = loaded_after(tmp_path, *LOOKUP, "--json", "--profile", "sandbox")
    assert code == 0
    assert "smsp_cli.sandbox.server" in modules  # the embedded provider, asked for
    assert present(modules, OTHER_COMMANDS) == []


@pytest.mark.usefixtures("sandbox_env")
def test_a_lookup_runs_without_the_collector_and_other_commands_with_it(tmp_path: Path) -> None:
    lookup = probe(tmp_path, *LOOKUP, "--json")
    assert lookup["code"] == 0
    assert lookup["collecting"] is False
    listing = probe(tmp_path, "sandbox", "patients", "--json")
    assert listing["code"] == 0
    assert listing["collecting"] is True  # anything not a lookup keeps collecting
    batch_input = tmp_path / "rows.csv"
    batch_input.write_text("nhs_number,dob\n9991000003,1984-03-14\n")
    batch = probe(tmp_path, "batch", "get", str(batch_input))
    assert batch["code"] == 0, batch["stderr"]
    assert batch["collecting"] is True
