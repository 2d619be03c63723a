"""A lookup's command line read without Typer, when it is a plain one.

A script runs ``smsp get 9434765919 --dob 1984-03-14 --json`` in a loop; importing Typer and
building the command from its declarations costs such a call about a fifth of its time. A
command line made only of the lookup's own options, each spelt out in full once, its value
in the next word or after ``=`` (and ``-o FORMAT``, ``-v``), is read here into the same
bundles the Typer command gets, and the lookup runs exactly as it would there.

Anything else goes to Typer, which explains it: help, an unknown or repeated option, a missing
value or a required option left out, a value that starts with ``-``, ``--``, short options run
together (``-vv``), an output format it would have to fold the case of. So this reader never
reports an error: it only says "plain" (and what was given) or "not mine". The tables below
are the lookups' declarations in :mod:`smsp_cli.commands.lookups` and
:mod:`smsp_cli.cli.options`; a test holds them equal to what Typer builds from those.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from smsp_cli.cli.settingflags import ConnectionOptions, OutputOptions
from smsp_cli.output.formats import OutputFormat

# Options that take one value: the flag, and the parameter of ConnectionOptions it sets.
CONNECTION_VALUES = {
    "--profile": "profile",
    "--endpoint": "endpoint",
    "--cert": "cert",
    "--key": "key",
    "--ca-bundle": "ca_bundle",
    "--audit-id": "audit_id",
    "--username": "username",
    "--timeout": "timeout",
    "--api": "api",
    "--signing-key": "signing_key",
    "--signing-key-id": "signing_key_id",
    "--passphrase-file": "passphrase_file",
    "--kind": "kind",
    "--from": "sender_address",
    "--connect-timeout": "connect_timeout",
    "--read-timeout": "read_timeout",
    "--min-tls-version": "min_tls_version",
    "--max-attempts": "max_attempts",
    "--retry-backoff": "retry_backoff",
    "--token-url": "token_url",
    "--ods-code": "ods_code",
}
# Switches: the flag, its parameter and the value it gives.
SWITCHES = {
    "--no-input": ("no_input", True),
    "--soap-action-quoted": ("soap_action_quoted", True),
    "--no-soap-action-quoted": ("soap_action_quoted", False),
    "--json": ("as_json", True),
    "--dry-run": ("dry_run", True),
    "--reveal": ("reveal", True),
}
OUTPUT_VALUES = {"--output": "output", "-o": "output", "--trace-file": "trace_file"}
VERBOSE = ("--verbose", "-v")

# Each lookup's own options (flag: parameter), which of them are required, and its arguments.
_FIELDS = {
    "--nhs-number": "nhs_number",
    "--dob": "dob",
    "--family": "family",
    "--given": "given",
    "--gender": "gender",
    "--postcode": "postcode",
    "--local-id": "local_id",
}


class Lookup:
    """One lookup command's own options, as its declaration in commands/lookups has them."""

    __slots__ = ("arguments", "options", "required")

    def __init__(self, options: Sequence[str], required: Sequence[str],
                 arguments: Sequence[str] = ()) -> None:
        self.options = {flag: _FIELDS[flag] for flag in options}
        self.required = frozenset(_FIELDS[flag] for flag in required)
        self.arguments = tuple(arguments)  # parameter names of the positional arguments


_DEMOGRAPHICS = ("--family", "--dob", "--gender", "--given", "--postcode", "--local-id")
LOOKUPS = {
    "verify": Lookup(("--dob", "--family", "--given"), ("--dob",), ("nhs_number",)),
    "get": Lookup(("--dob", "--family", "--given", "--local-id"), ("--dob",), ("nhs_number",)),
    "search": Lookup(_DEMOGRAPHICS, ("--family", "--dob", "--gender")),
    "trace": Lookup(_DEMOGRAPHICS, ("--family", "--dob", "--gender")),
    "details": Lookup(("--dob", "--nhs-number", "--family", "--given", "--gender", "--postcode",
                       "--local-id"), ("--dob",)),
}
_FORMATS = {member.value: member for member in OutputFormat}


class PlainLookup:
    """A plain lookup command line, read: the command, its patient fields and the bundles."""

    __slots__ = ("command", "conn", "fields", "out")

    def __init__(self, command: str, fields: dict[str, Any], conn: ConnectionOptions,
                 out: OutputOptions) -> None:
        self.command = command
        self.fields = fields
        self.conn = conn
        self.out = out

    @property
    def wants_json(self) -> bool:
        """Whether errors are JSON too (``--json`` or ``-o json``)."""
        return self.out.output is OutputFormat.json


def read(args: Sequence[str]) -> PlainLookup | None:
    """``args`` (the command name first) read as Typer would, or None when not plain."""
    if not args or args[0] not in LOOKUPS:
        return None
    lookup = LOOKUPS[args[0]]
    fields: dict[str, Any] = {}
    connection: dict[str, Any] = {}
    shown: dict[str, Any] = {}
    positional: list[str] = []
    verbose = 0
    words = iter(args[1:])
    for word in words:
        if not word.startswith("-"):
            positional.append(word)
            continue
        if word in VERBOSE:
            verbose += 1
            continue
        if word in SWITCHES:
            name, value = SWITCHES[word]
            if name in connection or name in shown:
                return None  # given twice, or both ways: Typer's to explain
            (shown if name in ("as_json", "dry_run", "reveal") else connection)[name] = value
            continue
        flag, equals, given = word.partition("=")
        if not equals:
            given = next(words, "")
        if not given or given.startswith("-") or (equals and flag == "-o"):
            return None  # a missing value, or one Typer would read otherwise
        if flag in lookup.options:
            target, name = fields, lookup.options[flag]
        elif flag in CONNECTION_VALUES:
            target, name = connection, CONNECTION_VALUES[flag]
        elif flag in OUTPUT_VALUES:
            target, name = shown, OUTPUT_VALUES[flag]
        else:
            return None  # unknown (or help): Typer says what it is
        if name in target:
            return None  # repeated: Typer refuses it and says why
        target[name] = given
    if len(positional) != len(lookup.arguments) or not lookup.required <= fields.keys():
        return None
    fields.update(zip(lookup.arguments, positional, strict=True))
    output = _FORMATS.get(str(shown.get("output", OutputFormat.table.value)))
    if output is None:
        return None
    out = OutputOptions(
        output=OutputFormat.json if shown.get("as_json") else output,
        dry_run=bool(shown.get("dry_run", False)),
        verbose=verbose,
        trace_file=str(shown["trace_file"]) if "trace_file" in shown else None,
        reveal=bool(shown.get("reveal", False)),
    )
    return PlainLookup(args[0], fields, ConnectionOptions(**connection), out)
