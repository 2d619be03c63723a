"""A plain lookup command line is read without Typer into what Typer would give the command,
and anything else is left to Typer."""

from __future__ import annotations

from typing import Any

import pytest
import typer.main

from smsp_cli.cli import plainargs
from smsp_cli.cli.settingflags import ConnectionOptions, OutputOptions
from smsp_cli.output.formats import OutputFormat


def _typer_command(name: str) -> Any:
    from smsp_cli.cli.main import app

    return typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(plainargs.LOOKUPS))
def test_the_tables_are_the_lookups_own_declarations(name: str) -> None:
    values, switches, counts, required, arguments = {}, {}, {}, set(), []
    for param in _typer_command(name).params:
        if param.param_type_name == "argument":
            arguments.append(param.name)
        elif param.count:
            counts.update(dict.fromkeys(param.opts, param.name))
        elif param.is_flag:
            switches.update(dict.fromkeys(param.opts, (param.name, True)))
            switches.update(dict.fromkeys(param.secondary_opts, (param.name, False)))
        else:
            values.update(dict.fromkeys(param.opts, param.name))
        if param.required:
            required.add(param.name)
    lookup = plainargs.LOOKUPS[name]
    assert values == {**lookup.options, **plainargs.CONNECTION_VALUES, **plainargs.OUTPUT_VALUES}
    assert switches == plainargs.SWITCHES
    assert counts == dict.fromkeys(plainargs.VERBOSE, "verbose")
    assert required == {*lookup.required, *lookup.arguments}
    assert arguments == list(lookup.arguments)


def test_a_plain_lookup_is_read_into_the_commands_bundles() -> None:
    plain = plainargs.read([
        "get", "--dob=1984-03-14", "943 476 5919", "--api", "fhir", "-o", "table", "--json",
        "-v", "--verbose", "--no-input", "--no-soap-action-quoted", "--from", "urn:x",
        "--trace-file", "t.txt", "--local-id", "1.2:77",
    ])
    assert plain is not None
    assert plain.command == "get"
    assert plain.fields == {"dob": "1984-03-14", "nhs_number": "943 476 5919",
                            "local_id": "1.2:77"}
    assert plain.conn == ConnectionOptions(api="fhir", no_input=True, soap_action_quoted=False,
                                           sender_address="urn:x")
    assert plain.out == OutputOptions(output=OutputFormat.json, verbose=2, trace_file="t.txt")
    assert plain.wants_json


def test_the_table_is_the_default_output() -> None:
    plain = plainargs.read(["search", "--family", "Smith", "--dob", "1984", "--gender", "f",
                            "--dry-run"])
    assert plain is not None
    assert plain.out == OutputOptions(output=OutputFormat.table, dry_run=True)
    assert not plain.wants_json


@pytest.mark.parametrize("args", [
    ["get", "9991000003", "--dob", "1984-03-14", "-h"],  # help
    ["get", "9991000003", "--dob", "1984-03-14", "--gender", "f"],  # not get's own option
    ["get", "9991000003", "--dob", "1984-03-14", "--dob", "1984-03-15"],  # repeated
    ["get", "9991000003", "--dob", "1984-03-14", "--json", "--json"],
    ["get", "9991000003", "--dob"],  # no value
    ["get", "9991000003", "--dob="],
    ["get", "9991000003", "--dob", "--json"],  # a value that starts with "-"
    ["get", "9991000003", "--family", "-x", "--dob", "1984-03-14"],
    ["get", "--", "9991000003", "--dob", "1984-03-14"],
    ["get", "9991000003", "--dob", "1984-03-14", "-vv"],  # short options run together
    ["get", "9991000003", "--dob", "1984-03-14", "-ojson"],
    ["get", "9991000003", "--dob", "1984-03-14", "-o=json"],
    ["get", "9991000003", "--dob", "1984-03-14", "-o", "JSON"],  # Typer folds the case
    ["get", "9991000003", "--dob", "1984-03-14", "-o", "csv"],  # not a format
    ["get", "9991000003", "--dob", "1984-03-14", "--json=yes"],
    ["get", "9991000003"],  # a required option left out
    ["get", "--dob", "1984-03-14"],  # the argument left out
    ["get", "9991000003", "9434765919", "--dob", "1984-03-14"],  # an extra argument
    ["search", "--family", "Smith", "--dob", "1984"],
    ["batch", "get", "rows.csv"],  # not a lookup
    [],
])
def test_anything_not_plain_is_left_to_typer(args: list[str]) -> None:
    assert plainargs.read(args) is None
