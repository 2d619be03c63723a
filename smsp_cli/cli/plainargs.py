"""A lookup's command line read without Typer, when it is a plain one.

A script runs ``smsp get 9434765919 --dob 1984-03-14 --json`` in a loop; importing Typer and
building the command from its declarations costs such a call about a fifth of its time. A
command line made only of the lookup's own options, each spelt out in full once, its value
in the next word or after ``=`` (and ``-o FORMAT``, ``-v``), is read here into the same
bundles the Typer command gets, and the lookup runs exactly as it would there.

Anything else goes to Typer, which explains it: help, an unknown or repeated option, a missing
value or a required option left out, a value that starts with ``-``, ``--``, short options run
together (``-vv``), an output format it would have to fold the case of. So this reader never
reports an error: it only says "plain" (and what was given) or "not mine". It reads the
flags off the one table Typer's options are built from too (:mod:`smsp_cli.cli.flagtable`), so
a flag added there is read here as well; a test holds what it reads equal to what Typer builds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from smsp_cli.cli.flagtable import (
    CONNECTION_FLAGS,
    COUNT,
    LOOKUP_FIELDS,
    OUTPUT_FLAGS,
    SWITCH,
    VALUE,
    Field,
)
from smsp_cli.cli.settingflags import ConnectionOptions, OutputOptions
from smsp_cli.output.formats import OutputFormat

# The tables below are read off the flag table (cli/flagtable), as Typer's options are.
_FLAGS = (*CONNECTION_FLAGS, *OUTPUT_FLAGS)
# Options that take one value: the flag, and the parameter of ConnectionOptions it sets...
CONNECTION_VALUES = {spelling: flag.name for flag in CONNECTION_FLAGS if flag.kind == VALUE
                     for spelling in flag.spellings}
# ... or of OutputOptions.
OUTPUT_VALUES = {spelling: flag.name for flag in OUTPUT_FLAGS if flag.kind == VALUE
                 for spelling in flag.spellings}
# Switches: the flag, its parameter and the value it gives.
SWITCHES = {
    **{spelling: (flag.name, True) for flag in _FLAGS if flag.kind == SWITCH
       for spelling in flag.spellings},
    **{flag.off: (flag.name, False) for flag in _FLAGS if flag.kind == SWITCH and flag.off},
}
_OUTPUT_SWITCHES = frozenset(flag.name for flag in OUTPUT_FLAGS if flag.kind == SWITCH)
VERBOSE = next(flag.spellings for flag in OUTPUT_FLAGS if flag.kind == COUNT)


class Lookup:
    """One lookup command's own options, arguments and which of them are required."""

    __slots__ = ("arguments", "options", "required")

    def __init__(self, fields: tuple[Field, ...]) -> None:
        self.options = {field.flag: field.name for field in fields if field.flag}
        self.required = frozenset(field.name for field in fields
                                  if field.flag and field.required)
        # parameter names of the positional arguments
        self.arguments = tuple(field.name for field in fields if not field.flag)


LOOKUPS = {command: Lookup(fields) for command, fields in LOOKUP_FIELDS.items()}
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
            (shown if name in _OUTPUT_SWITCHES else connection)[name] = value
            continue
        flag, equals, given = word.partition("=")
        if not equals:
            given = next(words, "")
        if not given or given.startswith("-") or (equals and not flag.startswith("--")):
            return None  # a missing value, or one Typer would read otherwise (-o=json: "=json")
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
