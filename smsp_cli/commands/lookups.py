"""The five SMSP PDS lookups, one command per operation.

Each command's patient fields, like the connection and output flags it takes, are declared in
:mod:`smsp_cli.cli.flagtable`; here they become the command's Typer parameters.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import typer

from smsp_cli.cli.flagtable import LOOKUP_FIELDS
from smsp_cli.cli.options import ConnectionOptions, OutputOptions, field_parameter, lookup_options
from smsp_cli.commands.lookupcall import run_fields
from smsp_cli.domain import operations
from smsp_cli.domain.operations import Operation


def lookup(operation: Operation) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Make a command of a declaration: its name and help text; its patient fields are the
    operation's in the flag table, named as build_query's parameters. Validation, sending and
    rendering are the same for all five.
    """

    def decorate(declaration: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(declaration)
        def command(*, conn: ConnectionOptions, out: OutputOptions, **fields: Any) -> None:
            code = run_fields(operation, fields, conn, out)
            if code:
                raise typer.Exit(code)

        command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [field_parameter(field) for field in LOOKUP_FIELDS[operation.command]]
        )
        return lookup_options(command)

    return decorate


@lookup(operations.VERIFY)
def verify() -> None:
    """Verify an NHS number against a date of birth (verifyNHSNumber)."""


@lookup(operations.GET)
def get() -> None:
    """Get details by NHS number and date of birth (getPatientDetailsByNHSNumber)."""


@lookup(operations.SEARCH)
def search() -> None:
    """Find a patient's details by demographics (getPatientDetailsBySearch)."""


@lookup(operations.TRACE)
def trace() -> None:
    """Trace a patient's NHS number from demographics (getNHSNumber)."""


@lookup(operations.DETAILS)
def details() -> None:
    """Get details by NHS number, or by family, given and gender (getPatientDetails)."""
