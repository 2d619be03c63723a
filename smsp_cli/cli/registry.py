"""The root group's command registry: every command's name, home and line of help.

Known without importing Typer or any command module, so ``smsp --version`` and ``smsp --help``
(:mod:`smsp_cli.cli.roothelp`), the lazy root group (:mod:`smsp_cli.cli.lazygroup`) and the entry
point (:mod:`smsp_cli.cli.main`) all read the same table from one module that imports none of them.

To add a command: write it in ``commands/`` and add one line to :data:`COMMANDS`.
"""

from __future__ import annotations

PROG_NAME = "smsp"
ROOT_HELP = "Look up patients on the NHS Spine Mini Services Provider (SMSP) PDS interface."
VERSION_HELP = "Show the version and exit."
# Typer's shell completion is asked for through this variable (completions/ scripts).
COMPLETE_VARIABLE = "_SMSP_COMPLETE"


class CommandEntry:
    """One command of the root group, known without importing its module."""

    # A plain class, not a dataclass: every start-up builds this table, --version's too.
    __slots__ = ("brief", "help", "name", "target")

    def __init__(self, name: str, target: str, help: str, *, brief: bool = False) -> None:
        self.name = name
        self.target = target  # "module:attribute": a command function or an SmspTyper group
        self.help = help  # its line in `smsp --help`; tests hold it equal to the command's own
        self.brief = brief  # answers within a moment and exits: see smsp_cli.cli.brief

    def __repr__(self) -> str:
        return f"CommandEntry({self.name!r}, {self.target!r})"


COMMANDS: tuple[CommandEntry, ...] = (
    CommandEntry(
        "verify",
        "smsp_cli.commands.lookups:verify",
        "Verify an NHS number against a date of birth (verifyNHSNumber).",
        brief=True,
    ),
    CommandEntry(
        "get",
        "smsp_cli.commands.lookups:get",
        "Get details by NHS number and date of birth (getPatientDetailsByNHSNumber).",
        brief=True,
    ),
    CommandEntry(
        "search",
        "smsp_cli.commands.lookups:search",
        "Find a patient's details by demographics (getPatientDetailsBySearch).",
        brief=True,
    ),
    CommandEntry(
        "trace",
        "smsp_cli.commands.lookups:trace",
        "Trace a patient's NHS number from demographics (getNHSNumber).",
        brief=True,
    ),
    CommandEntry(
        "details",
        "smsp_cli.commands.lookups:details",
        "Get details by NHS number, or by family, given and gender (getPatientDetails).",
        brief=True,
    ),
    CommandEntry(
        "batch",
        "smsp_cli.commands.batch:batch",
        "Look up every row of a CSV or JSON-lines file; one JSON line per row, in input order.",
    ),
    CommandEntry(
        "doctor",
        "smsp_cli.commands.doctor:doctor",
        "Check the connection layer by layer; explain the first failure and what to do next.",
    ),
    CommandEntry(
        "sandbox",
        "smsp_cli.commands.sandbox:app",
        "The embedded sandbox provider: real mutual TLS, synthetic patients.",
    ),
    CommandEntry(
        "config",
        "smsp_cli.commands.config:app",
        "Provider profiles: endpoint, certificates, audit identity and more, set once.",
    ),
    CommandEntry(
        "auth",
        "smsp_cli.commands.auth:app",
        "Keep a profile's key or PKCS#12 passphrase in the system keyring.",
    ),
    CommandEntry(
        "audit",
        "smsp_cli.commands.audit:app",
        "The audit trail: who looked up which patient, when, with which message.",
    ),
    CommandEntry(
        "help",
        "smsp_cli.commands.help:help_command",
        "Show the help of smsp or of a command: smsp help get is smsp get --help.",
    ),
)


BRIEF = frozenset(entry.name for entry in COMMANDS if entry.brief)
"""The commands that answer within a moment and exit (see :mod:`smsp_cli.cli.brief`)."""
# Runs a lookup whose command line smsp_cli.cli.plainargs read without Typer.
PLAIN_LOOKUP = "smsp_cli.commands.lookupcall:run_plain"
