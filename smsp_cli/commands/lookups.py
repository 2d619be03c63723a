"""The five SMSP PDS lookups, one command per operation."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any

import typer

from smsp_cli.cli.completion import gender_words
from smsp_cli.cli.options import ConnectionOptions, OutputOptions, lookup_options
from smsp_cli.commands.lookupcall import run_fields
from smsp_cli.domain import operations
from smsp_cli.domain.operations import Operation

PATIENT_PANEL = "Patient"

NhsNumberArg = Annotated[
    str,
    typer.Argument(
        metavar="NHS_NUMBER",
        help="10 digits: 9434765919, 943 476 5919 or 943-476-5919.",
        show_default=False,
    ),
]
NhsNumberOpt = Annotated[
    str | None,
    typer.Option(
        "--nhs-number",
        metavar="NHS_NUMBER",
        help="NHS number, to verify and retrieve.",
        rich_help_panel=PATIENT_PANEL,
    ),
]
FullDobOpt = Annotated[
    str,
    typer.Option(
        "--dob",
        metavar="DATE",
        help="Date of birth: YYYY-MM-DD, YYYYMMDD or DD/MM/YYYY.",
        rich_help_panel=PATIENT_PANEL,
        show_default=False,
    ),
]
AnyDobOpt = Annotated[
    str,
    typer.Option(
        "--dob",
        metavar="DATE",
        help="Date of birth: YYYY-MM-DD, YYYYMMDD, DD/MM/YYYY, YYYY-MM, YYYYMM or YYYY.",
        rich_help_panel=PATIENT_PANEL,
        show_default=False,
    ),
]
FamilyOpt = Annotated[
    str | None,
    typer.Option(
        "--family", metavar="NAME", help="Family name (surname).", rich_help_panel=PATIENT_PANEL
    ),
]
RequiredFamilyOpt = Annotated[
    str,
    typer.Option(
        "--family",
        metavar="NAME",
        help="Family name; '*' after 2+ characters is a wildcard.",
        rich_help_panel=PATIENT_PANEL,
        show_default=False,
    ),
]
GivenOpt = Annotated[
    str | None,
    typer.Option(
        "--given", metavar="NAME", help="Given name (forename).", rich_help_panel=PATIENT_PANEL
    ),
]
GenderOpt = Annotated[
    str | None,
    typer.Option(
        "--gender",
        metavar="GENDER",
        help="male|female|not-known|not-specified, m|f, or 0|1|2|9.",
        rich_help_panel=PATIENT_PANEL,
        autocompletion=gender_words,
    ),
]
RequiredGenderOpt = Annotated[
    str,
    typer.Option(
        "--gender",
        metavar="GENDER",
        help="male|female|not-known|not-specified, m|f, or 0|1|2|9.",
        rich_help_panel=PATIENT_PANEL,
        show_default=False,
        autocompletion=gender_words,
    ),
]
PostcodeOpt = Annotated[
    str | None,
    typer.Option(
        "--postcode",
        metavar="POSTCODE",
        help="Postcode, e.g. 'LS17 7TR' (the space may be left out).",
        rich_help_panel=PATIENT_PANEL,
    ),
]
LocalIdOpt = Annotated[
    str | None,
    typer.Option(
        "--local-id",
        metavar="[OID:]ID",
        help="Your local patient id, echoed back in the reply.",
        rich_help_panel=PATIENT_PANEL,
    ),
]


def lookup(operation: Operation) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Make a command of a declaration whose parameters are the patient fields it takes.

    The declaration's parameter names are build_query's, so a command is its signature and its
    help text; validation, sending and rendering are the same for all five.
    """

    def decorate(declaration: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(declaration)
        def command(*, conn: ConnectionOptions, out: OutputOptions, **fields: Any) -> None:
            code = run_fields(operation, fields, conn, out)
            if code:
                raise typer.Exit(code)

        return lookup_options(command)

    return decorate


@lookup(operations.VERIFY)
def verify(
    nhs_number: NhsNumberArg, dob: FullDobOpt, family: FamilyOpt = None, given: GivenOpt = None
) -> None:
    """Verify an NHS number against a date of birth (verifyNHSNumber)."""


@lookup(operations.GET)
def get(
    nhs_number: NhsNumberArg,
    dob: FullDobOpt,
    family: FamilyOpt = None,
    given: GivenOpt = None,
    local_id: LocalIdOpt = None,
) -> None:
    """Get details by NHS number and date of birth (getPatientDetailsByNHSNumber)."""


@lookup(operations.SEARCH)
def search(
    family: RequiredFamilyOpt,
    dob: FullDobOpt,
    gender: RequiredGenderOpt,
    given: GivenOpt = None,
    postcode: PostcodeOpt = None,
    local_id: LocalIdOpt = None,
) -> None:
    """Find a patient's details by demographics (getPatientDetailsBySearch)."""


@lookup(operations.TRACE)
def trace(
    family: RequiredFamilyOpt,
    dob: AnyDobOpt,
    gender: RequiredGenderOpt,
    given: GivenOpt = None,
    postcode: PostcodeOpt = None,
    local_id: LocalIdOpt = None,
) -> None:
    """Trace a patient's NHS number from demographics (getNHSNumber)."""


@lookup(operations.DETAILS)
def details(
    dob: FullDobOpt,
    nhs_number: NhsNumberOpt = None,
    family: FamilyOpt = None,
    given: GivenOpt = None,
    gender: GenderOpt = None,
    postcode: PostcodeOpt = None,
    local_id: LocalIdOpt = None,
) -> None:
    """Get details by NHS number, or by family, given and gender (getPatientDetails)."""
