"""The five SMSP PDS lookups, one command per operation."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any

import typer

from smsp_cli.cli.completion import gender_words
from smsp_cli.cli.options import ConnectionOptions, OutputOptions, lookup_options
from smsp_cli.domain import operations
from smsp_cli.domain.models import Query, build_query
from smsp_cli.domain.operations import Operation
from smsp_cli.output.formats import OutputFormat

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
            run(build_query(operation, **fields), conn, out)

        return lookup_options(command)

    return decorate


def run(query: Query, conn: ConnectionOptions, out: OutputOptions) -> None:
    """Send one validated query and show the result; exit with the outcome's code."""
    from smsp_cli import service

    fhir = service.chosen_api(conn.setting_flags()) == "fhir"
    if out.output is OutputFormat.xml and fhir:
        from smsp_cli.domain.errors import UsageError

        # Checked before anything is sent: PDS FHIR has no XML payload to show.
        raise UsageError("-o xml has no meaning for PDS FHIR (its replies are JSON)",
                         hint="use -o json, or the table")
    if out.dry_run and fhir:
        from smsp_cli.output import dryrun

        dryrun.show_http(service.dry_run_fhir(query, conn.setting_flags()))
        return
    if out.dry_run:
        from smsp_cli.output import dryrun

        dryrun.show(*service.dry_run(query, conn.setting_flags()))
        return
    from smsp_cli.output import banner, render

    outcome, settings = service.lookup(
        query,
        conn.setting_flags(),
        verbose=out.verbose,
        trace_file=out.trace_file,
        reveal=out.reveal,
    )
    # Test and sandbox output never passes for live data: the label goes with the result.
    render.emit(outcome, out.output, label=banner.label(outcome.environment, settings.profile))
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)


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
